import { decodeExact, equalBytes, type Reader, Writer } from '../chain/encoding.ts';
import { DecodeError, ZiError } from '../chain/errors.ts';
import { type ContentCid, cidOf } from '../content/cid.ts';
import { MAX_BLOCK_BYTES } from '../content/store.ts';
import { VEC_MAX_WIDTH } from '../sandbox/columns.ts';
import { type JsonValue, MAX_JSON_DEPTH } from '../sandbox/limits.ts';
import { type Outputs, outputAt, outputCount, outputsOf } from '../sandbox/outputs.ts';
import { isCanonical, MAX_PAYOUT_RANGES, type Range, rangeCount, readRanges, writeRanges } from './ranges.ts';

/**
 * The results of one batch: what a Solver stores in IPFS and names by CID in
 * its payout. `outputs[k]` is the output of the k-th index covered by
 * `ranges`, ranges taken in order (see indexedOutputs).
 */
export interface ResultBatch {
  /** The contract id: the hash of the contract transaction (32 bytes). */
  contract: Uint8Array;
  /** Canonical half-open index ranges (sorted, apart, non-empty), as in the payout. */
  ranges: Range[];
  outputs: Outputs;
}

/** A result batch is one IPFS block. */
export const MAX_RESULTS_BYTES = MAX_BLOCK_BYTES;

/** A batch that cannot be encoded (the caller's values, not a peer's bytes). */
export class ResultsError extends ZiError<'BAD_VALUE' | 'TOO_LARGE'> {}

/**
 * Canonical JSON (the RFC 8785 rules for JSON values): no whitespace, object
 * keys sorted by UTF-16 code units, numbers and strings as ECMAScript's
 * JSON.stringify writes them (so -0 is written 0). Refuses what JSON cannot
 * carry exactly: non-finite numbers, undefined, functions, bigints, holes,
 * non-plain objects (a Date, a Map), cycles and nesting deeper than `maxDepth`.
 */
export function canonicalJson(value: unknown, maxDepth = MAX_JSON_DEPTH, maxLength = Infinity): string {
  let text: string;
  try {
    text = fastJson(value, 0, maxDepth);
  } catch (err) {
    if (err !== UNENCODABLE) throw err;
    // Find and name the offending value, off the fast path.
    throw explainUnencodable(value, maxDepth);
  }
  // UTF-8 never takes fewer bytes than UTF-16 code units, so this bounds the bytes too.
  if (text.length > maxLength) throw new ResultsError('TOO_LARGE', `JSON text longer than ${maxLength}`);
  return text;
}

const UNENCODABLE = Symbol('unencodable');

/** The encoder proper: builds no paths, and writes arrays of plain numbers with one native join. */
function fastJson(v: unknown, depth: number, maxDepth: number): string {
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) throw UNENCODABLE;
      // Number-to-string is the same algorithm in String() and JSON.stringify.
      return String(v);
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (depth >= maxDepth) throw UNENCODABLE;
      if (Array.isArray(v)) {
        const n = v.length;
        let numbers = true;
        for (let i = 0; i < n; i++) {
          const x = v[i];
          if (typeof x !== 'number' || !Number.isFinite(x)) {
            numbers = false;
            break;
          }
        }
        if (numbers) return `[${v.join(',')}]`;
        let s = '[';
        for (let i = 0; i < n; i++) {
          if (!(i in v)) throw UNENCODABLE;
          if (i > 0) s += ',';
          s += fastJson(v[i], depth + 1, maxDepth);
        }
        return `${s}]`;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw UNENCODABLE;
      const keys = Object.keys(v).sort();
      let s = '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (i > 0) s += ',';
        s += `${JSON.stringify(k)}:${fastJson((v as Record<string, unknown>)[k], depth + 1, maxDepth)}`;
      }
      return `${s}}`;
    }
    default:
      throw UNENCODABLE;
  }
}

function explainUnencodable(value: unknown, maxDepth: number): ResultsError {
  const walk = (v: unknown, depth: number, path: string): ResultsError | undefined => {
    const bad = (why: string) => new ResultsError('BAD_VALUE', `${path}: ${why}`, { path });
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return undefined;
    if (typeof v === 'number') return Number.isFinite(v) ? undefined : bad(`${v} is not a JSON number`);
    if (typeof v !== 'object') return bad(`a ${typeof v} is not JSON`);
    if (depth >= maxDepth) return bad(`nested deeper than ${maxDepth}`);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        if (!(i in v)) return bad(`hole at [${i}]`);
        const e = walk(v[i], depth + 1, `${path}[${i}]`);
        if (e) return e;
      }
      return undefined;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return bad('not a plain object');
    for (const k of Object.keys(v)) {
      const e = walk((v as Record<string, unknown>)[k], depth + 1, `${path}.${k}`);
      if (e) return e;
    }
    return undefined;
  };
  return walk(value, 0, '$') ?? new ResultsError('BAD_VALUE', 'not encodable as JSON');
}

/** First byte of every batch: the format, so a later one can be told apart. */
export const RESULTS_VERSION = 1;

/** Column kinds as written in a batch. */
const KIND_CODES = { bool: 1, f64: 2, vec: 3, json: 4 } as const;
const KIND_OF_CODE = ['', 'bool', 'f64', 'vec', 'json'] as const;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The one byte form of a batch (docs/CONTENT.md): version, contract id,
 * ranges as in the payout, then the outputs as one column: a bit per boolean,
 * eight bytes per number (little-endian IEEE 754), or canonical JSON for
 * anything else. Which column a batch has follows from its values alone.
 */
export function encodeResults(batch: ResultBatch): Uint8Array {
  if (!(batch.contract instanceof Uint8Array) || batch.contract.length !== 32) {
    throw new ResultsError('BAD_VALUE', 'the contract id is 32 bytes');
  }
  if (batch.ranges.length === 0 || batch.ranges.length > MAX_PAYOUT_RANGES || !isCanonical(batch.ranges)) {
    throw new ResultsError(
      'BAD_VALUE',
      `ranges must be 1 to ${MAX_PAYOUT_RANGES} sorted, non-empty, apart and not touching half-open ranges`,
    );
  }
  const count = rangeCount(batch.ranges);
  // JSON outputs take their typed column when they fit one: one batch, one form.
  const o = batch.outputs.kind === 'json' ? outputsOf(batch.outputs.values) : batch.outputs;
  if (outputCount(o) !== count) {
    throw new ResultsError('BAD_VALUE', `${count} indices but ${outputCount(o)} outputs`, {
      indices: count,
      outputs: outputCount(o),
    });
  }
  const data = columnBytes(o);
  const w = new Writer(64 + 16 * batch.ranges.length + data.length);
  w.u8(RESULTS_VERSION).bytes(batch.contract);
  writeRanges(w, batch.ranges, 2);
  w.u8(KIND_CODES[o.kind]);
  if (o.kind === 'vec') w.u8(o.width);
  const bytes = w.bytes(data).finish();
  if (bytes.length > MAX_RESULTS_BYTES) {
    throw new ResultsError('TOO_LARGE', `results of ${bytes.length} bytes exceed ${MAX_RESULTS_BYTES}`, {
      size: bytes.length,
    });
  }
  return bytes;
}

function columnBytes(o: Outputs): Uint8Array {
  switch (o.kind) {
    case 'bool': {
      const v = o.values;
      const out = new Uint8Array(Math.ceil(v.length / 8));
      for (let k = 0; k < v.length; k++) {
        const b = v[k];
        if (b !== 0 && b !== 1) throw new ResultsError('BAD_VALUE', `boolean output ${k} is ${b}, not 0 or 1`);
        out[k >> 3]! |= b << (k & 7);
      }
      return out;
    }
    case 'f64':
    case 'vec': {
      const v = o.values;
      if (o.kind === 'vec' && !(Number.isInteger(o.width) && o.width >= 1 && o.width <= VEC_MAX_WIDTH)) {
        throw new ResultsError('BAD_VALUE', `a vec column is 1 to ${VEC_MAX_WIDTH} numbers wide`);
      }
      if (v.length * 8 > MAX_RESULTS_BYTES) throw new ResultsError('TOO_LARGE', `results exceed ${MAX_RESULTS_BYTES}`);
      const out = new Uint8Array(v.length * 8);
      const view = new DataView(out.buffer);
      for (let k = 0; k < v.length; k++) {
        const x = v[k]!;
        if (!Number.isFinite(x)) throw new ResultsError('BAD_VALUE', `output number ${x} is not a JSON number`);
        // + 0: -0 is written 0, as JSON writes it.
        view.setFloat64(8 * k, x + 0, true);
      }
      return out;
    }
    case 'json': {
      // +1: the outputs sit one level down, in the array.
      const text = canonicalJson(o.values, MAX_JSON_DEPTH + 1, MAX_RESULTS_BYTES);
      return new TextEncoder().encode(text);
    }
  }
}

/**
 * Strict inverse of encodeResults: exactly the bytes encodeResults writes for
 * the batch they hold, so one batch has one CID. Sizes are checked against
 * the bytes before anything is allocated; NON_CANONICAL for another spelling
 * of a valid batch (JSON that is not canonical or fits a typed column, -0,
 * stray bits), BAD_VALUE or TRUNCATED/TRAILING_BYTES for malformed bytes.
 */
export function decodeResults(bytes: Uint8Array): ResultBatch {
  return decodeExact(bytes, MAX_RESULTS_BYTES, 'results', (r) => {
    const version = r.u8('results.version');
    if (version !== RESULTS_VERSION) {
      throw new DecodeError('BAD_VALUE', `results format ${version} is not known (this node reads ${RESULTS_VERSION})`);
    }
    const contract = r.bytes(32, 'results.contract');
    const ranges = readRanges(r, 2, MAX_PAYOUT_RANGES, 'results.ranges');
    if (ranges.length === 0) throw new DecodeError('BAD_VALUE', 'results name at least one range');
    const n = rangeCount(ranges);
    const kind = KIND_OF_CODE[r.u8('results.kind')];
    if (kind === undefined || kind === '') throw new DecodeError('BAD_VALUE', 'results hold an unknown column kind');
    const width = kind === 'vec' ? r.u8('results.width') : 1;
    if (width < 1 || width > VEC_MAX_WIDTH)
      throw new DecodeError('BAD_VALUE', `a vec column is 1 to ${VEC_MAX_WIDTH} wide`);
    const outputs = readColumn(r, kind, width, n);
    return { contract, ranges, outputs };
  });
}

function readColumn(r: Reader, kind: Outputs['kind'], width: number, n: number): Outputs {
  if (kind === 'json') {
    const data = r.bytes(r.remaining, 'results.outputs');
    let values: unknown;
    try {
      values = JSON.parse(utf8.decode(data));
    } catch (err) {
      // Bad UTF-8, a BOM, bad JSON, or nesting deep enough to exhaust the stack.
      throw new DecodeError('BAD_VALUE', `results are not UTF-8 JSON: ${(err as Error).message}`, {}, { cause: err });
    }
    if (!Array.isArray(values) || values.length !== n) {
      throw new DecodeError('BAD_VALUE', 'results.outputs holds one output per index of the ranges');
    }
    const o = outputsOf(values as JsonValue[]);
    if (o.kind !== 'json') throw new DecodeError('NON_CANONICAL', `results in JSON that fit a ${o.kind} column`);
    let again: string;
    try {
      again = canonicalJson(values, MAX_JSON_DEPTH + 1);
    } catch (err) {
      throw new DecodeError(
        'BAD_VALUE',
        `results hold a value out of bounds: ${(err as Error).message}`,
        {},
        { cause: err },
      );
    }
    if (!equalBytes(new TextEncoder().encode(again), data)) {
      throw new DecodeError('NON_CANONICAL', 'results are not in canonical JSON form');
    }
    return o;
  }
  const size = kind === 'bool' ? Math.ceil(n / 8) : 8 * width * n;
  // Before any allocation: the ranges may claim far more outputs than the bytes hold.
  if (size !== r.remaining) {
    throw new DecodeError('BAD_VALUE', `${n} outputs need ${size} bytes of results, not ${r.remaining}`);
  }
  const data = r.bytes(size, 'results.outputs');
  if (kind === 'bool') {
    const values = new Uint8Array(n);
    for (let k = 0; k < n; k++) values[k] = (data[k >> 3]! >> (k & 7)) & 1;
    if (n % 8 !== 0 && data[data.length - 1]! >> (n % 8) !== 0) {
      throw new DecodeError('NON_CANONICAL', 'unused bits of the last results byte must be 0');
    }
    return { kind, values };
  }
  const values = new Float64Array(width * n);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let k = 0; k < values.length; k++) {
    const x = view.getFloat64(8 * k, true);
    if (!Number.isFinite(x)) throw new DecodeError('BAD_VALUE', `results hold ${x}, not a JSON number`);
    if (x === 0 && 1 / x < 0) throw new DecodeError('NON_CANONICAL', 'results write -0 as 0');
    values[k] = x;
  }
  return kind === 'vec' ? { kind, width, values } : { kind, values };
}

/**
 * The CID a batch's bytes must have: CIDv1, raw, sha2-256 — what Helia and
 * Kubo assign to the same bytes, computed here without any IPFS node, so the
 * authority compares the Solver's claimed CID with the bytes it received.
 */
export function resultCid(bytes: Uint8Array): ContentCid {
  return cidOf(bytes);
}

/** The batch's outputs paired with their MCU indices, in order. */
export function indexedOutputs(batch: ResultBatch): Array<[index: number, output: JsonValue]> {
  const out: Array<[number, JsonValue]> = [];
  let k = 0;
  for (const r of batch.ranges) for (let i = r.start; i < r.end; i++) out.push([i, outputAt(batch.outputs, k++)]);
  return out;
}
