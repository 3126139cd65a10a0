// Market efficiency: the local devnet (`zi devnet`: real processes on
// loopback) with two Solvers, one sandbox each, solving a long Mandelbrot
// contract; its steady-state rate against plain V8 computing the same MCUs
// on one thread in this process, in the same run. Also the latency from the
// contract's block to the first signed payout and to the first payout in a block.
import { readFile, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Devnet } from '../src/node/devnet.ts';

const SCALE = Number(process.env.ZI_BENCH_SCALE ?? 1000);
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

// Plain V8 over the same index window as the steady state (leases go out lowest index first).
const code = (await readFile(join(import.meta.dirname, '..', 'examples', 'mandelbrot.js'), 'utf8')).replace(
  /const SCALE = \d+;/,
  `const SCALE = ${SCALE};`,
);
const plain = new Function(`${code}\nreturn { input, mcu };`)() as {
  input(i: number): unknown;
  mcu(x: unknown): boolean;
};
const t0 = performance.now();
for (let i = report.steadyFrom; i < report.steadyTo; i++) plain.mcu(plain.input(i));
const plainRate = (report.steadyTo - report.steadyFrom) / ((performance.now() - t0) / 1000);
await rm(report.dir, { recursive: true, force: true });

console.log(`machine: ${cpus()[0]?.model} × ${cpus().length}, node ${process.version}`);
console.log(
  `devnet: 1 mining Bidder node, 2 Solver nodes (1 sandbox each), Mandelbrot ${report.size.toLocaleString()} MCUs`,
);
console.log(`  plain V8, one thread, same indices   ${Math.round(plainRate).toLocaleString()} MCU/s`);
console.log(`  market, steady state (20–90 %)       ${Math.round(report.steadyRate).toLocaleString()} MCU/s`);
console.log(
  `  efficiency market ÷ (2 × plain) = ${(report.steadyRate / (2 * plainRate)).toFixed(3)}   (target ≥ 0.85)`,
);
console.log(
  `  contract's block → first signed payout    ${Math.round(report.firstSignedMs ?? Number.NaN)} ms   (target < 1,000 ms)`,
);
console.log(`  contract's block → first payout in a block ${Math.round(report.firstOnChainMs ?? Number.NaN)} ms`);
