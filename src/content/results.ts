import { equalBytes } from '../chain/encoding.ts';
import { DecodeError, ZiError } from '../chain/errors.ts';
import { isCanonical, MAX_PAYOUT_RANGES, type Range, rangeCount } from '../market/ranges.ts';
import { type ContentCid, cidOf } from './cid.ts';
import { MAX_BLOCK_BYTES } from './store.ts';

/** A JSON value, as produced by contract code (the sandbox's JsonValue has the same shape). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

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
  outputs: JsonValue[];
}

/** A result batch is one IPFS block. */
export const MAX_RESULTS_BYTES = MAX_BLOCK_BYTES;
/** Nesting depth allowed inside one output (the sandbox's MAX_JSON_DEPTH). */
export const MAX_OUTPUT_DEPTH = 64;

/** A batch that cannot be encoded (the caller's values, not a peer's bytes). */
export class ResultsError extends ZiError<'BAD_VALUE' | 'TOO_LARGE'> {}

/**
 * Canonical JSON (the RFC 8785 rules for JSON values): no whitespace, object
 * keys sorted by UTF-16 code units, numbers and strings as ECMAScript's
 * JSON.stringify writes them (so -0 is written 0). Refuses what JSON cannot
 * carry exactly: non-finite numbers, undefined, functions, bigints, holes,
 * non-plain objects (a Date, a Map), cycles and nesting deeper than `maxDepth`.
 */
export function canonicalJson(value: unknown, maxDepth = MAX_OUTPUT_DEPTH, maxLength = Infinity): string {
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

const HEX64 = /^[0-9a-f]{64}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The one byte form of a batch: canonical JSON of
 * `{"contract":hex,"outputs":[…],"ranges":[[start,end],…]}` in UTF-8.
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
  if (batch.outputs.length !== count) {
    throw new ResultsError('BAD_VALUE', `${count} indices but ${batch.outputs.length} outputs`, {
      indices: count,
      outputs: batch.outputs.length,
    });
  }
  const doc = {
    contract: Buffer.from(batch.contract).toString('hex'),
    outputs: batch.outputs,
    ranges: batch.ranges.map((r) => [r.start, r.end]),
  };
  // +2: the outputs sit two levels down (the document, the outputs array).
  const text = canonicalJson(doc, MAX_OUTPUT_DEPTH + 2, MAX_RESULTS_BYTES);
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > MAX_RESULTS_BYTES) {
    throw new ResultsError('TOO_LARGE', `results of ${bytes.length} bytes exceed ${MAX_RESULTS_BYTES}`, {
      size: bytes.length,
    });
  }
  return bytes;
}

/**
 * Strict inverse of encodeResults: the bytes must be exactly what
 * encodeResults writes for the batch they hold (it re-encodes and compares),
 * so whitespace, key order, duplicate keys, number spellings or escapes that
 * differ are refused with NON_CANONICAL and one batch has one CID.
 */
export function decodeResults(bytes: Uint8Array): ResultBatch {
  if (bytes.length > MAX_RESULTS_BYTES) {
    throw new DecodeError('TOO_LARGE', `results of ${bytes.length} bytes exceed ${MAX_RESULTS_BYTES}`, {
      size: bytes.length,
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    // Bad UTF-8, a BOM, bad JSON, or nesting deep enough to exhaust the stack.
    throw new DecodeError('BAD_VALUE', `results are not UTF-8 JSON: ${(err as Error).message}`, {}, { cause: err });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new DecodeError('BAD_VALUE', 'results are a JSON object');
  }
  const keys = Object.keys(doc).sort().join(',');
  if (keys !== 'contract,outputs,ranges') {
    throw new DecodeError('BAD_VALUE', `results hold exactly contract, outputs and ranges, not ${keys}`);
  }
  const { contract, outputs, ranges } = doc as Record<string, unknown>;
  if (typeof contract !== 'string' || !HEX64.test(contract)) {
    throw new DecodeError('BAD_VALUE', 'results.contract is 64 lowercase hex digits');
  }
  if (!Array.isArray(ranges) || ranges.length === 0 || ranges.length > MAX_PAYOUT_RANGES) {
    throw new DecodeError('BAD_VALUE', `results.ranges is an array of 1 to ${MAX_PAYOUT_RANGES} ranges`);
  }
  const parsed: Range[] = ranges.map((r: unknown) => {
    if (!Array.isArray(r) || r.length !== 2 || !Number.isSafeInteger(r[0]) || !Number.isSafeInteger(r[1])) {
      throw new DecodeError('BAD_VALUE', 'each range is [start, end] with integer bounds');
    }
    return { start: r[0] as number, end: r[1] as number };
  });
  if (!isCanonical(parsed)) {
    throw new DecodeError('NON_CANONICAL', 'results.ranges must be sorted, non-empty, apart and not touching');
  }
  if (!Array.isArray(outputs) || outputs.length !== rangeCount(parsed)) {
    throw new DecodeError('BAD_VALUE', 'results.outputs holds one output per index of the ranges');
  }
  const batch: ResultBatch = {
    contract: new Uint8Array(Buffer.from(contract, 'hex')),
    ranges: parsed,
    outputs: outputs as JsonValue[],
  };
  let again: Uint8Array;
  try {
    again = encodeResults(batch);
  } catch (err) {
    throw new DecodeError(
      'BAD_VALUE',
      `results hold a value out of bounds: ${(err as Error).message}`,
      {},
      { cause: err },
    );
  }
  if (!equalBytes(again, bytes)) {
    throw new DecodeError('NON_CANONICAL', 'results are not in canonical JSON form');
  }
  return batch;
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
  for (const r of batch.ranges) for (let i = r.start; i < r.end; i++) out.push([i, batch.outputs[k++]!]);
  return out;
}
