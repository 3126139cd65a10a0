// Market efficiency: the local devnet (`zi devnet`: real processes on
// loopback) with two Solvers, one sandbox each, solving a long Mandelbrot
// contract; its steady-state rate against plain V8 computing the same MCUs
// on one thread in this process, in the same run. Also the latency from the
// contract's block to the first signed payout and to the first payout in a block.
import { readFile, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Devnet } from '../src/devnet/devnet.ts';

// 72 million MCUs: long enough that batches of a million MCUs reach a steady state.
const SCALE = Number(process.env.ZI_BENCH_SCALE ?? 3000);
const SIZE = 8 * SCALE * SCALE;

const code = (await readFile(join(import.meta.dirname, '..', 'examples', 'mandelbrot.js'), 'utf8')).replace(
  /const SCALE = \d+;/,
  `const SCALE = ${SCALE};`,
);
const plain = new Function(`${code}\nreturn { input, mcu };`)() as {
  input(i: number): unknown;
  mcu(x: unknown): boolean;
};

/**
 * Plain V8 over every 20th chunk of the steady-state window (20–90 % of the
 * indices: leases go out lowest index first), starting at chunk `phase`: a
 * row of the grid costs like its neighbours, so this is the window's mix of
 * cheap and dear points in a fraction of the time.
 */
function plainRate(phase: number): { mcus: number; ms: number } {
  const CHUNK = 10_000;
  const [from, to] = [Math.floor(0.2 * SIZE), Math.floor(0.9 * SIZE)];
  let mcus = 0;
  const t0 = performance.now();
  for (let c = from + phase * CHUNK; c < to; c += 20 * CHUNK) {
    const end = Math.min(c + CHUNK, to);
    for (let i = c; i < end; i++) plain.mcu(plain.input(i));
    mcus += end - c;
  }
  return { mcus, ms: performance.now() - t0 };
}

// Half the reference before the devnet and half after, so a machine that
// speeds up or slows down during the run moves the reference with it.
const before = plainRate(0);
const report = await new Devnet({
  scale: SCALE,
  miners: 1,
  solvers: 2,
  price: 20n,
  keep: false,
  results: false,
  out: () => {},
  interrupted: new Promise(() => {}),
}).run();
await rm(report.dir, { recursive: true, force: true });
const after = plainRate(10);
const reference = ((before.mcus + after.mcus) / (before.ms + after.ms)) * 1000;

console.log(`machine: ${cpus()[0]?.model} × ${cpus().length}, node ${process.version}`);
console.log(
  `devnet: 1 mining Bidder node, 2 Solver nodes (1 sandbox each), Mandelbrot ${report.size.toLocaleString()} MCUs`,
);
console.log(
  `  plain V8, one thread, same window     ${Math.round(reference).toLocaleString()} MCU/s (before ${Math.round((before.mcus / before.ms) * 1000).toLocaleString()}, after ${Math.round((after.mcus / after.ms) * 1000).toLocaleString()})`,
);
const steady = report.steadyRate ?? Number.NaN;
console.log(`  market, steady state (20–90 %)       ${Math.round(steady).toLocaleString()} MCU/s`);
console.log(`  efficiency market ÷ (2 × plain) = ${(steady / (2 * reference)).toFixed(3)}   (target ≥ 0.9)`);
console.log(
  `  contract's block → first signed payout    ${Math.round(report.firstSignedMs ?? Number.NaN)} ms   (target < 1,000 ms)`,
);
console.log(`  contract's block → first payout in a block ${Math.round(report.firstOnChainMs ?? Number.NaN)} ms`);
