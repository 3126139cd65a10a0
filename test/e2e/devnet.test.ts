import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/chain.ts';
import { runZi } from '../support/cli.ts';

test('zi devnet: miners, a Bidder and two Solvers solve the Mandelbrot example end to end', async (t) => {
  const dir = await tempDir(t, 'zi-devnet-');
  const r = await runZi(['devnet', '--dir', dir, '--scale', '40', '--miners', '2', '--solvers', '2']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /posted the Mandelbrot contract/);
  assert.match(r.stdout, /results {5}checked: identical to a local recomputation of all 12,800 MCUs/);
  assert.match(r.stdout, /union {7}\S+mandelbrot\.json/);
  const union = JSON.parse(await readFile(join(dir, 'mandelbrot.json'), 'utf8')) as unknown[];
  assert.equal(union.length, 12_800);
  assert.match(r.stdout, /payouts {5}\d+/);
  const png = await readFile(join(dir, 'mandelbrot.png'));
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
  assert.equal(png.readUInt32BE(16), 160); // width 4 × scale
  assert.equal(png.readUInt32BE(20), 80);
});
