import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/chain.ts';
import { runZi } from '../support/cli.ts';

/** The end of each node's log, so that a failure in CI says what the nodes saw. */
async function logTails(dir: string, lines = 12): Promise<string> {
  const logs = (await readdir(dir)).filter((f) => f.endsWith('.log')).sort();
  const tails = await Promise.all(
    logs.map(
      async (f) =>
        `--- ${f}\n${(await readFile(join(dir, f), 'utf8'))
          .trimEnd()
          .split('\n')
          .slice(-lines)
          .map((l) => l.slice(0, 300))
          .join('\n')}`,
    ),
  );
  return tails.join('\n');
}

test('zi devnet: miners, a Bidder and two Solvers solve the Mandelbrot example end to end', async (t) => {
  const dir = await tempDir(t, 'zi-devnet-');
  const image = join(dir, 'set.png');
  const r = await runZi(['devnet', '--dir', dir, '--out', image, '--scale', '40', '--miners', '2', '--solvers', '2']);
  assert.equal(r.code, 0, `${r.stderr}\n${await logTails(dir)}`);
  // The summary is the last thing printed; what follows is stopping the nodes,
  // not a timer left running (was 10 s). Start-up is not counted: a loaded CI
  // machine can take seconds just to load Node.
  assert.match(r.stdout, /total {7}[\d.]+ s, start to finish\n$/);
  assert.ok(r.quietMs < 6000, `exited ${(r.quietMs / 1000).toFixed(1)} s after the summary`);
  assert.match(r.stdout, /posted the Mandelbrot contract/);
  assert.match(r.stdout, /^explorer {4}http:\/\/127\.0\.0\.1:\d+\/ \(node1/m, 'the explorer is on, at a printed URL');
  assert.match(r.stdout, /results {5}checked: identical to a local recomputation of all 12,800 MCUs/);
  assert.match(r.stdout, /union {7}\S+mandelbrot\.json/);
  const union = JSON.parse(await readFile(join(dir, 'mandelbrot.json'), 'utf8')) as unknown[];
  assert.equal(union.length, 12_800);
  assert.match(r.stdout, /payouts {5}\d+/);
  assert.match(r.stdout, new RegExp(`image {7}${image}`));
  const png = await readFile(image);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
  assert.equal(png.readUInt32BE(16), 160); // width 4 × scale
  assert.equal(png.readUInt32BE(20), 80);
});

test('zi devnet refuses options that cannot work before it starts a node', async (t) => {
  const dir = join(await tempDir(t, 'zi-devnet-'), 'nodes');
  const r = await runZi(['devnet', '--dir', dir, '--price', '0']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error \[BAD_OPTION\]: --price must be at least 1li: Solvers skip contracts paying less/);
  await assert.rejects(readFile(join(dir, 'passphrase')), { code: 'ENOENT' });
  const costly = await runZi(['devnet', '--dir', dir, '--price', '0.001', '--scale', '1000']);
  assert.match(costly.stderr, /^error \[BAD_OPTION\]: --price 1000000li with --scale 1000 needs a budget of 16000 Zi/);
});
