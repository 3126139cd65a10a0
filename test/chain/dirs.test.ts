import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeDirs } from '../../src/chain/dirs.ts';
import { tempDir } from '../support/chain.ts';

test('makeDirs makes every missing parent with the mode asked, and is a no-op on an existing directory', async (t) => {
  const root = await tempDir(t);
  const deep = join(root, 'a', 'b', 'c');
  await makeDirs(deep, 0o700);
  assert.equal((await stat(deep)).mode & 0o777, 0o700);
  assert.equal((await stat(join(root, 'a'))).mode & 0o777, 0o700);
  await makeDirs(deep, 0o700);
});

test('a file in the way is ENOTDIR, and /proc refuses at once instead of hanging', async (t) => {
  const root = await tempDir(t);
  await writeFile(join(root, 'f'), '');
  await assert.rejects(makeDirs(join(root, 'f', 'x')), { code: 'ENOTDIR' });
  await assert.rejects(makeDirs(join(root, 'f')), { code: 'ENOTDIR' });
  if (existsSync('/proc/self')) await assert.rejects(makeDirs('/proc/zi-x/y'), { code: 'ENOENT' });
});
