/**
 * Escape attempts in the style of vm2's published escape categories (issue 9):
 * constructor chains (vm2#32), __lookupGetter__ (vm2#184), a throwing getter
 * on Object.prototype (vm2#175), Error.prepareStackTrace and CallSite
 * getThis/getFunction (CVE-2022-36067), Promise species (GHSA-qvjj-29qf-hp7p),
 * microtask callbacks (CVE-2023-29017), Symbol.iterator on builtins
 * (CVE-2023-29199), SuppressedError / AggregateError wrapping (GHSA-55hx-c926-fr95,
 * GHSA-x965-fc75-jpqh), a custom inspect function (GHSA-v37h-5mfm-c47c),
 * WebAssembly (GHSA-ffh4-j6h5-pg66), call/apply indirection (GHSA-647f-g98j-qq25),
 * FinalizationRegistry callbacks (GHSA-r4fx-v8hh-22mv), host paths in stacks
 * (GHSA-x6m4-chr9-cg97), async functions' promises (CVE-2026-22709), and the
 * rest of the list in the issue.
 *
 * Each attempt runs `reach(v)`, which tries to turn `v` into the process
 * object, read its pid, write MARKER and set globalThis.__zi_pwned on the
 * global it found. None may succeed: the call ends in a JSON value or a
 * typed SandboxError within SETTLE_MS, no result or error names a pid or a
 * host path, no file appears, the host's global and intrinsics are unchanged,
 * and inspecting what came back runs no contract code.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { inspect } from 'node:util';
import {
  type ContractRuntime,
  loadContract,
  SandboxError,
  type SandboxErrorCode,
  type SandboxLimits,
  shutdownSandboxes,
} from '../../src/sandbox/index.ts';
import { outputList, outputsOf } from '../../src/sandbox/outputs.ts';
import { startHangGuard } from '../support/hang-guard.ts';
import { type Outcome, settleWithin } from '../support/sandbox.ts';

const LIMITS: Partial<SandboxLimits> = { memoryLimitMiB: 32, timeoutMs: 1000 };
const SETTLE_MS = 3000;
const REPO = resolve(import.meta.dirname, '..', '..');
const DIR = mkdtempSync(join(tmpdir(), 'zi-escape-'));
const MARKER = join(DIR, 'pwned');

const guard = startHangGuard({ stallMs: 15_000, exitMs: 5000 });

after(async () => {
  await shutdownSandboxes();
  rmSync(DIR, { recursive: true, force: true });
  guard.done();
});

/** Contract-side: every way `v` might lead out, tried in turn. 'pid:<n>' means one did. */
const PROBE = `const MARKER = ${JSON.stringify(MARKER)};
function reach(v) {
  const tries = [
    () => v,
    () => v.constructor.constructor('return this')().process,
    () => v.constructor.constructor('return typeof process === "undefined" ? undefined : process')(),
    () => Object.getPrototypeOf(v).constructor.constructor('return globalThis')().process,
  ];
  try { v.constructor.constructor('return globalThis')().__zi_pwned = 1; } catch {}
  for (const attempt of tries) {
    let p;
    try { p = attempt(); } catch { continue; }
    if (p === null || typeof p !== 'object' || typeof p.pid !== 'number') continue;
    try {
      const fs = typeof p.getBuiltinModule === 'function' ? p.getBuiltinModule('fs') : p.mainModule.require('fs');
      fs.writeFileSync(MARKER, 'pwned');
    } catch {}
    return 'pid:' + p.pid;
  }
  return 'safe';
}
`;
const HEAD = 'const size = 1000;\nfunction input(i) { return i; }\n';

/** A contract whose mcu runs `body`. */
const inMcu = (body: string, extra = '') => `${PROBE}${HEAD}${extra}function mcu(x) {\n${body}\n}\n`;
/** A contract whose top level runs `code`, which sets `found`; mcu returns it. */
const atTop = (code: string) => `${PROBE}${HEAD}let found = 'unset';\n${code}\nfunction mcu(x) { return found; }\n`;

interface EscapeCase {
  name: string;
  source: string;
  /** The call made; mcu(0) unless said. */
  call?: (rt: ContractRuntime) => Promise<unknown>;
  /** When set, the attempt must end in one of these typed errors. */
  codes?: readonly SandboxErrorCode[];
}

const CASES: EscapeCase[] = [
  // Constructor chains.
  { name: 'globalThis.constructor.constructor', source: inMcu('return reach(globalThis);') },
  {
    name: "an object literal's constructor chain",
    source: inMcu('return [reach({}), reach([]), reach(/x/), reach(new Error())];'),
  },
  {
    name: "the contract's own functions' constructor chain",
    source: inMcu('return [reach(mcu), reach(input), reach(reach)];'),
  },
  { name: 'sloppy Function("return this")', source: inMcu("return reach(Function('return this')());") },
  {
    name: 'caller chain from a sloppy function',
    source: inMcu(
      "const up = Function('return function up() { const seen = []; let f = up.caller; for (let k = 0; f && k < 10; k++) { seen.push(f); f = f.caller; } return seen; }')();\nreturn up().map(reach);",
    ),
  },
  {
    name: '__lookupGetter__("__proto__") on functions (vm2#184)',
    source: inMcu(
      "const proto = ({}).__lookupGetter__('__proto__');\nreturn [reach(proto.call(mcu)), reach(proto.call(proto)), reach(proto.call(Object.prototype.__lookupGetter__))];",
    ),
  },
  {
    name: 'a throwing getter on Object.prototype.get catches a function (vm2#175)',
    source: inMcu(`Object.defineProperty(Object.prototype, 'get', {
  configurable: true,
  get() { throw (f) => reach(f); },
});
try {
  Object.defineProperty({}, 'x', {});
  return 'no throw';
} catch (e) {
  return typeof e === 'function' ? e(() => {}) : reach(e);
} finally {
  delete Object.prototype.get;
}`),
  },

  // Stack traces.
  {
    name: 'Error.prepareStackTrace: CallSite getThis / getFunction (CVE-2022-36067)',
    source: inMcu(`Error.prepareStackTrace = (e, frames) => frames;
const frames = new Error('x').stack;
Error.prepareStackTrace = undefined;
const found = [];
if (Array.isArray(frames)) {
  for (const f of frames) {
    for (const m of ['getThis', 'getFunction', 'getTypeName', 'getFileName', 'getEvalOrigin']) {
      try { const v = f[m](); found.push(typeof v === 'string' ? v : reach(v)); } catch { found.push('throws'); }
    }
  }
}
return found;`),
  },
  {
    name: 'Error.captureStackTrace with prepareStackTrace',
    source: inMcu(`const o = {};
Error.prepareStackTrace = (e, frames) => frames.map((f) => [reach(f.getThis()), reach(f.getFunction())]);
Error.captureStackTrace(o);
const found = o.stack;
Error.prepareStackTrace = undefined;
return found;`),
  },
  {
    name: "prepareStackTrace from the top level runs on the harness's own stack reads",
    source: `${PROBE}${HEAD}Error.prepareStackTrace = (e, frames) => {
  for (const f of frames) { reach(f.getThis()); reach(f.getFunction()); }
  return { get toString() { return reach(globalThis); } };
};
function mcu(x) { throw new Error('read my stack'); }
`,
    codes: ['THROWN'],
  },
  {
    name: 'stacks name no host file (GHSA-x6m4)',
    source: inMcu(
      "let caught;\ntry { null.x; } catch (e) { caught = e.stack; }\nreturn [new Error('x').stack, caught, new RangeError().stack];",
    ),
  },

  // Species, iterators, call indirection.
  {
    name: 'Symbol.species on an Array subclass returned from mcu',
    source: inMcu(`const found = [];
class Evil extends Array { static get [Symbol.species]() { found.push(reach(this)); return Array; } }
const a = Evil.from([1, 2]).map((v) => v);
return [a, found];`),
  },
  {
    name: "Symbol.species on Array, reached by the harness's own concat (unionRows)",
    source: `${PROBE}${HEAD}function mcu(x) { return x; }
Object.defineProperty(Array, Symbol.species, {
  configurable: true,
  get() { reach(this); return function Evil(n) { reach(new.target); return new Proxy([], { get: (t, k) => (reach(t), t[k]) }); }; },
});
`,
    call: (rt) =>
      rt.unionRows([
        { start: 0, outputs: outputsOf([0, 1]) },
        { start: 2, outputs: outputsOf([2]) },
      ]),
  },
  {
    name: 'Promise species (GHSA-qvjj-29qf-hp7p)',
    source: inMcu(`class P extends Promise {
  static get [Symbol.species]() { return function (exec) { exec((v) => reach(v), (e) => reach(e)); }; }
}
P.resolve(1).then(() => reach(globalThis));
return 'returned';`),
  },
  {
    name: 'Symbol.iterator replaced on Array, String and Map prototypes (CVE-2023-29199)',
    source: atTop(`const seen = [];
for (const C of [Array, String, Map, Set]) {
  const iter = C.prototype[Symbol.iterator];
  C.prototype[Symbol.iterator] = function () { if (seen.length < 20) seen.push(reach(this)); return iter.call(this); };
}
found = seen;`),
  },
  {
    name: 'Function.prototype.call / apply / bind and Reflect.apply replaced (GHSA-647f)',
    source: atTop(`const seen = [];
const apply = Reflect.apply;
const wrap = (orig) => function (...a) { if (seen.length < 20) seen.push(reach(this)); return apply(orig, this, a); };
Function.prototype.call = wrap(Function.prototype.call);
Function.prototype.apply = wrap(Function.prototype.apply);
Function.prototype.bind = wrap(Function.prototype.bind);
Reflect.apply = function (f, t, a) { if (seen.length < 20) seen.push(reach(f), reach(t)); return apply(f, t, a); };
found = seen;`),
  },
  {
    name: 'Reflect tricks',
    source: inMcu(`return [
  Reflect.construct(Function, ['return typeof process'])(),
  reach(Reflect.apply(Function.prototype.call, Function, [null, 'return globalThis'])()),
  reach(Reflect.getPrototypeOf(Reflect)),
  Reflect.ownKeys(Reflect.getPrototypeOf(globalThis)).map(String),
  typeof Reflect.get(globalThis, 'process'),
  Reflect.set(Object.prototype, 'polluted', 1),
];`),
  },

  // Promises and thenables.
  {
    name: 'a Promise returned from mcu',
    source: inMcu('return Promise.resolve(reach(globalThis));'),
    codes: ['NON_JSON_RESULT'],
  },
  {
    name: 'a thenable returned from mcu',
    source: inMcu('return { then(resolve) { resolve(reach(resolve)); } };'),
    codes: ['NON_JSON_RESULT'],
  },
  {
    name: 'a thenable with a non-enumerable then',
    source: inMcu("return Object.defineProperty({ a: 1 }, 'then', { value: (resolve) => resolve(reach(resolve)) });"),
  },
  {
    name: "microtasks queued by mcu run after it returns (CVE-2023-29017, an async function's promise: CVE-2026-22709)",
    source: inMcu(`const f = async () => reach(globalThis);
f().then((v) => reach(v));
Promise.resolve().then(() => { reach(Promise); reach(Promise.prototype.then); });
if (typeof queueMicrotask === 'function') queueMicrotask(() => reach(globalThis));
return 'returned';`),
  },

  // Values that run code when read.
  {
    name: 'getters on returned values',
    source: inMcu(`let reads = 0;
return { get a() { return reach(globalThis); }, get b() { if (reads++ > 0) throw new Error('read twice'); return 1; } };`),
  },
  {
    name: 'a Proxy returned from mcu',
    source: inMcu(`return new Proxy({}, {
  get(t, k) { return reach(globalThis); },
  getPrototypeOf() { reach(globalThis); return Object.prototype; },
  ownKeys() { return ['a']; },
  getOwnPropertyDescriptor() { return { value: reach(globalThis), enumerable: true, configurable: true }; },
});`),
  },
  {
    name: 'a Proxy thrown from mcu',
    source: inMcu("throw new Proxy(new Error('x'), { get(t, k) { reach(globalThis); return t[k]; } });"),
    codes: ['THROWN'],
  },
  {
    name: 'a thrown value with a custom inspect function (GHSA-v37h)',
    source: inMcu(
      "throw { name: 'Error', message: 'inspect me', [Symbol.for('nodejs.util.inspect.custom')]() { return reach(globalThis); } };",
    ),
    codes: ['THROWN'],
  },
  {
    name: 'AggregateError wrapping a Proxy (GHSA-x965)',
    source: inMcu(
      "throw new AggregateError([new Proxy({}, { get: () => reach(globalThis) }), { toString: () => reach(globalThis) }], 'agg');",
    ),
    codes: ['THROWN'],
  },
  {
    name: 'SuppressedError wrapping errors (GHSA-55hx)',
    source: inMcu(`if (typeof SuppressedError !== 'function') throw new Error('no SuppressedError');
throw new SuppressedError(new Proxy(new Error('a'), { get: (t, k) => (reach(globalThis), t[k]) }), new Error('b'), 'sup');`),
    codes: ['THROWN'],
  },
  {
    name: 'prototype pollution of the host through a returned value',
    source: inMcu(
      'return JSON.parse(\'{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 1}}, "a": [{"__proto__": {"polluted": 1}}]}\');',
    ),
  },
  {
    name: 'prototype pollution of the host through a range column',
    source: inMcu('return x === 1 ? JSON.parse(\'{"__proto__": {"polluted": 1}, "toString": "x"}\') : x;'),
    call: async (rt) => outputList(await rt.outputRange(0, 3)),
  },

  // Machine-dependent and shared-memory APIs.
  {
    name: 'WebAssembly',
    source: inMcu('return typeof new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));'),
    codes: ['NONDETERMINISTIC'],
  },
  {
    name: 'WebAssembly after deleting the trap, or through Function',
    source: inMcu(
      "delete globalThis.WebAssembly;\nconst W = Function('return typeof WebAssembly === \"undefined\" ? undefined : WebAssembly')();\nreturn W === undefined ? 'gone' : typeof new W.Memory({ initial: 1, maximum: 1, shared: true }).buffer;",
    ),
  },
  {
    name: 'SharedArrayBuffer and Atomics',
    source: inMcu(
      'const sab = new SharedArrayBuffer(16);\nAtomics.wait(new Int32Array(sab), 0, 0, 10);\nreturn sab.byteLength;',
    ),
    codes: ['NONDETERMINISTIC'],
  },
  {
    name: 'FinalizationRegistry callbacks (GHSA-r4fx)',
    source: inMcu('new FinalizationRegistry(() => { for (;;) {} }).register({}, 1);\nreturn 1;'),
    codes: ['NONDETERMINISTIC'],
  },

  // Probing for the host.
  {
    name: 'import() of a Node module',
    source: inMcu("return import('node:fs').then((fs) => fs.writeFileSync(MARKER, 'pwned'));"),
  },
  {
    name: 'require, process, module and the global object probed',
    source: inMcu(`const names = Reflect.ownKeys(globalThis).map(String);
const values = [];
for (const n of names) {
  const d = Object.getOwnPropertyDescriptor(globalThis, n);
  if (d && 'value' in d) values.push(reach(d.value));
}
return { names, values, types: ['process', 'require', 'module', 'exports', 'Buffer', 'global', '$0', '_ivm', 'ivm'].map((n) => Function('return typeof ' + n)()) };`),
  },
  {
    name: 'async function, generator and async generator constructors',
    source:
      inMcu(`const ctors = [(async () => {}).constructor, function* () {}.constructor, async function* () {}.constructor];
return ctors.map((F) => {
  try {
    const r = F('return typeof process')();
    return typeof r === 'object' && r !== null && typeof r.next === 'function' ? typeof r.next() : typeof r;
  } catch { return 'throws'; }
}).concat(ctors.map(reach));`),
  },
  {
    name: "Function.prototype.toString of the harness's functions",
    source:
      inMcu(`const fns = [Object.getOwnPropertyDescriptor(globalThis, 'Date').get, Object.getOwnPropertyDescriptor(globalThis, 'Date').set,
  console.log, Math.random, String.prototype.localeCompare];
return fns.map((f) => [Function.prototype.toString.call(f).slice(0, 300), reach(f)]);`),
  },
  {
    name: 'structuredClone, MessageChannel and postMessage',
    source: inMcu(
      "return [typeof structuredClone === 'function' ? structuredClone({ a: 1 }) : 'absent', typeof MessageChannel, typeof postMessage];",
    ),
  },
  {
    name: 'eval and new Function at top level',
    source: atTop(
      "found = [reach((0, eval)('this')), (0, eval)('typeof process'), new Function('return typeof require')(), reach(new Function('return this')())];",
    ),
  },
];

/** Own keys and property identities of the host's intrinsics, to see whether anything changed them. */
function snapshot(): Map<string, unknown[]> {
  const roots: Record<string, object> = {
    'Object.prototype': Object.prototype,
    'Array.prototype': Array.prototype,
    'Function.prototype': Function.prototype,
    'Promise.prototype': Promise.prototype,
    'Error.prototype': Error.prototype,
    'String.prototype': String.prototype,
    Object,
    Array,
    Promise,
    Error,
    JSON,
    Reflect,
  };
  const out = new Map<string, unknown[]>();
  for (const [name, root] of Object.entries(roots)) {
    for (const key of Reflect.ownKeys(root)) {
      const d = Object.getOwnPropertyDescriptor(root, key)!;
      out.set(`${name}.${String(key)}`, [d.value, d.get, d.set, d.writable, d.enumerable, d.configurable]);
    }
  }
  out.set('globalThis keys', Reflect.ownKeys(globalThis).map(String).sort());
  return out;
}

const HOST_BEFORE = snapshot();

function assertHostUnchanged(): void {
  assert.equal((globalThis as Record<string, unknown>).__zi_pwned, undefined, 'a host global was set');
  assert.equal(existsSync(MARKER), false, 'contract code wrote a file on the host');
  assert.equal(({} as Record<string, unknown>).polluted, undefined, "the host's Object.prototype was polluted");
  const now = snapshot();
  for (const [key, before] of HOST_BEFORE) assert.deepEqual(now.get(key), before, `${key} changed on the host`);
  assert.equal(now.size, HOST_BEFORE.size, 'host intrinsics gained properties');
}

/**
 * What the host does with a result or an error anyway (log it with its cause,
 * copy it, re-encode it), none of which may run contract code; returns the
 * text that came from the sandbox: the value, or the error's message and meta.
 */
function handleLikeTheHost(outcome: Outcome<unknown>): string {
  if (outcome.error !== undefined) {
    const err = outcome.error as SandboxError;
    inspect(err, { showHidden: true, depth: 10, getters: true });
    inspect(err.cause, { showHidden: true, depth: 10, getters: true });
    return `${err.message}\n${JSON.stringify(err.meta ?? null)}`;
  }
  const v = outcome.value;
  inspect(v, { showHidden: true, depth: 10, getters: true });
  Object.assign({}, v);
  structuredClone(v);
  return JSON.stringify(v);
}

describe('escape attempts reach no host object and change no host state', () => {
  for (const c of CASES) {
    test(c.name, async (t) => {
      guard.label(c.name);
      let rt: ContractRuntime | undefined;
      try {
        const outcome = await settleWithin(SETTLE_MS, c.name, async () => {
          rt = await loadContract(c.source, LIMITS);
          return c.call !== undefined ? c.call(rt) : rt.mcu(0);
        });
        if (outcome.error !== undefined) {
          const err = outcome.error;
          assert.ok(err instanceof SandboxError, `not a typed error: ${inspect(err)}`);
          if (c.codes !== undefined) assert.ok(c.codes.includes(err.code), `${err.code}: ${err.message}`);
        } else {
          assert.equal(c.codes, undefined, `expected ${c.codes?.join('/')}, got ${JSON.stringify(outcome.value)}`);
        }
        const text = handleLikeTheHost(outcome);
        t.diagnostic(outcome.error instanceof SandboxError ? outcome.error.code : `value ${text.slice(0, 100)}`);
        assert.doesNotMatch(text, /pid:\d/, 'contract code reached a process object');
        assert.ok(
          !text.includes(REPO),
          `a host path reached contract code: ${text.slice(text.indexOf(REPO) - 80, text.indexOf(REPO) + 80)}`,
        );
        // Microtasks and callbacks the attempt left behind get their chance too.
        await new Promise((r) => setTimeout(r, 20));
        assertHostUnchanged();
      } finally {
        rt?.dispose();
      }
    });
  }
});
