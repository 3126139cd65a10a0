import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import { applySettings, collect, SettingsError } from '../../src/cli/settings.ts';
import { tempDir } from '../support/chain.ts';
import { runZi } from '../support/cli.ts';

/** A program shaped like zi's: what the action saw is returned. */
async function parse(argv: string[], env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  let seen: Record<string, unknown> = {};
  const program = new Command('zi').exitOverride().enablePositionalOptions();
  program.hook('preAction', (_p, action) => applySettings(program, action, env));
  program
    .command('node')
    .option('--datadir <dir>')
    .option('--network <name>', '', 'devnet')
    .option('--threads <n>', '', '4')
    .option('--mine', '', false)
    .option('--peer <multiaddr>', '', collect)
    .action((flags) => {
      seen = flags;
    });
  program.command('chain').option('--datadir <dir>').option('--json', '', false);
  await program.parseAsync(['node', 'zi', ...argv]);
  return seen;
}

test('zi.conf < ZI_* environment < flags, per option; sections, booleans and repeatable options', async (t) => {
  const home = await tempDir(t, 'zi-settings-');
  const datadir = join(home, 'devnet');
  await mkdir(datadir);
  await writeFile(
    join(datadir, 'zi.conf'),
    '# a comment\nthreads = 2\nmine=1\npeer=/ip4/10.0.0.1/tcp/1\npeer=/ip4/10.0.0.2/tcp/1\njson=1\n\n[node]\nthreads=3\n',
  );
  const env = { ZI_HOME: home };
  // The [node] section beats the top of the file for `zi node`.
  assert.deepEqual(await parse(['node'], env), {
    network: 'devnet',
    threads: '3',
    mine: true,
    peer: ['/ip4/10.0.0.1/tcp/1', '/ip4/10.0.0.2/tcp/1'],
  });
  assert.deepEqual(await parse(['node'], { ...env, ZI_THREADS: '5', ZI_PEER: '/ip4/10.0.0.9/tcp/1', ZI_MINE: '0' }), {
    network: 'devnet',
    threads: '5',
    mine: false,
    peer: ['/ip4/10.0.0.9/tcp/1'],
  });
  const flags = await parse(['node', '--threads', '6', '--peer', '/ip4/10.0.0.7/tcp/1'], { ...env, ZI_THREADS: '5' });
  assert.equal(flags.threads, '6');
  assert.deepEqual(flags.peer, ['/ip4/10.0.0.7/tcp/1']);
  // Another data dir, named by the environment, has no zi.conf: defaults.
  assert.equal((await parse(['node'], { ...env, ZI_DATADIR: join(home, 'other') })).threads, '4');

  await writeFile(join(datadir, 'zi.conf'), 'threads=2\nmien=1\n');
  await assert.rejects(
    parse(['node'], env),
    (err) => err instanceof SettingsError && /zi\.conf line 2: unknown setting "mien"/.test(err.message),
  );
  await writeFile(join(datadir, 'zi.conf'), 'datadir=/elsewhere\n');
  await assert.rejects(
    parse(['node'], env),
    (err) => err instanceof SettingsError && /cannot be set in zi\.conf/.test(err.message),
  );
  await writeFile(join(datadir, 'zi.conf'), 'mine=perhaps\n');
  await assert.rejects(
    parse(['node'], env),
    (err) => err instanceof SettingsError && /expected 1 or 0/.test(err.message),
  );
});

test('through the real CLI: the wallet file comes from the flag, else ZI_WALLET, else zi.conf', async (t) => {
  const home = await tempDir(t, 'zi-settings-');
  await mkdir(join(home, 'devnet'));
  await writeFile(join(home, 'devnet', 'zi.conf'), `wallet=${join(home, 'from-file.json')}\n`);
  const used = async (args: string[], env: NodeJS.ProcessEnv) => {
    const r = await runZi(['wallet', 'address', ...args], { ZI_HOME: home, ...env });
    assert.equal(r.code, 1);
    return /no keystore at (\S+)/.exec(r.stderr)?.[1];
  };
  assert.equal(await used([], {}), join(home, 'from-file.json'));
  assert.equal(await used([], { ZI_WALLET: join(home, 'from-env.json') }), join(home, 'from-env.json'));
  assert.equal(
    await used(['--wallet', join(home, 'from-flag.json')], { ZI_WALLET: join(home, 'from-env.json') }),
    join(home, 'from-flag.json'),
  );
  await writeFile(join(home, 'devnet', 'zi.conf'), 'wallett=x\n');
  const bad = await runZi(['wallet', 'address'], { ZI_HOME: home });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error \[BAD_CONFIG\]: .*zi\.conf line 1: unknown setting "wallett"/);
});
