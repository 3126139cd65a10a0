// The contract sandbox against plain V8, in the same run:
//  1. Mandelbrot (examples/mandelbrot.js): MCUs per second through
//     ContractRuntime.outputRange, what a Solver runs (fresh context, contract
//     top level, the range, its output column, transfer) ÷ the same code
//     compiled in this process with new Function, on the same indices. Target
//     ≥ 0.9. Also runRange, which returns the inputs too.
//  2. A trivial MCU (x => x + 1, input(i) = i) over ranges of 100,000: the
//     sandbox's added cost per MCU (its ns/MCU minus plain JS's ns/MCU for the
//     same loop keeping inputs and outputs in arrays). Target ≤ 100 ns: the
//     per-call cost is paid per batch, not per MCU.
//  3. What process isolation costs per call: a 1-MCU runRange round trip
//     through the sandbox processes against the same call on an isolate in
//     this process (IsolateRunner, what a sandbox process runs), alternating.
// Times are CPU time of this process and its sandbox processes (the machine
// is shared). Also prints the fixed cost of one call and the cost of
// validating Mandelbrot rows.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import {
  type ContractRuntime,
  loadContract,
  rangeRows,
  resolveLimits,
  sandboxProcesses,
} from '../src/sandbox/index.ts';
import { IsolateRunner } from '../src/sandbox/isolate.ts';

type Fn<A, R> = (a: A) => R;
const mandelbrotSource = readFileSync(new URL('../examples/mandelbrot.js', import.meta.url), 'utf8');
const TRIVIAL = 'const size = null;\nfunction input(i) { return i; }\nfunction mcu(x) { return x + 1; }\n';

function compilePlain(source: string): { input: Fn<number, unknown>; mcu: Fn<unknown, unknown>; size: number | null } {
  const [size, input, mcu] = new Function(`"use strict";\n${source}\nreturn [size, input, mcu];`)();
  return { size, input, mcu };
}

/**
 * CPU time of this process and of its sandbox processes (contract code runs
 * in those: src/sandbox/processes.ts), all threads, in ns. The machine is
 * shared: wall time would count other processes' work; CPU time counts ours.
 * The children's comes from each thread's /proc schedstat (ns resolution).
 * cpuNs() starts a measurement, cpuNs(start) ends it: reading the children's
 * /proc files costs this process CPU too, so a start reads them before this
 * process's figure and an end after it, and neither read is counted.
 */
function cpuNs(start?: number): number {
  const own = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) * 1000;
  };
  if (start === undefined) {
    const children = childrenNs();
    return children + own();
  }
  const ns = own();
  return ns + childrenNs() - start;
}

function childrenNs(): number {
  let ns = 0;
  for (const pid of sandboxProcesses()) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
      }
    } catch {
      // The process or thread ended between the listing and the read.
    }
  }
  return ns;
}

/** Plain JS doing what runRange does: inputs and outputs of a range kept in arrays. */
function plainRange(p: ReturnType<typeof compilePlain>, from: number, count: number): number {
  const t = cpuNs();
  const inputs = new Array(count);
  const outputs = new Array(count);
  for (let k = 0; k < count; k++) {
    const x = p.input(from + k);
    inputs[k] = x;
    outputs[k] = p.mcu(x);
  }
  const ns = cpuNs(t);
  if (outputs.length !== count || inputs.length !== count) throw new Error('unreachable');
  return ns;
}

async function sandboxRange(rt: ContractRuntime, from: number, count: number): Promise<number> {
  const t = cpuNs();
  const r = await rt.runRange(from, count);
  const ns = cpuNs(t);
  if (r.outputs.length !== count) throw new Error('short range');
  return ns;
}

/** Plain JS doing what outputRange does: the outputs of a range alone. */
function plainOutputs(p: ReturnType<typeof compilePlain>, from: number, count: number): number {
  const t = cpuNs();
  const outputs = new Array(count);
  for (let k = 0; k < count; k++) outputs[k] = p.mcu(p.input(from + k));
  const ns = cpuNs(t);
  if (outputs.length !== count) throw new Error('unreachable');
  return ns;
}

async function sandboxOutputs(rt: ContractRuntime, from: number, count: number): Promise<number> {
  const t = cpuNs();
  await rt.outputRange(from, count);
  return cpuNs(t);
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
  // Stretches of rows across the set's interesting band (im in [-0.8, 0.8]),
  // where members, slow escapers and fast escapers mix. Ranges of 200,000
  // (≈ 0.3 s each): a call pays a fixed cost (fresh context, and V8
  // compiling mcu again, since each call starts from a fresh realm), which a
  // Solver's batch of seconds makes small; it is printed on its own below.
  const COUNT = 200_000;
  const starts = Array.from({ length: 6 }, (_, k) => Math.floor(height * (0.15 + 0.14 * k)) * width + width / 8);
  await sandboxRange(rt, starts[0], 5000);
  plainRange(plain, starts[0], 5000);
  let plainNs = 0;
  let sandboxNs = 0;
  let plainOutNs = 0;
  let sandboxOutNs = 0;
  for (let rep = 0; rep < 2; rep++) {
    for (const [k, from] of starts.entries()) {
      // Alternate which goes first so drift on a shared machine hits both.
      if ((rep + k) % 2 === 0) {
        plainNs += plainRange(plain, from, COUNT);
        sandboxNs += await sandboxRange(rt, from, COUNT);
        plainOutNs += plainOutputs(plain, from, COUNT);
        sandboxOutNs += await sandboxOutputs(rt, from, COUNT);
      } else {
        sandboxOutNs += await sandboxOutputs(rt, from, COUNT);
        plainOutNs += plainOutputs(plain, from, COUNT);
        sandboxNs += await sandboxRange(rt, from, COUNT);
        plainNs += plainRange(plain, from, COUNT);
      }
    }
  }
  const mcus = 2 * starts.length * COUNT;
  const plainRate = mcus / (plainNs / 1e9);
  const sandboxRate = mcus / (sandboxNs / 1e9);
  console.log(`\nMandelbrot (${fmt(mcus)} MCUs in ranges of ${fmt(COUNT)}, 1,999 iterations, |z| > 1000; CPU time)`);
  console.log(`  plain V8 (new Function):  ${fmt(plainRate)} MCU/s (${fmt(plainNs / mcus)} ns/MCU)`);
  console.log(`  sandbox runRange:         ${fmt(sandboxRate)} MCU/s (${fmt(sandboxNs / mcus)} ns/MCU)`);
  console.log(
    `  ratio sandbox / plain:    ${(sandboxRate / plainRate).toFixed(3)}  (inputs and outputs, as zi contract run)`,
  );
  console.log(
    `  outputs only (outputRange, what a Solver runs): ratio sandbox / plain ${(plainOutNs / sandboxOutNs).toFixed(3)}  (target ≥ 0.9)`,
  );
  const grid = (plain.size as number) / plainRate;
  console.log(`  whole grid ${fmt(width)} × ${fmt(height)} on one core: ≈ ${fmt(grid)} s plain`);
  // The fixed cost of one call: a short range in the middle of the set, where
  // every MCU runs all 1,999 iterations, against plain JS on the same points.
  const fixed: number[] = [];
  const mid = (height / 2) * width + (width * 3) / 8;
  for (let rep = 0; rep < 9; rep++) {
    const sb = await sandboxRange(rt, mid + rep * 1000, 1000);
    fixed.push(sb - plainRange(plain, mid + rep * 1000, 1000));
  }
  console.log(`  fixed cost of one call (1,000 MCUs, sandbox minus plain): ${(median(fixed) / 1e6).toFixed(1)} ms CPU`);

  // What a Bidder pays to check a batch: the rows go in, the contract's
  // validate recomputes a seeded 1 % sample.
  const rows = rangeRows(await rt.runRange(starts[3], COUNT));
  const t = cpuNs();
  const valid = await rt.validate(rows, new Uint8Array(32).fill(1), 10);
  const ns = cpuNs(t);
  console.log(`  validate ${fmt(COUNT)} rows (1 % sampled): ${fmt(ns / COUNT)} ns/row CPU, ${valid}`);
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
  console.log(`\nTrivial MCU x => x + 1, ranges of ${fmt(COUNT)} (median of ${sandboxPer.length}, CPU time)`);
  console.log(`  plain JS:  ${pl.toFixed(1)} ns/MCU`);
  console.log(`  sandbox:   ${sb.toFixed(1)} ns/MCU`);
  console.log(`  added:     ${(sb - pl).toFixed(1)} ns/MCU  (target ≤ 100)`);

  const calls: number[] = [];
  for (let rep = 0; rep < 30; rep++) {
    const t = process.hrtime.bigint();
    await rt.runRange(rep, 1);
    calls.push(Number(process.hrtime.bigint() - t));
  }
  console.log(`  one call (runRange of 1 MCU): ${(median(calls) / 1e6).toFixed(2)} ms wall`);
  rt.dispose();
}

// 3. Process isolation, per call
{
  const rt = await loadContract(TRIVIAL);
  const local = new IsolateRunner(TRIVIAL, resolveLimits());
  const wall: [number[], number[]] = [[], []];
  const cpu: [number[], number[]] = [[], []];
  for (let rep = 0; rep < 205; rep++) {
    for (const [k, call] of [() => rt.runRange(rep, 1), () => local.call('runRange', rep, 1)].entries()) {
      const c = cpuNs();
      const t = performance.now();
      await call();
      const w = performance.now() - t;
      const ns = cpuNs(c);
      // The first calls warm both up.
      if (rep >= 5) {
        wall[k]!.push(w);
        cpu[k]!.push(ns / 1e6);
      }
    }
  }
  const [pw, lw, pc, lc] = [median(wall[0]!), median(wall[1]!), median(cpu[0]!), median(cpu[1]!)];
  console.log(`\nProcess isolation: runRange of 1 MCU (trivial), median of ${wall[0]!.length}, alternating`);
  console.log(`  isolate in this process (IsolateRunner): ${lw.toFixed(2)} ms wall, ${lc.toFixed(2)} ms CPU`);
  console.log(
    `  through a sandbox process:               ${pw.toFixed(2)} ms wall, ${pc.toFixed(2)} ms CPU (both processes)`,
  );
  console.log(
    `  added per call by process isolation:     ${(pw - lw).toFixed(2)} ms wall, ${(pc - lc).toFixed(2)} ms CPU`,
  );
  local.dispose();
  rt.dispose();
}
