import {
  badShape,
  COLUMN_BOOL,
  COLUMN_F64,
  COLUMN_TEXT,
  COLUMN_VEC,
  type Column,
  decodeColumn,
  type ResultRow,
  VEC_MAX_WIDTH,
  vecWidth,
} from './columns.ts';
import type { JsonValue } from './limits.ts';

/**
 * The outputs of a batch as one column: typed while every output has the
 * same simple shape, as the sandbox returns them, so a million booleans never
 * become a million JS values on the way from the sandbox to the bytes.
 * Which kind a list of outputs has depends on the values only (outputsOf):
 *  - bool: every output is a boolean (values[k] is 1 or 0);
 *  - f64: every output is a finite number (never -0: JSON has no -0);
 *  - vec: every output is an array of `width` finite numbers,
 *    1 ≤ width ≤ VEC_MAX_WIDTH,
 *    flattened row by row;
 *  - json: anything else.
 */
export type Outputs =
  | { readonly kind: 'bool'; readonly values: Uint8Array }
  | { readonly kind: 'f64'; readonly values: Float64Array }
  | { readonly kind: 'vec'; readonly width: number; readonly values: Float64Array }
  | { readonly kind: 'json'; readonly values: readonly JsonValue[] };

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Shape of one output: 'bool', 'f64', a vec width, or 'json'. */
function shapeOf(v: unknown): 'bool' | 'f64' | number | 'json' {
  if (typeof v === 'boolean') return 'bool';
  if (finite(v)) return 'f64';
  if (Array.isArray(v) && v.length >= 1 && v.length <= VEC_MAX_WIDTH && v.every(finite)) return v.length;
  return 'json';
}

/** The one column form of a list of outputs (see Outputs). */
export function outputsOf(values: readonly JsonValue[]): Outputs {
  const n = values.length;
  const shape = n === 0 ? 'json' : shapeOf(values[0]);
  if (shape === 'bool') {
    const out = new Uint8Array(n);
    for (let k = 0; k < n; k++) {
      const v = values[k];
      if (typeof v !== 'boolean') return { kind: 'json', values };
      out[k] = v ? 1 : 0;
    }
    return { kind: 'bool', values: out };
  }
  if (shape === 'f64') {
    const out = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const v = values[k];
      if (!finite(v)) return { kind: 'json', values };
      out[k] = v + 0;
    }
    return { kind: 'f64', values: out };
  }
  if (typeof shape === 'number') {
    const out = new Float64Array(n * shape);
    for (let k = 0; k < n; k++) {
      const v = values[k];
      if (!Array.isArray(v) || v.length !== shape) return { kind: 'json', values };
      for (let j = 0; j < shape; j++) {
        const e = v[j];
        if (!finite(e)) return { kind: 'json', values };
        out[k * shape + j] = e + 0;
      }
    }
    return { kind: 'vec', width: shape, values: out };
  }
  return { kind: 'json', values };
}

export function outputCount(o: Outputs): number {
  return o.kind === 'vec' ? o.values.length / o.width : o.values.length;
}

/** Output number k as a JSON value. */
export function outputAt(o: Outputs, k: number): JsonValue {
  switch (o.kind) {
    case 'bool':
      return o.values[k] === 1;
    case 'f64':
      return o.values[k]! + 0;
    case 'vec':
      return Array.from(o.values.subarray(k * o.width, (k + 1) * o.width), (x) => x + 0);
    case 'json':
      return o.values[k]!;
  }
}

/** Every output as a JSON value. */
export function outputList(o: Outputs): JsonValue[] {
  if (o.kind === 'json') return [...o.values];
  const n = outputCount(o);
  const out: JsonValue[] = new Array(n);
  for (let k = 0; k < n; k++) out[k] = outputAt(o, k);
  return out;
}

/** The outputs of consecutive parts as one column (typed when every part has the same typed kind). */
export function concatOutputs(all: readonly Outputs[]): Outputs {
  // Empty parts (a lease smaller than the thread count) have no kind of their own.
  const parts = all.filter((p) => outputCount(p) > 0);
  if (parts.length === 1) return parts[0]!;
  const first = parts[0];
  const width = (p: Outputs) => (p.kind === 'vec' ? p.width : 0);
  if (
    first === undefined ||
    first.kind === 'json' ||
    parts.some((p) => p.kind !== first.kind || width(p) !== width(first))
  ) {
    return outputsOf(parts.flatMap(outputList));
  }
  const values = new (first.kind === 'bool' ? Uint8Array : Float64Array)(
    parts.reduce((n, p) => n + p.values.length, 0),
  );
  let at = 0;
  for (const p of parts) {
    values.set(p.values as ArrayLike<number>, at);
    at += p.values.length;
  }
  return { ...first, values } as Outputs;
}

/** Outputs in the column encoding. */
export function columnOfOutputs(o: Outputs): [number, Column] {
  switch (o.kind) {
    case 'bool':
      return [COLUMN_BOOL, o.values];
    case 'f64':
      return [COLUMN_F64, o.values];
    case 'vec':
      return [COLUMN_VEC + o.width, o.values];
    case 'json':
      return [COLUMN_TEXT, JSON.stringify(o.values)];
  }
}

/** A column in the Outputs form, typed columns kept as they are. */
export function outputsOfColumn(kind: unknown, data: unknown, count: number, maxDepth: number, op: string): Outputs {
  if (kind === COLUMN_BOOL && data instanceof Uint8Array && data.length === count) {
    for (let k = 0; k < count; k++) if (data[k]! > 1) throw badShape(op);
    return { kind: 'bool', values: data };
  }
  const width = kind === COLUMN_F64 ? 1 : vecWidth(kind);
  if (width > 0 && data instanceof Float64Array) {
    if (data.length !== count * width) throw badShape(op);
    for (let k = 0; k < data.length; k++) {
      const x = data[k]!;
      if (!Number.isFinite(x)) throw badShape(op);
      data[k] = x + 0;
    }
    return kind === COLUMN_F64 ? { kind: 'f64', values: data } : { kind: 'vec', width, values: data };
  }
  return outputsOf(decodeColumn(kind, data, count, maxDepth, op));
}

/**
 * Rows for validate as columns: far cheaper to move into the isolate than
 * JSON text when inputs and outputs are numbers, booleans or short numeric
 * arrays (measured: Mandelbrot rows cost 700 ns each as JSON). Undefined when
 * a row is malformed: such rows go as JSON, and validate sees them as they are.
 */
export function encodeRows(rows: readonly ResultRow[]): (number | Column)[] | undefined {
  const n = rows.length;
  const idx = new Float64Array(n);
  const xs: JsonValue[] = new Array(n);
  const ys: JsonValue[] = new Array(n);
  for (let k = 0; k < n; k++) {
    const row = rows[k];
    if (!Array.isArray(row) || row.length !== 3 || !Number.isSafeInteger(row[0]) || row[0] < 0) return undefined;
    idx[k] = row[0];
    xs[k] = row[1];
    ys[k] = row[2];
  }
  const [kx, dx] = columnOfOutputs(outputsOf(xs));
  const [ky, dy] = columnOfOutputs(outputsOf(ys));
  return [idx, kx, dx, ky, dy];
}
