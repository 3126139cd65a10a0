import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SandboxError, type SandboxErrorCode, sandboxProcesses } from '../../src/sandbox/index.ts';

/** What a call into contract code ended with. */
export type Outcome<T> = { value: T; error?: undefined } | { value?: undefined; error: unknown };

/**
 * The outcome of `work`, or an assertion failure once `ms` have passed: a
 * sandbox call that never settles costs its test a failure, not the run.
 * (Only while the host's event loop runs; test/support/hang-guard.ts covers
 * the rest.)
 */
export async function settleWithin<T>(ms: number, what: string, work: () => Promise<T>): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([
      work().then(
        (value): Outcome<T> => ({ value }),
        (error: unknown): Outcome<T> => ({ error }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts that an outcome is a SandboxError with one of `codes`, and returns it. */
export function typedError(outcome: Outcome<unknown>, codes: readonly SandboxErrorCode[]): SandboxError {
  if (outcome.error === undefined) assert.fail(`expected SandboxError ${codes.join('/')}, got a result`);
  const err = outcome.error;
  assert.ok(err instanceof SandboxError, `expected SandboxError ${codes.join('/')}, got ${String(err)}`);
  assert.ok(codes.includes(err.code), `expected ${codes.join('/')}, got ${err.code}: ${err.message}`);
  return err;
}

export interface HostWatch {
  /** Host event-loop ticks (10 ms interval) seen. */
  ticks: number;
  /** Longest time the host's event loop went without a tick, in ms. */
  maxGapMs: number;
  /** Highest VmHWM of any sandbox process seen, in bytes (0 when none was seen). */
  peakRssBytes: number;
  /** The same when the watch began: a peak no higher than that was reached before. */
  peakBeforeBytes: number;
  /** Highest resident memory (VmRSS) of a sandbox process when the watch began: what it held. */
  heldBytes: number;
  /** Sandbox process ids seen. */
  pids: number[];
}

/**
 * Watches the host while a call runs: a 10 ms interval measures whether its
 * event loop keeps ticking, and every tick reads the peak resident memory
 * (VmHWM) of the sandbox processes, before the watchdog kills them.
 * peakSandboxRss() is the one place that knows where that figure comes from:
 * switch it to the runtime's own report if the sandbox gets one.
 */
export function watchHost(): { stop(): HostWatch } {
  const seen = new Set<number>();
  let ticks = 0;
  let last = performance.now();
  let maxGapMs = 0;
  let peakRssBytes = 0;
  const sample = () => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    const peak = peakSandboxRss(seen);
    if (peak > peakRssBytes) peakRssBytes = peak;
  };
  sample();
  const peakBeforeBytes = peakRssBytes;
  const heldBytes = sandboxRss('VmRSS');
  const timer = setInterval(() => {
    ticks++;
    sample();
  }, 10);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { ticks, maxGapMs, peakRssBytes, peakBeforeBytes, heldBytes, pids: [...seen] };
    },
  };
}

/** Highest VmHWM among the live sandbox processes, in bytes; adds their pids to `seen`. */
export function peakSandboxRss(seen?: Set<number>): number {
  return sandboxRss('VmHWM', seen);
}

/** The highest of one /proc status field (kB) among the live sandbox processes, in bytes. */
function sandboxRss(field: 'VmHWM' | 'VmRSS', seen?: Set<number>): number {
  let peak = 0;
  for (const pid of sandboxProcesses()) {
    seen?.add(pid);
    const status = readProc(pid, 'status');
    const kib = status === undefined ? undefined : new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1];
    if (kib !== undefined) peak = Math.max(peak, Number(kib) * 1024);
  }
  return peak;
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined; // the process is gone
  }
}

/** Linux's USER_HZ, the unit of utime and stime in /proc/<pid>/stat (100 on every mainstream build). */
const CLOCK_TICKS_PER_S = 100;

/** utime + stime of a process, in seconds; undefined once it is gone. */
function cpuSeconds(pid: number): number | undefined {
  const stat = readProc(pid, 'stat');
  if (stat === undefined) return undefined;
  // Fields after the command name, which sits in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/**
 * Asserts that none of `pids` keeps a core busy: a process that uses at
 * least `share` of a core in each of `windows` windows of `windowMs` is
 * spinning. Several windows, so that a replacement sandbox process booting,
 * or an isolate being torn down, is not mistaken for one.
 */
export async function assertNothingSpinning(
  pids: readonly number[],
  { share = 0.8, windows = 3, windowMs = 300 } = {},
): Promise<void> {
  let suspects = [...new Set(pids)];
  let shares = new Map<number, number>();
  for (let w = 0; w < windows && suspects.length > 0; w++) {
    const before = new Map(suspects.map((pid) => [pid, cpuSeconds(pid)]));
    const t0 = performance.now();
    await sleep(windowMs);
    const wall = (performance.now() - t0) / 1000;
    shares = new Map();
    for (const pid of suspects) {
      const a = before.get(pid);
      const b = cpuSeconds(pid);
      if (a !== undefined && b !== undefined) shares.set(pid, (b - a) / wall);
    }
    suspects = suspects.filter((pid) => (shares.get(pid) ?? 0) >= share);
  }
  const spinning = suspects.map(
    (pid) => `${pid}${pid === process.pid ? ' (the host)' : ''} at ${Math.round(100 * shares.get(pid)!)} %`,
  );
  assert.deepEqual(spinning, [], `processes left spinning: ${spinning.join(', ')}`);
}

/** Nesting depth of a JSON value (a scalar is 0), counted without recursion. */
export function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    max = Math.max(max, d + 1);
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}
