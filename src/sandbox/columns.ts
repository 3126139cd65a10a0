/**
 * The column encoding of values crossing the sandbox boundary, one set of
 * constants for the prelude (which writes columns inside the isolate) and the
 * host (which reads them): a column of finite numbers is a Float64Array, of
 * booleans a Uint8Array, of arrays of the same small number m of finite
 * numbers one flat Float64Array (kind VEC + m), anything else canonical JSON
 * text of the whole array. These are the only definitions of the kinds: the
 * prelude's source text interpolates them, and outputs.ts (the host's
 * typed form of a column) takes its widest vector from here.
 */
import { SandboxError } from './errors.ts';
import type { JsonValue } from './limits.ts';

export const COLUMN_F64 = 1;
export const COLUMN_BOOL = 2;
export const COLUMN_TEXT = 3;
/** VEC + m, 1 ≤ m ≤ VEC_MAX_WIDTH: arrays of m finite numbers. */
export const COLUMN_VEC = 100;
export const VEC_MAX_WIDTH = 16;

export type Column = Float64Array | Uint8Array | string;

/** One solved MCU as `validate` sees it: [index, input, output]. */
export type ResultRow = [index: number, input: JsonValue, output: JsonValue];

export const badShape = (op: string) => new SandboxError('BAD_RESULT', 'range results have the wrong shape', { op });

/**
 * JSON text parsed only after its nesting was counted, so a value deeper
 * than `maxDepth` never becomes a host object (the walk reads characters,
 * runs no code of the text's author, and skips string contents).
 */
export function parseBoundedJson(text: string, maxDepth: number, op: string): JsonValue {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, stepping over escapes.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) {
        throw new SandboxError('NON_JSON_RESULT', `${op}: a value is nested deeper than ${maxDepth} levels`, {
          op,
          limit: maxDepth,
        });
      }
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw new SandboxError('BAD_RESULT', `${op}: the sandbox returned text that is not JSON`, { op });
  }
}

/** One column back to JSON values; BAD_RESULT if it does not hold exactly `count`. */
export function decodeColumn(kind: unknown, data: unknown, count: number, maxDepth: number, op: string): JsonValue[] {
  const out: JsonValue[] = new Array(count);
  if (kind === COLUMN_F64 && data instanceof Float64Array && data.length === count) {
    // + 0 turns -0 into 0, as a JSON round trip would.
    for (let k = 0; k < count; k++) out[k] = data[k]! + 0;
    return out;
  }
  if (kind === COLUMN_BOOL && data instanceof Uint8Array && data.length === count) {
    for (let k = 0; k < count; k++) out[k] = data[k] === 1;
    return out;
  }
  const width = vecWidth(kind);
  if (width > 0 && data instanceof Float64Array) {
    if (data.length !== count * width) throw badShape(op);
    for (let k = 0; k < count; k++) {
      const v: number[] = new Array(width);
      for (let j = 0; j < width; j++) v[j] = data[k * width + j]! + 0;
      out[k] = v;
    }
    return out;
  }
  if (kind === COLUMN_TEXT && typeof data === 'string') {
    // The column is one array around the values: one level more.
    const parsed = parseBoundedJson(data, maxDepth + 1, op);
    if (Array.isArray(parsed) && parsed.length === count) return parsed;
  }
  throw badShape(op);
}

/** m of a VEC + m kind, 0 for any other kind. */
export function vecWidth(kind: unknown): number {
  return typeof kind === 'number' && kind > COLUMN_VEC && kind <= COLUMN_VEC + VEC_MAX_WIDTH ? kind - COLUMN_VEC : 0;
}

/** Bytes of a column as the size limits count them. */
export function columnBytes(c: unknown): number {
  if (typeof c === 'string') return c.length;
  if (ArrayBuffer.isView(c)) return c.byteLength;
  return 0;
}
