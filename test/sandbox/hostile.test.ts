/**
 * Hostile contract code (issue 9): every pattern that hung or bloated the
 * in-process sandbox ends within SETTLE_MS with a typed SandboxError (deep
 * values: or with a value within the depth limit), and
 * after each one the host's event loop kept ticking, the same runtime, a
 * bystander and a freshly loaded contract still compute honest results, no
 * process (sandbox or host) is left spinning, and the sandbox processes'
 * peak resident memory stayed under RSS_CEILING (the watchdog's ceiling plus overshoot).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type ContractRuntime,
  type JsonValue,
  loadContract,
  MAX_JSON_DEPTH,
  memoryCeiling,
  rangeRows,
  resolveLimits,
  SandboxError,
  type SandboxErrorCode,
  type SandboxLimits,
  sandboxProcesses,
  shutdownSandboxes,
} from '../../src/sandbox/index.ts';
import { outputList, outputsOf } from '../../src/sandbox/outputs.ts';
import { startHangGuard } from '../support/hang-guard.ts';
import {
  assertNothingSpinning,
  depthOf,
  type Outcome,
  settleWithin,
  typedError,
  watchHost,
} from '../support/sandbox.ts';

/** Small caps keep the file fast. */
const LIMITS: Partial<SandboxLimits> = { memoryLimitMiB: 32, timeoutMs: 100 };
/**
 * Every hostile call settles within this: the watchdog's wall budget is
 * 2 x timeout + its slack (0.45 s here; the rejected-Proxy cases end at ~0.47 s),
 * and the rest leaves room for the kill, the reply and a loaded machine.
 */
const SETTLE_MS = 5000;
/**
 * Resident memory a sandbox process may reach: the watchdog's ceiling (the
 * cap, MEMORY_MARGIN_MIB for the process itself, two copies of the largest
 * result) plus what can grow between two of its 1 ms looks. Strings reached
 * 4-8x the cap when the isolate's own limit was the only one.
 */
const OVERSHOOT_MIB = 16;
const rssCeiling = (heldBytes = 0) => memoryCeiling(resolveLimits(LIMITS), heldBytes) + OVERSHOOT_MIB * 1024 * 1024;
const RSS_CEILING = rssCeiling();
/** Longest pause of the host's event loop that a hostile call may cause (GC and compiles included). */
const MAX_LOOP_GAP_MS = 500;

const SEED = new Uint8Array(32).fill(9);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const guard = startHangGuard({ stallMs: 15_000, exitMs: 5000 });

const HEAD = 'const size = 1000;\nfunction input(i) { return i; }\n';
const PASS_MCU = 'function mcu(x) { return x; }\n';
/** The reason that hung the host: reading any property of it never returns. */
const PROXY = 'new Proxy({}, { get() { for (;;) {} } })';
const DEEP = 'const deep = (n) => { let v = 0; for (let k = 0; k < n; k++) v = [v]; return v; };\n';

type Call = (rt: ContractRuntime) => Promise<unknown>;

interface HostileCase {
  name: string;
  /** Honest for x (and i) other than 13, so the same runtime can be checked afterwards. */
  source: string;
  /** The hostile call; absent when the top level itself is hostile (loadContract fails). */
  call?: Call;
  /** The typed errors this pattern may end with. */
  codes: readonly SandboxErrorCode[];
  /** When set, a JSON value is also an acceptable end, if it passes this check. */
  accept?: (value: unknown) => void;
}

const KILLED: readonly SandboxErrorCode[] = ['TIMEOUT', 'THROWN'];
const OUT_OF_MEMORY: readonly SandboxErrorCode[] = ['MEMORY_LIMIT', 'TIMEOUT'];
const REFUSED: readonly SandboxErrorCode[] = ['NON_JSON_RESULT', 'RESULT_TOO_LARGE', 'BAD_RESULT'];

/** A value may come back only within the depth limit (e.g. when the encoding ignores toJSON). */
const shallow = (value: unknown) => {
  assert.ok(depthOf(value) <= MAX_JSON_DEPTH, `a value ${depthOf(value)} levels deep reached the host`);
};

const mcu13: Call = (rt) => rt.mcu(13);
const outputs10to14: Call = async (rt) => outputList(await rt.outputRange(10, 5));
const unionRows: Call = (rt) =>
  rt.unionRows([
    { start: 0, outputs: outputsOf([0, 1]) },
    { start: 2, outputs: outputsOf([2]) },
  ]);

const growth = (setup: string, step: string) =>
  `${HEAD}function mcu(x) {\n  if (x !== 13) return x;\n  ${setup}\n  for (let k = 0; ; k++) ${step};\n}\n`;
// Joined or indexed strings are flat: s + s alone builds a rope of two pointers.
const doubling = (seed: string, step: string) =>
  `${HEAD}function mcu(x) {\n  if (x !== 13) return x;\n  let s = ${seed};\n  const kept = [];\n  for (;;) { ${step} }\n}\n`;

const CASES: HostileCase[] = [
  // A promise rejected with a reason whose getters never return, left unhandled.
  {
    name: 'rejected Proxy reason in mcu',
    source: `${HEAD}function mcu(x) { if (x === 13) Promise.reject(${PROXY}); return x; }\n`,
    call: mcu13,
    codes: KILLED,
  },
  {
    name: "rejected Proxy reason in mcu, through outputRange (a Solver's call)",
    source: `${HEAD}function mcu(x) { if (x === 13) Promise.reject(${PROXY}); return x; }\n`,
    call: outputs10to14,
    codes: KILLED,
  },
  {
    name: 'rejected Proxy reason thrown by an async function mcu calls',
    source: `${HEAD}async function helper() { throw ${PROXY}; }\nfunction mcu(x) { if (x === 13) helper(); return x; }\n`,
    call: mcu13,
    codes: KILLED,
  },
  {
    name: 'rejected Proxy reason in input',
    source: `const size = 1000;\nfunction input(i) { if (i === 13) Promise.reject(${PROXY}); return i; }\n${PASS_MCU}`,
    call: (rt) => rt.input(13),
    codes: KILLED,
  },
  {
    name: 'rejected Proxy reason in input, through runRange',
    source: `const size = 1000;\nfunction input(i) { if (i === 13) Promise.reject(${PROXY}); return i; }\n${PASS_MCU}`,
    call: (rt) => rt.runRange(10, 5),
    codes: KILLED,
  },
  {
    name: 'rejected Proxy reason in validate',
    source: `${HEAD}${PASS_MCU}function validate(rows) { if (rows.length === 1) Promise.reject(${PROXY}); return true; }\n`,
    call: (rt) => rt.validate([[0, 0, 0]], SEED, 10),
    codes: KILLED,
  },
  {
    name: 'rejected Proxy reason in union',
    source: `${HEAD}${PASS_MCU}function union(a, b) { if (a.length === 1) Promise.reject(${PROXY}); return a.concat(b); }\n`,
    call: (rt) => rt.union([1], [2, 3]),
    codes: KILLED,
  },
  {
    name: 'rejected Proxy reason in union, through unionRows',
    source: `${HEAD}${PASS_MCU}function union(a, b) { Promise.reject(${PROXY}); return a.concat(b); }\n`,
    call: unionRows,
    codes: KILLED,
  },
  {
    name: 'rejected Proxy reason at top level (loadContract, as mempool admission runs it)',
    source: `${HEAD}${PASS_MCU}Promise.reject(${PROXY});\n`,
    codes: KILLED,
  },

  // Collections grown until the heap is full.
  {
    name: 'Map grown until out of memory',
    source: growth('const m = new Map();', 'm.set(k, k)'),
    call: mcu13,
    codes: OUT_OF_MEMORY,
  },
  {
    name: 'Set grown until out of memory',
    source: growth('const m = new Set();', 'm.add(k)'),
    call: mcu13,
    codes: OUT_OF_MEMORY,
  },
  {
    name: 'plain object grown until out of memory',
    source: growth('const m = {};', "m['k' + k] = k"),
    call: mcu13,
    codes: OUT_OF_MEMORY,
  },
  {
    name: 'plain object grown until out of memory at top level',
    source: `${HEAD}${PASS_MCU}const m = {};\nfor (let k = 0; ; k++) m['k' + k] = k;\n`,
    codes: OUT_OF_MEMORY,
  },

  // Strings doubled until the cap: V8 keeps large strings outside the heap the isolate's limit counts.
  {
    name: 'one-byte string doubling (joined, kept)',
    source: doubling("'a'", "s = [s, s].join(''); kept.push(s);"),
    call: mcu13,
    codes: OUT_OF_MEMORY,
  },
  {
    name: 'two-byte string doubling (joined, kept)',
    source: doubling("'\\u0101'", "s = [s, s].join(''); kept.push(s);"),
    call: mcu13,
    codes: OUT_OF_MEMORY,
  },
  {
    name: 'one-byte string doubling (s + s, flattened by indexing)',
    source: doubling("'a'", 's = s + s; s.charCodeAt(s.length >> 1);'),
    call: mcu13,
    codes: OUT_OF_MEMORY,
  },
  {
    name: 'two-byte string doubling (s + s, flattened by indexing)',
    source: doubling("'\\u0101'", 's = s + s; s.charCodeAt(s.length >> 1);'),
    call: mcu13,
    codes: OUT_OF_MEMORY,
  },
  {
    name: 'one-byte string doubling at top level',
    source: `${HEAD}${PASS_MCU}let s = 'a';\nconst kept = [];\nfor (;;) { s = [s, s].join(''); kept.push(s); }\n`,
    codes: OUT_OF_MEMORY,
  },

  // Values deeper than MAX_JSON_DEPTH, shallow when checked, deep when serialised.
  {
    name: 'deep value through Object.prototype.toJSON, from mcu',
    source: `${HEAD}${DEEP}const bomb = {};\nObject.prototype.toJSON = function () { return this === bomb ? deep(100) : this; };\nfunction mcu(x) { return x === 13 ? bomb : x; }\n`,
    call: mcu13,
    codes: REFUSED,
    accept: shallow,
  },
  {
    name: 'deep value through Object.prototype.toJSON, through runRange',
    source: `${HEAD}${DEEP}const bomb = {};\nObject.prototype.toJSON = function () { return this === bomb ? deep(100) : this; };\nfunction mcu(x) { return x === 13 ? bomb : x; }\n`,
    call: async (rt) => (await rt.runRange(10, 5)).outputs,
    codes: REFUSED,
    accept: shallow,
  },
  {
    name: 'deep value through a non-enumerable own toJSON, through outputRange',
    source: `${HEAD}${DEEP}function mcu(x) {\n  if (x !== 13) return x;\n  return Object.defineProperty({}, 'toJSON', { value: () => deep(100) });\n}\n`,
    call: outputs10to14,
    codes: REFUSED,
    accept: shallow,
  },
  {
    name: 'deep value through Array.prototype.toJSON, from input',
    source: `const size = 1000;\n${DEEP}const bomb = [];\nArray.prototype.toJSON = function () { return this === bomb ? deep(100) : [...this]; };\nfunction input(i) { return i === 13 ? bomb : i; }\n${PASS_MCU}`,
    call: (rt) => rt.input(13),
    codes: REFUSED,
    accept: shallow,
  },
  {
    name: 'deep value through Object.prototype.toJSON, from union',
    source: `${HEAD}${PASS_MCU}${DEEP}const bomb = {};\nObject.prototype.toJSON = function () { return this === bomb ? deep(100) : this; };\nfunction union(a, b) { return bomb; }\n`,
    call: (rt) => rt.union([1], [2]),
    codes: REFUSED,
    accept: shallow,
  },
  {
    name: 'deep value through a Proxy whose get trap answers differently on each read',
    source: `${HEAD}${DEEP}function mcu(x) {\n  if (x !== 13) return x;\n  let reads = 0;\n  return new Proxy({ a: 0 }, { get(t, k) { return k === 'a' && reads++ > 0 ? deep(100) : t[k]; } });\n}\n`,
    call: mcu13,
    codes: REFUSED,
    accept: shallow,
  },
  {
    name: 'deep value through a Proxy whose ownKeys shows a key only on the second listing',
    source: `${HEAD}${DEEP}function mcu(x) {\n  if (x !== 13) return x;\n  let listings = 0;\n  return new Proxy({}, {\n    ownKeys() { return listings++ === 0 ? [] : ['a']; },\n    getOwnPropertyDescriptor() { return { value: deep(100), enumerable: true, configurable: true }; },\n    get() { return deep(100); },\n  });\n}\n`,
    call: async (rt) => (await rt.runRange(10, 5)).outputs,
    codes: REFUSED,
    accept: shallow,
  },
  {
    name: 'deep value through a Proxy of an array whose elements change between reads',
    source: `${HEAD}${DEEP}function mcu(x) {\n  if (x !== 13) return x;\n  let reads = 0;\n  return new Proxy([0, 0], { get(t, k) { return k === 'length' ? 2 : k === '1' && reads++ > 0 ? deep(100) : t[k]; } });\n}\n`,
    call: outputs10to14,
    codes: REFUSED,
    accept: shallow,
  },
];

const HONEST_DOUBLE = `${HEAD}function mcu(x) { return x * 2; }\n`;
let bystander: ContractRuntime;

before(async () => {
  bystander = await loadContract(HONEST_DOUBLE, LIMITS);
});

after(async () => {
  bystander?.dispose();
  shutdownSandboxes();
  guard.done();
});

test('contract code runs in sandbox processes, not in the host process', async () => {
  const rt = await loadContract(HONEST_DOUBLE, LIMITS);
  try {
    assert.deepEqual((await rt.runRange(0, 3)).outputs, [0, 2, 4]);
    const pids = sandboxProcesses();
    assert.ok(pids.length > 0, 'no sandbox process is running');
    assert.ok(!pids.includes(process.pid), 'the host process is listed as a sandbox process');
  } finally {
    rt.dispose();
  }
});

describe('hostile patterns end with a typed error, and the host is unharmed', () => {
  for (const c of CASES) {
    test(c.name, async (t) => {
      guard.label(c.name);
      let rt: ContractRuntime | undefined;
      if (c.call !== undefined) {
        const loaded = await settleWithin(SETTLE_MS, 'loadContract', () => loadContract(c.source, LIMITS));
        assert.ok(loaded.value !== undefined, `the contract does not load: ${String(loaded.error)}`);
        rt = loaded.value;
      }
      try {
        const watch = watchHost();
        const t0 = performance.now();
        const call = c.call;
        const outcome: Outcome<unknown> = await settleWithin(SETTLE_MS, c.name, () =>
          call !== undefined && rt !== undefined ? call(rt) : loadContract(c.source, LIMITS),
        );
        const ms = performance.now() - t0;
        const seen = watch.stop();
        const ended = outcome.error instanceof SandboxError ? outcome.error.code : 'a value';
        t.diagnostic(
          `${ended} after ${Math.round(ms)} ms; loop gap ${Math.round(seen.maxGapMs)} ms; sandbox VmHWM ${Math.round(seen.peakRssBytes / 2 ** 20)} MiB`,
        );
        if (outcome.error === undefined && c.accept !== undefined) c.accept(outcome.value);
        else typedError(outcome, c.codes);
        assert.ok(ms < SETTLE_MS, `took ${Math.round(ms)} ms`);
        assert.ok(seen.maxGapMs < MAX_LOOP_GAP_MS, `the host's event loop stalled for ${Math.round(seen.maxGapMs)} ms`);
        // A call's ceiling counts what its process held when it began (memoryCeiling); a peak
        // no higher than before the call was reached by an earlier one.
        const ceiling = Math.max(RSS_CEILING, rssCeiling(seen.heldBytes));
        assert.ok(
          seen.peakRssBytes <= Math.max(ceiling, seen.peakBeforeBytes),
          `a sandbox process reached ${Math.round(seen.peakRssBytes / 2 ** 20)} MiB resident (ceiling ${Math.round(ceiling / 2 ** 20)} MiB for a ${LIMITS.memoryLimitMiB} MiB cap, holding ${Math.round(seen.heldBytes / 2 ** 20)} MiB when it began)`,
        );

        // The host can still run honest contract code: the same runtime, a bystander, a new contract.
        if (rt !== undefined) {
          const again = await settleWithin(SETTLE_MS, 'the same runtime, honestly', () => rt!.runRange(0, 3));
          assert.deepEqual(again.value?.outputs, [0, 1, 2], String(again.error));
        }
        const other = await settleWithin(SETTLE_MS, 'the bystander', () => bystander.runRange(0, 4));
        assert.deepEqual(other.value?.outputs, [0, 2, 4, 6], String(other.error));
        const fresh = await settleWithin(SETTLE_MS, 'a fresh contract', async () => {
          const honest = await loadContract(HONEST_DOUBLE, LIMITS);
          try {
            return await honest.mcu(21);
          } finally {
            honest.dispose();
          }
        });
        assert.equal(fresh.value, 42, String(fresh.error));

        await assertNothingSpinning([...seen.pids, ...sandboxProcesses(), process.pid]);
      } finally {
        rt?.dispose();
      }
    });
  }
});

describe('Error.stack in results is the same in every call shape (normalised, or refused everywhere)', () => {
  /** What one call shape gave for index 0: its value, or its error code. */
  const shapeOf = (o: Outcome<JsonValue>) =>
    o.error === undefined
      ? { value: o.value }
      : { code: o.error instanceof SandboxError ? o.error.code : String(o.error) };

  test('a stack returned as an output', async () => {
    guard.label('Error.stack as an output');
    const rt = await loadContract(
      `${HEAD}function where() { return new Error('here').stack; }\nfunction mcu(x) { return x % 100 === 0 ? where() : x; }\n`,
      LIMITS,
    );
    try {
      const shapes = {
        mcu: await settleWithin(SETTLE_MS, 'mcu', () => rt.mcu(0)),
        runRange: await settleWithin(SETTLE_MS, 'runRange', async () => (await rt.runRange(0, 200)).outputs[0]!),
        outputRange: await settleWithin(
          SETTLE_MS,
          'outputRange',
          async () => outputList(await rt.outputRange(0, 200))[0]!,
        ),
        sampleAt: await settleWithin(SETTLE_MS, 'sampleAt', async () => (await rt.sampleAt([0, 7]))[0]!),
      };
      const seen = Object.fromEntries(Object.entries(shapes).map(([k, o]) => [k, shapeOf(o)]));
      for (const [k, v] of Object.entries(seen)) assert.deepEqual(v, seen.mcu, `${k} differs from mcu`);
      if (shapes.runRange.error === undefined) {
        // An honest Solver's rows pass the recomputation, whichever shape computed them.
        const rows = rangeRows(await rt.runRange(0, 200));
        assert.equal(await rt.validate(rows, SEED, 1000), true);
      }
    } finally {
      rt.dispose();
    }
  });

  test('a stack returned as an input', async () => {
    guard.label('Error.stack as an input');
    const rt = await loadContract(
      `const size = 1000;\nfunction where() { return new Error('here').stack; }\nfunction input(i) { return i % 100 === 0 ? where() : i; }\n${PASS_MCU}`,
      LIMITS,
    );
    try {
      const shapes = {
        input: await settleWithin(SETTLE_MS, 'input', () => rt.input(0)),
        runRange: await settleWithin(SETTLE_MS, 'runRange', async () => (await rt.runRange(0, 200)).inputs[0]!),
        inputRange: await settleWithin(SETTLE_MS, 'inputRange', async () => (await rt.inputRange(0, 200))[0]!),
        outputRange: await settleWithin(
          SETTLE_MS,
          'outputRange',
          async () => outputList(await rt.outputRange(0, 200))[0]!,
        ),
      };
      const seen = Object.fromEntries(Object.entries(shapes).map(([k, o]) => [k, shapeOf(o)]));
      for (const [k, v] of Object.entries(seen)) assert.deepEqual(v, seen.input, `${k} differs from input`);
      if (shapes.runRange.error === undefined) {
        const rows = rangeRows(await rt.runRange(0, 200));
        assert.equal(await rt.validate(rows, SEED, 1000), true);
      }
    } finally {
      rt.dispose();
    }
  });
});

test('shutdownSandboxes ends every sandbox process promptly, even after all of the above', async () => {
  guard.label('shutdownSandboxes');
  const pids = sandboxProcesses();
  const t0 = performance.now();
  shutdownSandboxes();
  const done = await settleWithin(2000, 'shutdownSandboxes', async () => {
    // SIGKILLed: gone within a moment, never waited on.
    while (pids.some((pid) => isAlive(pid)) && performance.now() - t0 < 1500)
      await new Promise((r) => setTimeout(r, 10));
  });
  assert.equal(done.error, undefined, String(done.error));
  const alive = pids.filter(isAlive);
  assert.deepEqual(alive, [], 'sandbox processes still alive after shutdownSandboxes');
});
