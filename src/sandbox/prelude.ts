/**
 * The trusted script that runs first in every fresh sandbox context, before
 * the contract's own top level. It
 *  - captures the builtins it needs, so later tampering cannot reach it;
 *  - replaces every machine-dependent API (clock, randomness, timers, locale,
 *    GC observation, shared memory, WebAssembly) with a trap that records the
 *    touch, so a contract that catches the trap's exception still fails with
 *    NONDETERMINISTIC;
 *  - leaves the intrinsics unfrozen: freezing Object.prototype or
 *    Array.prototype makes V8 drop its fast array paths (measured 7-10x
 *    slower array stores, in contract code too). The harness instead never
 *    depends on anything the contract can change: captured builtins,
 *    null-prototype objects, typed arrays, values re-checked as they are
 *    encoded, and a host that validates every reply's shape. A contract
 *    that tampers with its realm only changes its own results, and the
 *    realm is rebuilt for every call;
 *  - evaluates to `run(op, a, b)`, the one entry point the host calls. It
 *    runs the contract's top level (a strict indirect eval of the embedded
 *    source, so every call starts from the same state and nothing the
 *    contract throws ever crosses to the host: isolated-vm copies a thrown
 *    object by reading its properties outside any time limit, so a hostile
 *    getter there would hang a host thread), then the operation. It returns
 *    'o' + JSON of the result, or 'e' + JSON of a failure { code, message,
 *    … }, or for a range the array [inputKind, inputData, outputKind,
 *    outputData] of two encoded columns; sizes are bounded before anything
 *    leaves the isolate.
 *
 * The returned source is plain JavaScript run inside the isolate, not host code.
 */

import { COLUMN_BOOL, COLUMN_F64, COLUMN_TEXT, COLUMN_VEC, VEC_MAX_WIDTH } from './columns.ts';
import { SAMPLING_SOURCE } from './sampling.ts';

export interface PreludeLimits {
  /** Largest result a call may return, in bytes (see SandboxLimits.maxResultBytes). */
  maxResultBytes: number;
  /** Deepest nesting of arrays/objects in one input or output value. */
  maxDepth: number;
  /** The filename contract code is compiled under; used to find lines in stacks. */
  filename: string;
}

/**
 * Makes contract code strict without moving its lines: the directive shares
 * line 1, so only columns on line 1 shift (and are shifted back in reports).
 */
export const STRICT_PREFIX = '"use strict";';

/**
 * The contract source as the harness evaluates it: strict, followed by an
 * expression whose value (the completion value of the eval) hands over the
 * runtime's names. The contract parsed as a complete script on its own, so
 * the leading `;` and newline cannot join the trailer to its last statement.
 * `void 0` because the contract may declare a local named `undefined`.
 */
function evaluatedSource(source: string, filename: string): string {
  const pick = (n: string) => `typeof ${n} === 'undefined' ? void 0 : ${n}`;
  return `${STRICT_PREFIX}${source}\n;[${['size', 'input', 'mcu', 'union', 'validate'].map(pick).join(', ')}]\n//# sourceURL=${filename}\n`;
}

/** The harness for one contract; compiled once per isolate, run once per call. */
export function preludeSource(source: string, limits: PreludeLimits): string {
  return `'use strict';
(() => {
const SOURCE = ${JSON.stringify(evaluatedSource(source, limits.filename))};
const PREFIX_COLUMNS = ${STRICT_PREFIX.length};
const evaluate = eval;
const MAX_RESULT_BYTES = ${limits.maxResultBytes | 0};
const MAX_DEPTH = ${limits.maxDepth | 0};
const MAX_MESSAGE = 2000;
const g = globalThis;
const defineProperty = Object.defineProperty;
const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const getPrototypeOf = Object.getPrototypeOf;
const setPrototypeOf = Object.setPrototypeOf;
const keys = Object.keys;
const isArray = Array.isArray;
const ArrayCtor = Array;
const Float64ArrayCtor = Float64Array;
const Uint8ArrayCtor = Uint8Array;
const isSafeInteger = Number.isSafeInteger;
const stringify = JSON.stringify;
const parse = JSON.parse;
const apply = Reflect.apply;
const regexpExec = RegExp.prototype.exec;
const stringSlice = String.prototype.slice;
const StringCtor = String;
const TypeErrorCtor = TypeError;
const parseIntFn = parseInt;
const CONTRACT_FILE = ${JSON.stringify(limits.filename)};
const ObjectPrototype = Object.prototype;
const LINE_RE = new RegExp(${JSON.stringify(`${escapeRegExp(limits.filename)}:(\\d+):(\\d+)`)});
const StackOverflow = 'Maximum call stack size exceeded';

// First machine-dependent API touched in this context. Contexts are fresh for
// every host call, so this never carries over between calls.
let touched = null;
const trap = (api) => function () {
  if (touched === null) touched = api;
  throw new TypeErrorCtor(api + ' is not available to contract code: its result depends on the machine');
};

// Globals that are clocks, entropy, schedulers, GC probes or shared memory.
// WebAssembly is refused too: NaN bit patterns and relaxed SIMD differ between
// machines, and its memory and compilation escape the isolate's caps.
const TRAPPED_GLOBALS = ['Date', 'Intl', 'performance', 'crypto', 'setTimeout', 'setInterval', 'setImmediate',
  'clearTimeout', 'clearInterval', 'clearImmediate', 'WebAssembly', 'SharedArrayBuffer', 'Atomics', 'WeakRef',
  'FinalizationRegistry'];
for (let k = 0; k < TRAPPED_GLOBALS.length; k++) {
  const name = TRAPPED_GLOBALS[k];
  defineProperty(g, name, { __proto__: null, configurable: true, enumerable: false, get: trap(name),
    // A contract may still bind the name to its own value; only reading the
    // machine's one is refused.
    set(value) { defineProperty(g, name, { __proto__: null, value, writable: true, enumerable: true, configurable: true }); } });
}
Math.random = trap('Math.random');
// Locale-sensitive methods answer according to the host's ICU default locale.
String.prototype.localeCompare = trap('String.prototype.localeCompare');
String.prototype.toLocaleLowerCase = trap('String.prototype.toLocaleLowerCase');
String.prototype.toLocaleUpperCase = trap('String.prototype.toLocaleUpperCase');
Number.prototype.toLocaleString = trap('Number.prototype.toLocaleString');
BigInt.prototype.toLocaleString = trap('BigInt.prototype.toLocaleString');
Array.prototype.toLocaleString = trap('Array.prototype.toLocaleString');
getPrototypeOf(Int8Array).prototype.toLocaleString = trap('TypedArray.prototype.toLocaleString');
// Output would go nowhere useful; a no-op keeps debugging calls harmless.
const noop = function () {};
g.console = { log: noop, info: noop, warn: noop, error: noop, debug: noop, trace: noop, dir: noop, table: noop };

// Stack traces are part of what contract code can read (and return), so
// they must not depend on how the host called in (runRange, sampleAt and
// validate reach mcu through different harness frames) or on the machine:
// every stack is the error's header and the contract's own frames only, as
// "at NAME (contract.js:LINE:COLUMN)", columns as in the contract's source.
// Locked, so contract code cannot install a formatter that sees the
// harness's frames; stackTraceLimit too, so the frames kept do not vary.
const ErrorCtor = Error;
const headerOf = (err) => {
  let name = 'Error';
  let message = '';
  try {
    if ((typeof err === 'object' && err !== null) || typeof err === 'function') {
      const n = err.name;
      const m = err.message;
      if (typeof n === 'string') name = n;
      if (typeof m === 'string') message = m;
    }
  } catch {
    message = '';
  }
  return name === '' ? message : message === '' ? name : name + ': ' + message;
};
defineProperty(ErrorCtor, 'prepareStackTrace', { __proto__: null, writable: false, configurable: false, enumerable: false,
  value: function prepareStackTrace(err, frames) {
    let out = headerOf(err);
    for (let k = 0; k < frames.length; k++) {
      const f = frames[k];
      if (f.getScriptNameOrSourceURL() !== CONTRACT_FILE) continue;
      const line = f.getLineNumber();
      const col = line === 1 ? f.getColumnNumber() - PREFIX_COLUMNS : f.getColumnNumber();
      const fn = f.getFunctionName();
      out += '\\n    at ' + (typeof fn === 'string' && fn !== '' ? fn + ' (' : '(') + CONTRACT_FILE + ':' + line + ':' + col + ')';
    }
    return out;
  } });
defineProperty(ErrorCtor, 'stackTraceLimit', { __proto__: null, value: 10, writable: false, configurable: false, enumerable: false });

// The sampling of DESIGN §4, the very functions the host runs
// (src/sandbox/sampling.ts), for a contract's own validate(rows, seed):
//   zi.sample(rows, seed)  the rows at the sampled indices of one contiguous batch
//   zi.sampleIndices(seed, from, count[, rate])  the indices themselves
// The rate defaults to the contract's sampleRate, as given to this call.
${SAMPLING_SOURCE}
let callRate = 10;
const HEX_RE = /^[0-9a-f]{64}$/;
const seedBytes = (seed) => {
  if (typeof seed !== 'string' || apply(regexpExec, HEX_RE, [seed]) === null) throw new TypeErrorCtor('a seed is 64 lowercase hex digits');
  const out = new Uint8ArrayCtor(32);
  for (let k = 0; k < 32; k++) out[k] = parseIntFn(apply(stringSlice, seed, [2 * k, 2 * k + 2]), 16);
  return out;
};
defineProperty(g, 'zi', { __proto__: null, writable: true, configurable: true, enumerable: false, value: Object.freeze({
  __proto__: null,
  sampleIndices: (seed, from, count, rate) => sampleIndices(seedBytes(seed), from, count, rate === undefined ? callRate : rate),
  sample: (rows, seed) => {
    if (!isArray(rows) || rows.length === 0) return [];
    const from = rows[0][0];
    const picked = sampleIndices(seedBytes(seed), from, rows.length, callRate);
    const out = [];
    for (let k = 0; k < picked.length; k++) out[k] = rows[picked[k] - from];
    return out;
  },
}) });

// A refusal raised by the harness itself, told apart from contract throws.
class Refusal {
  constructor(code, message) {
    this.code = code;
    this.message = message;
  }
}

// Encoded size of the values written so far in this call (8 per number, 1
// per boolean, about the JSON length otherwise). Bounds the work of a
// write, so a shared subtree referenced a million times (or a cycle) costs a
// refusal, not an exponential walk.
let spent = 0;
const tooLarge = () => new Refusal('RESULT_TOO_LARGE', 'the result exceeds ' + MAX_RESULT_BYTES + ' bytes');
const arraySort = Array.prototype.sort;
const arrayJoin = Array.prototype.join;

// What a non-JSON value is called in a refusal (an index i stands for mcu(input(i))).
const notJson = (what, problem) =>
  new Refusal('NON_JSON_RESULT', (typeof what === 'number' ? 'mcu(input(' + what + '))' : what) + ' is not JSON: it is or contains ' + problem);

// The one encoding of a value leaving the isolate: canonical JSON (RFC 8785:
// keys sorted by UTF-16 code units, numbers and strings as JSON.stringify
// writes them), written while it is checked and reading every property
// exactly once. So what is checked is what is written: no toJSON is ever
// consulted, and a getter or proxy trap cannot answer the check one way and
// the writer another. Depth and size are bounded as it goes.
const canon = (v, depth, what) => {
  switch (typeof v) {
    case 'number':
      if (v - v !== 0) throw notJson(what, 'a non-finite number (' + StringCtor(v) + ')');
      spent += 8;
      return '' + v;
    case 'boolean':
      spent += 1;
      return v ? 'true' : 'false';
    case 'string':
      spent += v.length + 2;
      if (spent > MAX_RESULT_BYTES) throw tooLarge();
      return stringify(v);
    case 'object': {
      spent += 2;
      if (v === null) return 'null';
      if (spent > MAX_RESULT_BYTES) throw tooLarge();
      if (depth >= MAX_DEPTH) throw notJson(what, 'a value nested deeper than ' + MAX_DEPTH + ' levels (or a cycle)');
      if (isArray(v)) {
        const n = v.length;
        if (!isSafeInteger(n) || n > MAX_RESULT_BYTES) throw tooLarge();
        let out = '[';
        for (let k = 0; k < n; k++) out += (k === 0 ? '' : ',') + canon(v[k], depth + 1, what);
        return out + ']';
      }
      const proto = getPrototypeOf(v);
      if (proto !== ObjectPrototype && proto !== null) throw notJson(what, 'an object that is not a plain object');
      const ks = keys(v);
      apply(arraySort, ks, []);
      let out = '{';
      for (let k = 0; k < ks.length; k++) {
        const key = ks[k];
        spent += key.length + 3;
        out += (k === 0 ? '' : ',') + stringify(key) + ':' + canon(v[key], depth + 1, what);
      }
      return out + '}';
    }
    case 'undefined':
      throw notJson(what, 'undefined');
    case 'function':
      throw notJson(what, 'a function');
    case 'bigint':
      throw notJson(what, 'a BigInt');
    case 'symbol':
      throw notJson(what, 'a symbol');
  }
  throw notJson(what, 'a value of type ' + typeof v);
};

// The canonical text of a whole result, with the size cap applied.
const textOf = (v, what) => {
  const text = canon(v, 0, what);
  if (text.length > MAX_RESULT_BYTES) throw tooLarge();
  return text;
};

// Column encodings of range results (src/sandbox/columns.ts, shared with
// the host's decoder): a column of finite numbers travels as a
// Float64Array, of booleans as a Uint8Array, of arrays of the same small
// number of finite numbers as one flat Float64Array; anything else as the
// canonical JSON text of the array. Formatting and parsing decimal numbers
// costs far more than most MCUs that return them.
const F64 = ${COLUMN_F64};
const BOOL = ${COLUMN_BOOL};
const TEXT = ${COLUMN_TEXT};
const VEC = ${COLUMN_VEC}; // VEC + m: arrays of m numbers, 1 <= m <= ${VEC_MAX_WIDTH}
const VEC_MAX = ${VEC_MAX_WIDTH};
const sizeOf = (data) => (typeof data === 'string' ? data.length : data.byteLength);

// name/message/line of anything thrown, read defensively: a thrown value may
// be a proxy or have throwing getters.
const describe = (err) => {
  let name = 'Error';
  let message = '';
  let line;
  let column;
  try {
    if ((typeof err === 'object' && err !== null) || typeof err === 'function') {
      const n = err.name;
      const m = err.message;
      const s = err.stack;
      if (typeof n === 'string') name = n;
      if (typeof m === 'string') message = m;
      if (typeof s === 'string') {
        const hit = apply(regexpExec, LINE_RE, [s]);
        if (hit !== null) {
          line = +hit[1];
          column = +hit[2];
        }
      }
    } else {
      name = typeof err;
      message = typeof err === 'symbol' ? 'a symbol' : StringCtor(err);
    }
  } catch {
    message = 'an exception whose properties throw';
  }
  if (message.length > MAX_MESSAGE) message = apply(stringSlice, message, [0, MAX_MESSAGE]) + '…';
  return { __proto__: null, name, message, line, column };
};

const fail = (code, message, extra) => 'e' + stringify({ __proto__: null, code, message, ...extra });

// The reply for anything thrown during a call.
const failure = (err, index) => {
  if (touched !== null) {
    return fail('NONDETERMINISTIC', touched + ' is not available to contract code: its result depends on the machine', { api: touched, index });
  }
  if (err instanceof Refusal) {
    const extra = err.code === 'RESULT_TOO_LARGE' ? { index, limit: MAX_RESULT_BYTES } : { index };
    return fail(err.code, err.message, extra);
  }
  const d = describe(err);
  if (d.name === 'RangeError' && d.message === StackOverflow) {
    return fail('STACK_OVERFLOW', 'contract code recursed past the stack limit', { line: d.line, column: d.column, index });
  }
  return fail('THROWN', 'contract code threw ' + d.name + ': ' + d.message, { name: d.name, line: d.line, column: d.column, index });
};

// Machine-dependent APIs fail the call even when the contract caught the trap.
const ok = (text) => (touched !== null ? failure(undefined, undefined) : 'o' + text);

// The default validation of DESIGN §4: the rows are one contiguous range,
// and at the sampled positions (offsets into the rows, drawn by the host
// from the seed: sampling.ts) input and output are recomputed and compared
// in canonical form; the input too, so a Solver cannot pair a right answer
// with a wrong question.
const defaultValidate = (input, mcu, rs, sample) => {
  if (!isArray(rs)) return false;
  const n = rs.length;
  for (let k = 0; k < n; k++) {
    const row = rs[k];
    if (!isArray(row) || row.length !== 3) return false;
    const i = row[0];
    if (!isSafeInteger(i) || i < 0 || (k > 0 && i !== rs[0][0] + k)) return false;
  }
  for (let s = 0; s < sample.length; s++) {
    const row = rs[sample[s]];
    if (row === undefined) return false;
    const i = row[0];
    const x = input(i);
    if (canon(x, 0, 'input(' + i + ')') !== canon(row[1], 0, "a row's input")) return false;
    if (canon(mcu(x), 0, i) !== canon(row[2], 0, "a row's output")) return false;
  }
  return true;
};

// The default validation straight on the columns: only the sampled rows'
// values are ever built (materialising every row costs ~0.5 us each in an
// isolate's small young generation).
const defaultValidateColumns = (input, mcu, cols, sample) => {
  const idx = cols[0];
  const n = idx.length;
  const xs = cols[1] === TEXT ? parse(cols[2]) : null;
  const ys = cols[3] === TEXT ? parse(cols[4]) : null;
  if ((xs !== null && (!isArray(xs) || xs.length !== n)) || (ys !== null && (!isArray(ys) || ys.length !== n))) return false;
  for (let k = 0; k < n; k++) {
    const i = idx[k];
    if (!isSafeInteger(i) || i < 0 || (k > 0 && i !== idx[0] + k)) return false;
  }
  for (let s = 0; s < sample.length; s++) {
    const k = sample[s];
    if (!(k >= 0 && k < n)) return false;
    const i = idx[k];
    const x = input(i);
    if (canon(x, 0, 'input(' + i + ')') !== canon(cellOf(cols[1], cols[2], k, xs), 0, "a row's input")) return false;
    if (canon(mcu(x), 0, i) !== canon(cellOf(cols[3], cols[4], k, ys), 0, "a row's output")) return false;
  }
  return true;
};
const cellOf = (kind, data, k, parsed) => {
  if (kind === TEXT) return parsed[k];
  if (kind === F64) return data[k];
  if (kind === BOOL) return data[k] === 1;
  const m = kind - VEC;
  const v = new ArrayCtor(m);
  for (let j = 0; j < m; j++) v[j] = data[k * m + j];
  return v;
};

// Rows for validate from the columns the host sent (see the host's
// encodeRows): indices as a Float64Array, inputs and outputs in the range
// encodings. The arrays are ordinary ones: they are the contract's to read.
const rowsOf = (cols) => {
  const idx = cols[0];
  const n = idx.length;
  const xs = decodeColumn(cols[1], cols[2], n);
  const ys = decodeColumn(cols[3], cols[4], n);
  const rs = new ArrayCtor(n);
  for (let k = 0; k < n; k++) rs[k] = [idx[k], xs[k], ys[k]];
  return rs;
};
const decodeColumn = (kind, data, n) => {
  if (kind === TEXT) return parse(data);
  const out = new ArrayCtor(n);
  if (kind === F64) for (let k = 0; k < n; k++) out[k] = data[k];
  else if (kind === BOOL) for (let k = 0; k < n; k++) out[k] = data[k] === 1;
  else {
    const m = kind - VEC;
    for (let k = 0; k < n; k++) {
      const v = new ArrayCtor(m);
      for (let j = 0; j < m; j++) v[j] = data[k * m + j];
      out[k] = v;
    }
  }
  return out;
};

// The paper's merged result in one call: the [index, input, output] rows of
// each paid batch (cols = [spans, kind0, data0, kind1, data1, …], spans =
// start, count, start, count, …; inputs recomputed here), folded pairwise
// like a balanced tree with the contract's union (or concatenation). One
// crossing in and one out, instead of every row crossing at every level.
const arrayConcat = Array.prototype.concat;
const unionRows = (input, union, cols) => {
  const spans = cols[0];
  let level = new ArrayCtor(spans.length / 2);
  for (let j = 0; j < level.length; j++) {
    const start = spans[2 * j];
    const n = spans[2 * j + 1];
    const ys = decodeColumn(cols[1 + 2 * j], cols[2 + 2 * j], n);
    const rows = new ArrayCtor(n);
    for (let k = 0; k < n; k++) {
      failedAt = start + k;
      rows[k] = [start + k, input(start + k), ys[k]];
    }
    level[j] = rows;
  }
  failedAt = undefined;
  while (level.length > 1) {
    const next = new ArrayCtor(Math.ceil(level.length / 2));
    for (let j = 0; j < next.length; j++) {
      const a = level[2 * j];
      const b = level[2 * j + 1];
      next[j] = b === undefined ? a : union !== undefined ? union(a, b) : apply(arrayConcat, a, [b]);
    }
    level = next;
  }
  const u = level.length === 0 ? [] : level[0];
  return ok(textOf(u, 'the result of union'));
};

// The index a range call failed at, for the error report.
let failedAt;

// A separate, small function: each call runs in a fresh context, so its JIT
// starts cold, and a small loop body tiers up within the first thousands of
// iterations.
const runRange = (input, mcu, from, n) => {
  const cx = column(n);
  const cy = column(n);
  let k = 0;
  try {
    for (; k < n; k++) {
      const x = input(from + k);
      put(cx, x, k, INPUT_OF, from + k);
      put(cy, mcu(x), k, MCU_OF, from + k);
    }
  } catch (err) {
    failedAt = from + k;
    throw err;
  }
  const dx = columnData(cx);
  const dy = columnData(cy);
  if (sizeOf(dx) + sizeOf(dy) > MAX_RESULT_BYTES) throw tooLarge();
  if (touched !== null) return failure(undefined, undefined);
  return [cx.kind, dx, cy.kind, dy];
};

// The reply of a call that fills one column.
const oneColumn = (c) => {
  const data = columnData(c);
  if (sizeOf(data) > MAX_RESULT_BYTES) throw tooLarge();
  if (touched !== null) return failure(undefined, undefined);
  return [c.kind, data];
};

// The outputs of a range alone: what a Solver sends (results carry no
// inputs), without filling an input column per MCU.
const outputRange = (input, mcu, from, n) => {
  const cy = column(n);
  let k = 0;
  try {
    for (; k < n; k++) put(cy, mcu(input(from + k)), k, MCU_OF, from + k);
  } catch (err) {
    failedAt = from + k;
    throw err;
  }
  return oneColumn(cy);
};

// The inputs of a range alone: what a validator needs to rebuild the
// [index, input, output] rows of results that carry outputs only.
const inputRange = (input, from, n) => {
  const cx = column(n);
  let k = 0;
  try {
    for (; k < n; k++) put(cx, input(from + k), k, INPUT_OF, from + k);
  } catch (err) {
    failedAt = from + k;
    throw err;
  }
  return oneColumn(cx);
};

// mcu(input(i)) at the given indices (a Float64Array the host drew from a
// seed): the authority compares them with a batch's outputs in one call,
// without sending the whole range's inputs in and out.
const sampleAt = (input, mcu, indices) => {
  const m = indices.length;
  const cy = column(m);
  let k = 0;
  try {
    for (; k < m; k++) put(cy, mcu(input(indices[k])), k, MCU_OF, indices[k]);
  } catch (err) {
    failedAt = indices[k];
    throw err;
  }
  return oneColumn(cy);
};

// One column of range results. It is filled speculatively as a typed array
// while its values are all finite numbers, all booleans, or all arrays of the
// same m finite numbers: far faster than growing an array, and values that
// are not kept die young instead of being promoted by the GC (measured: 10%
// of a Mandelbrot MCU). The first value that breaks the pattern moves the
// column to a generic array, checked value by value (slowValue).
const column = (n) => ({ kind: 0, f: new Float64ArrayCtor(n), g: null, m: 0, n });
const put = (c, v, k, of, i) => {
  if (c.g === null) {
    if (typeof v === 'number') {
      if (v - v === 0 && (c.kind === F64 || c.kind === 0)) {
        c.kind = F64;
        c.f[k] = v;
        return;
      }
    } else if (typeof v === 'boolean') {
      if (c.kind === BOOL || c.kind === 0) {
        c.kind = BOOL;
        c.f[k] = v ? 1 : 0;
        return;
      }
    } else if ((c.kind > VEC || c.kind === 0) && putVector(c, v, k)) {
      return;
    }
    toGeneric(c, k);
  }
  c.kind = TEXT;
  c.g[k] = slowValue(v, of, i);
};
const putVector = (c, v, k) => {
  if (!isArray(v)) return false;
  const m = v.length;
  if (c.kind === 0) {
    if (m < 1 || m > VEC_MAX) return false;
    if (c.n * m * 8 > MAX_RESULT_BYTES) throw tooLarge();
    c.kind = VEC + m;
    c.m = m;
    c.f = new Float64ArrayCtor(c.n * m);
  } else if (m !== c.m) {
    return false;
  }
  const f = c.f;
  for (let j = 0; j < m; j++) {
    const e = v[j];
    if (typeof e !== 'number' || e - e !== 0) return false;
    f[k * m + j] = e;
  }
  return true;
};
// The first k values of a typed column as a generic array of n slots.
// Generic arrays have no prototype: the contract may have put index
// accessors or a toJSON on Array.prototype, and those must not see or change
// what the harness stores and serialises.
const bareArray = (n) => {
  const a = new ArrayCtor(n);
  setPrototypeOf(a, null);
  return a;
};
// Once a value breaks the typed pattern the column is text: the canonical
// JSON of each value, written as it is checked (canon), the typed values
// before it rewritten as text.
const toGeneric = (c, k) => {
  const g = bareArray(c.n);
  const f = c.f;
  const m = c.m;
  for (let j = 0; j < k; j++) {
    if (c.kind === BOOL) g[j] = f[j] === 1 ? 'true' : 'false';
    else if (c.kind === F64) g[j] = '' + f[j];
    else {
      let t = '[';
      for (let e = 0; e < m; e++) t += (e === 0 ? '' : ',') + f[j * m + e];
      g[j] = t + ']';
    }
  }
  if (c.kind > VEC) spent += k * m * 8;
  else if (c.kind !== 0) spent += k * (c.kind === BOOL ? 1 : 8);
  c.g = g;
};
const columnData = (c) => {
  if (c.g !== null) {
    const text = '[' + apply(arrayJoin, c.g, [',']) + ']';
    if (text.length > MAX_RESULT_BYTES) throw tooLarge();
    return text;
  }
  if (c.kind !== BOOL) return c.f;
  const out = new Uint8ArrayCtor(c.n);
  for (let j = 0; j < c.n; j++) out[j] = c.f[j];
  return out;
};
const INPUT_OF = 1;
const MCU_OF = 2;
// The canonical text of a value off the fast path, with the running size bounded.
const slowValue = (v, of, i) => {
  const text = canon(v, 0, of === INPUT_OF ? 'input(' + i + ')' : i);
  if (spent > MAX_RESULT_BYTES) throw tooLarge();
  return text;
};

const exportProblem = (code, name, message) => fail(code, message, { name });

return function run(op, a, b) {
  let exports;
  try {
    exports = evaluate(SOURCE);
  } catch (err) {
    // eval's own SyntaxError has no frame in the contract; one thrown by the
    // contract's top level (JSON.parse, say) does.
    const d = describe(err);
    if (touched === null && d.name === 'SyntaxError' && d.line === undefined) {
      return fail('COMPILE_ERROR', 'contract code does not compile: ' + d.message);
    }
    return failure(err, undefined);
  }
  if (touched !== null) return failure(undefined, undefined);
  const size = exports[0];
  const input = exports[1];
  const mcu = exports[2];
  const union = exports[3];
  const validate = exports[4];
  if (size !== undefined && size !== null && !(isSafeInteger(size) && size >= 0)) {
    return exportProblem('BAD_EXPORT', 'size', 'size must be a non-negative integer or null, got ' + (typeof size === 'number' ? StringCtor(size) : typeof size));
  }
  if (input === undefined) return exportProblem('MISSING_EXPORT', 'input', 'contract code does not declare input');
  if (mcu === undefined) return exportProblem('MISSING_EXPORT', 'mcu', 'contract code does not declare mcu');
  if (typeof input !== 'function') return exportProblem('BAD_EXPORT', 'input', 'input must be a function, got ' + typeof input);
  if (typeof mcu !== 'function') return exportProblem('BAD_EXPORT', 'mcu', 'mcu must be a function, got ' + typeof mcu);
  if (union !== undefined && typeof union !== 'function') return exportProblem('BAD_EXPORT', 'union', 'union must be a function, got ' + typeof union);
  if (validate !== undefined && typeof validate !== 'function') return exportProblem('BAD_EXPORT', 'validate', 'validate must be a function, got ' + typeof validate);

  let index;
  failedAt = undefined;
  try {
    switch (op) {
      case 'load':
        // Spelled out: stringify would consult a toJSON the contract may
        // have put on Array.prototype.
        return ok('[' + (size === undefined || size === null ? 'null' : '' + size) + ',' + (union !== undefined) + ',' + (validate !== undefined) + ']');
      case 'runRange':
        return runRange(input, mcu, a, b);
      case 'outputRange':
        return outputRange(input, mcu, a, b);
      case 'inputRange':
        return inputRange(input, a, b);
      case 'sampleAt':
        return sampleAt(input, mcu, a[0]);
      case 'input': {
        index = a;
        return ok(textOf(input(a), 'input(' + a + ')'));
      }
      case 'mcu':
        return ok(textOf(mcu(parse(a)), 'the result of mcu'));
      case 'union': {
        if (union === undefined) return fail('BAD_ARGUMENT', 'the contract declares no union');
        return ok(textOf(union(parse(a), parse(b)), 'the result of union'));
      }
      case 'unionRows':
        return unionRows(input, union, a);
      case 'validate': {
        // b: [seed as 64 hex digits, sample rate, sampled offsets into the rows].
        callRate = b[1];
        let verdict;
        if (validate !== undefined) verdict = validate(typeof a === 'string' ? parse(a) : rowsOf(a), b[0]);
        else if (typeof a === 'string') verdict = defaultValidate(input, mcu, parse(a), b[2]);
        else verdict = defaultValidateColumns(input, mcu, a, b[2]);
        if (touched !== null) return failure(undefined, undefined);
        if (typeof verdict !== 'boolean') {
          return fail('BAD_RESULT', 'validate must return true or false, got ' + (verdict === null ? 'null' : typeof verdict));
        }
        return ok(verdict ? 'true' : 'false');
      }
    }
    return fail('BAD_ARGUMENT', 'unknown operation');
  } catch (err) {
    return failure(err, failedAt ?? index);
  }
};
})()
`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
