import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliReference } from '../../scripts/cli-docs.ts';
import { runZi } from '../support/cli.ts';

test('docs/CLI.md is the CLI help, current (regenerate with npm run docs:cli)', async () => {
  const doc = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'CLI.md'), 'utf8');
  assert.equal(doc, cliReference());
});

test('zi --help lists every command; a wrong command or option says so and exits non-zero', async () => {
  const help = await runZi(['--help']);
  assert.equal(help.code, 0);
  for (const cmd of ['node', 'wallet', 'chain', 'contract']) assert.match(help.stdout, new RegExp(`\\n  ${cmd}\\b`));
  const wrong = await runZi(['chian', 'info']);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /unknown command 'chian'/);
  const badOpt = await runZi(['node', '--nope']);
  assert.notEqual(badOpt.code, 0);
  assert.match(badOpt.stderr, /unknown option '--nope'/);
});

test('a client command with no node running says how to start one', async () => {
  const r = await runZi(['chain', 'info', '--datadir', join(import.meta.dirname, 'no-such-datadir')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /NODE_NOT_RUNNING/);
});
