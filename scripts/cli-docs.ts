// Writes docs/CLI.md from the CLI's own help texts, so the reference can
// never drift from `zi --help`; test/cli/help.test.ts checks it is current.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.ts';

export function cliReference(): string {
  const out: string[] = [
    '# zi command reference',
    '',
    'Generated from the CLI itself by `node scripts/cli-docs.ts` (run through npm:',
    '`npm run docs:cli`); a test fails when this file and `zi --help` disagree.',
    '',
    'Client commands find their node by `--network`/`--datadir`/`--rpc-port` and',
    "authenticate with the cookie in the node's data directory. Every read command",
    'takes `--json`. Amounts are Zi (`1.5`) or Li (`250li`). Errors print one line,',
    '`error [CODE]: what happened and what to do`, and exit with status 1.',
    '',
    '## Settings: flags, environment, `zi.conf`',
    '',
    'Every option below can also be set in the environment or in the data',
    "directory's config file, like Bitcoin Core's `bitcoin.conf`. A flag beats the",
    'environment, which beats the file, which beats the default:',
    '',
    '- **Environment:** `ZI_` and the option name in capitals, dashes as',
    '  underscores: `--rpc-port` is `ZI_RPC_PORT`, `--max-storage` is',
    '  `ZI_MAX_STORAGE`. Switches take `1`/`0` (`true`/`false`, `yes`/`no`); a',
    '  repeatable option takes several values apart by spaces or commas',
    '  (`ZI_PEER="/ip4/10.0.0.2/tcp/18444 /ip4/10.0.0.3/tcp/18444"`).',
    '- **`<datadir>/zi.conf`** (`~/.zi/devnet/zi.conf` by default): one',
    '  `name=value` per line, the option name without dashes; `#` starts a comment;',
    '  a repeatable option takes one line per value. Lines before any section apply',
    '  to every command that has the option; lines under `[node]`, `[solve]` or',
    '  `[contract post]` apply to that command only and beat the top ones. A name',
    '  that no command has, or a malformed line, is refused with its line number.',
    '  `network` and `datadir` cannot be set there, since they locate the file:',
    '  use the flag or `ZI_NETWORK` / `ZI_DATADIR`.',
    '',
    '```ini',
    '# ~/.zi/devnet/zi.conf',
    'peer=/ip4/10.0.0.2/tcp/18444',
    'peer=/ip4/10.0.0.3/tcp/18444',
    'passphrase-file=/home/zi/.zi/passphrase',
    'max-storage=20GB',
    '',
    '[node]',
    'mine=1',
    'threads=2',
    '',
    '[solve]',
    'min-price=5li',
    '```',
    '',
    'Other variables: `ZI_HOME` (the parent of the per-network data dirs, default',
    '`~/.zi`), `ZI_PASSPHRASE` (the wallet passphrase itself),',
    '`ZI_LOG_FORMAT=json|pretty`, `ZI_LOG_LEVEL=debug|info|warn`, `ZI_DEBUG=1`',
    '(stacks with errors).',
    '',
  ];
  const walk = (cmd: Command, path: string[]) => {
    const name = [...path, cmd.name()].join(' ');
    out.push(`## \`${name}\``, '', '```', cmd.helpInformation().trimEnd(), '```', '');
    for (const sub of cmd.commands) if (sub.name() !== 'help') walk(sub, [...path, cmd.name()]);
  };
  walk(buildProgram(), []);
  return out.join('\n');
}

if (import.meta.main) {
  writeFileSync(join(import.meta.dirname, '..', 'docs', 'CLI.md'), cliReference());
}
