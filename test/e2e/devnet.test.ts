import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/chain.ts';
import { runZi } from '../support/cli.ts';

test('zi devnet: miners, a Bidder and two Solvers solve the Mandelbrot example end to end', async (t) => {
  const dir = await tempDir(t, 'zi-devnet-');
  const t0 = performance.now();
  const r = await runZi(['devnet', '--dir', dir, '--scale', '40', '--miners', '2', '--solvers', '2']);
  const wall = (performance.now() - t0) / 1000;
  assert.equal(r.code, 0, r.stderr);
  // The summary's total runs from the first node's start to the summary: what is
  // left is start-up and stopping the nodes, not a timer left running (was 10 s).
  const total = Number(/total {7}([\d.]+) s/.exec(r.stdout)?.[1]);
  assert.ok(wall - total < 6, `exited ${(wall - total).toFixed(1)} s after a ${total} s run`);
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
