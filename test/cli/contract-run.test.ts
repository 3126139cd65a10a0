import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/chain.ts';
import { runZi } from '../support/cli.ts';

test('zi contract run on a contract smaller than 10 MCUs runs them all; --from past the end says so', async (t) => {
  const dir = await tempDir(t, 'zi-run-');
  const file = join(dir, 'two.js');
  await writeFile(file, 'const size = 2;\nfunction input(i) { return i; }\nfunction mcu(x) { return x + 1; }\n');
  const all = await runZi(['contract', 'run', file, '--json']);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(JSON.parse(all.stdout).rows, [
    [0, 0, 1],
    [1, 1, 2],
  ]);
  const past = await runZi(['contract', 'run', file, '--from', '5']);
  assert.equal(past.code, 1);
  assert.equal(
    past.stderr,
    "error [BAD_OPTION]: --from 5 is past the contract's last MCU: it has 2 (indices 0 to 1)\n",
  );
});

test('contract code from a device is read no further than the size limit', {
  skip: !existsSync('/dev/zero'),
}, async () => {
  // It used to be read until V8's string limit (a second and a spike of memory) before the check.
  const r = await runZi(['contract', 'run', '/dev/zero']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error [CODE_TOO_LARGE]: contract code is at least 65537 bytes, over the 65536-byte limit\n');
});
