// The contract sandbox against plain V8, in the same run:
//  1. Mandelbrot (examples/mandelbrot.js): MCUs per second through
//     ContractRuntime.runRange (fresh context, contract top level, the range,
//     encoding, transfer, decoding) ÷ the same code compiled in this process
//     with new Function, on the same indices. Target ≥ 0.9.
//  2. A trivial MCU (x => x + 1, input(i) = i) over ranges of 100,000: the
//     sandbox's added cost per MCU (its ns/MCU minus plain JS's ns/MCU for the
//     same loop keeping inputs and outputs in arrays). Target ≤ 100 ns: the
//     per-call cost is paid per batch, not per MCU.
// Also prints the fixed cost of one call and of validating Mandelbrot rows.
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { type ContractRuntime, loadContract, rangeRows } from '../src/market/sandbox.ts';

type Fn<A, R> = (a: A) => R;
const mandelbrotSource = readFileSync(new URL('../examples/mandelbrot.js', import.meta.url), 'utf8');
const TRIVIAL = 'const size = null;\nfunction input(i) { return i; }\nfunction mcu(x) { return x + 1; }\n';

function compilePlain(source: string): { input: Fn<number, unknown>; mcu: Fn<unknown, unknown>; size: number | null } {
  const [size, input, mcu] = new Function(`"use strict";\n${source}\nreturn [size, input, mcu];`)();
  return { size, input, mcu };
}

/** Plain JS doing what runRange does: inputs and outputs of a range kept in arrays. */
function plainRange(p: ReturnType<typeof compilePlain>, from: number, count: number): number {
  const t = process.hrtime.bigint();
  const inputs = new Array(count);
  const outputs = new Array(count);
  for (let k = 0; k < count; k++) {
    const x = p.input(from + k);
    inputs[k] = x;
    outputs[k] = p.mcu(x);
  }
  const ns = Number(process.hrtime.bigint() - t);
  if (outputs.length !== count || inputs.length !== count) throw new Error('unreachable');
  return ns;
}

async function sandboxRange(rt: ContractRuntime, from: number, count: number): Promise<number> {
  const t = process.hrtime.bigint();
  const r = await rt.runRange(from, count);
  const ns = Number(process.hrtime.bigint() - t);
  if (r.outputs.length !== count) throw new Error('short range');
  return ns;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, ${fmt(totalmem() / 2 ** 30, 1)} GiB`);
console.log(`node ${process.version}, V8 ${process.versions.v8}`);

// 1. Mandelbrot
{
  const plain = compilePlain(mandelbrotSource);
  const rt = await loadContract(mandelbrotSource);
  const width = 4 * Math.sqrt((plain.size as number) / 8);
  const height = width / 2;
  // Eight stretches of rows across the set's interesting band (im in
  // [-0.8, 0.8]), where members, slow escapers and fast escapers mix.
  const COUNT = 50_000;
  const starts = Array.from({ length: 8 }, (_, k) => Math.floor(height * (0.1 + 0.1 * k)) * width + width / 8);
  await sandboxRange(rt, starts[0], 5000);
  plainRange(plain, starts[0], 5000);
  let plainNs = 0;
  let sandboxNs = 0;
  for (let rep = 0; rep < 2; rep++) {
    for (const from of starts) {
      // Alternate which goes first so drift on a shared machine hits both.
      if ((rep + from) % 2 === 0) {
        plainNs += plainRange(plain, from, COUNT);
        sandboxNs += await sandboxRange(rt, from, COUNT);
      } else {
        sandboxNs += await sandboxRange(rt, from, COUNT);
        plainNs += plainRange(plain, from, COUNT);
      }
    }
  }
  const mcus = 2 * starts.length * COUNT;
  const plainRate = mcus / (plainNs / 1e9);
  const sandboxRate = mcus / (sandboxNs / 1e9);
  console.log(`\nMandelbrot (${fmt(mcus)} MCUs in ranges of ${fmt(COUNT)}, 1,999 iterations, |z| > 1000)`);
  console.log(`  plain V8 (new Function):  ${fmt(plainRate)} MCU/s (${fmt(plainNs / mcus)} ns/MCU)`);
  console.log(`  sandbox runRange:         ${fmt(sandboxRate)} MCU/s (${fmt(sandboxNs / mcus)} ns/MCU)`);
  console.log(`  ratio sandbox / plain:    ${(sandboxRate / plainRate).toFixed(3)}  (target ≥ 0.9)`);
  const grid = (plain.size as number) / plainRate;
  console.log(`  whole grid ${fmt(width)} × ${fmt(height)} on one core: ≈ ${fmt(grid)} s plain`);

  const rows = rangeRows(await rt.runRange(starts[3], COUNT));
  const t = process.hrtime.bigint();
  const valid = await rt.validate(rows);
  const ns = Number(process.hrtime.bigint() - t);
  console.log(
    `  validate ${fmt(COUNT)} rows (the contract's: every 100th recomputed): ${fmt(ns / COUNT)} ns/row, ${valid}`,
  );
  rt.dispose();
}

// 2. Trivial MCU
{
  const plain = compilePlain(TRIVIAL);
  const rt = await loadContract(TRIVIAL);
  const COUNT = 100_000;
  for (let k = 0; k < 3; k++) {
    await sandboxRange(rt, k * COUNT, COUNT);
    plainRange(plain, k * COUNT, COUNT);
  }
  const plainPer: number[] = [];
  const sandboxPer: number[] = [];
  for (let rep = 0; rep < 15; rep++) {
    const from = (rep + 3) * COUNT;
    sandboxPer.push((await sandboxRange(rt, from, COUNT)) / COUNT);
    plainPer.push(plainRange(plain, from, COUNT) / COUNT);
  }
  const sb = median(sandboxPer);
  const pl = median(plainPer);
  console.log(`\nTrivial MCU x => x + 1, ranges of ${fmt(COUNT)} (median of ${sandboxPer.length})`);
  console.log(`  plain JS:  ${sb >= 0 ? pl.toFixed(1) : ''} ns/MCU`);
  console.log(`  sandbox:   ${sb.toFixed(1)} ns/MCU`);
  console.log(`  added:     ${(sb - pl).toFixed(1)} ns/MCU  (target ≤ 100)`);

  const calls: number[] = [];
  for (let rep = 0; rep < 30; rep++) calls.push(await sandboxRange(rt, rep, 1));
  console.log(`  one call (runRange of 1 MCU): ${(median(calls) / 1e6).toFixed(2)} ms`);
  rt.dispose();
}
