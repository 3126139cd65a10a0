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
