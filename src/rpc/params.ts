/**
 * Declarative parameters for RPC methods. Each method lists its params in
 * order; a call may pass them positionally (array) or by name (object), as
 * JSON-RPC 2.0 allows. Everything is checked before the handler runs, so a
 * handler only ever sees values of the declared types (see defineMethod in
 * methods.ts).
 */
import { InvalidParamsError } from './errors.ts';

interface ParamBase {
  name: string;
  description?: string;
  /** Absent, `undefined` or `null` all mean "not given". */
  optional?: boolean;
}

export interface StringParam extends ParamBase {
  type: 'string';
  minLength?: number;
  maxLength?: number;
  /** Allowed values; the handler's type narrows to them. */
  enum?: readonly string[];
  pattern?: RegExp;
}
export interface IntegerParam extends ParamBase {
  /** A JSON number that is a safe integer. */
  type: 'integer';
  min?: number;
  max?: number;
}
export interface BigintParam extends ParamBase {
  /**
   * A decimal string ("5000000000") or a safe-integer number, given to the
   * handler as bigint; for Li amounts, which exceed 2^53.
   */
  type: 'bigint';
  min?: bigint;
  max?: bigint;
}
export interface BooleanParam extends ParamBase {
  type: 'boolean';
}
export interface HexParam extends ParamBase {
  /** 'hex' gives the handler lowercase hex; 'bytes' gives the decoded Uint8Array. No 0x prefix. */
  type: 'hex' | 'bytes';
  /** Exact decoded length. */
  bytes?: number;
  maxBytes?: number;
}
export interface ObjectParam extends ParamBase {
  /** Any JSON object (not null, not an array); the handler checks its shape. */
  type: 'object';
}
export interface ArrayParam extends ParamBase {
  type: 'array';
  maxItems?: number;
}

export type ParamDef = StringParam | IntegerParam | BigintParam | BooleanParam | HexParam | ObjectParam | ArrayParam;
export type ParamSpec = readonly ParamDef[];
export type ParamType = ParamDef['type'];

interface TypeMap {
  string: string;
  integer: number;
  bigint: bigint;
  boolean: boolean;
  hex: string;
  bytes: Uint8Array;
  object: Record<string, unknown>;
  array: unknown[];
}

type ValueOf<D extends ParamDef> = D extends { enum: readonly (infer E)[] } ? E : TypeMap[D['type']];

/** The object a handler receives for a given spec. */
export type ParamsOf<S extends ParamSpec> = {
  [D in S[number] as D['name']]: D extends { optional: true } ? ValueOf<D> | undefined : ValueOf<D>;
};

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KNOWN_TYPES: ReadonlySet<string> = new Set([
  'string',
  'integer',
  'bigint',
  'boolean',
  'hex',
  'bytes',
  'object',
  'array',
]);

/**
 * Checks a spec once, when the server starts, so a mistake in a method table
 * fails at startup rather than on the first call. Returns a problem or undefined.
 */
export function specProblem(spec: unknown): string | undefined {
  if (!Array.isArray(spec)) return 'params must be an array of param definitions';
  const seen = new Set<string>();
  let sawOptional = false;
  for (const def of spec as ParamDef[]) {
    if (typeof def !== 'object' || def === null) return 'a param definition is not an object';
    if (typeof def.name !== 'string' || !NAME.test(def.name)) return `bad param name ${JSON.stringify(def.name)}`;
    if (seen.has(def.name)) return `duplicate param '${def.name}'`;
    seen.add(def.name);
    if (!KNOWN_TYPES.has(def.type)) return `param '${def.name}' has unknown type ${JSON.stringify(def.type)}`;
    // Positional calls could not skip a required param after an optional one.
    if (def.optional) sawOptional = true;
    else if (sawOptional) return `required param '${def.name}' follows an optional one`;
  }
  return undefined;
}

/**
 * Validates raw JSON-RPC `params` against a spec and returns the values by
 * name (absent optional params are undefined). Throws InvalidParamsError.
 */
export function validateParams(spec: ParamSpec, raw: unknown): Record<string, unknown> {
  const given = new Map<string, unknown>();
  if (raw === undefined) {
    // no params member: every param is absent
  } else if (Array.isArray(raw)) {
    if (raw.length > spec.length) {
      throw new InvalidParamsError(
        `expected at most ${spec.length} param${spec.length === 1 ? '' : 's'} (${names(spec)}), got ${raw.length}`,
      );
    }
    for (const [i, v] of raw.entries()) given.set(spec[i]!.name, v);
  } else if (typeof raw === 'object' && raw !== null) {
    for (const key of Object.keys(raw)) {
      if (!spec.some((d) => d.name === key)) {
        throw new InvalidParamsError(`unknown param '${key}' (expected: ${names(spec)})`, { param: key });
      }
      given.set(key, (raw as Record<string, unknown>)[key]);
    }
  } else {
    throw new InvalidParamsError('params must be an array or an object');
  }

  // A null-prototype object: a param named "constructor" or "__proto__" stays data.
  const out: Record<string, unknown> = Object.create(null);
  for (const def of spec) {
    const v = given.get(def.name);
    if (v === undefined || v === null) {
      if (!def.optional) throw new InvalidParamsError(`missing required param '${def.name}'`, { param: def.name });
      out[def.name] = undefined;
      continue;
    }
    out[def.name] = checkValue(def, v);
  }
  return out;
}

function checkValue(def: ParamDef, v: unknown): unknown {
  const fail = (expected: string): never => {
    throw new InvalidParamsError(`param '${def.name}' must be ${expected}, got ${describe(v)}`, { param: def.name });
  };
  switch (def.type) {
    case 'string': {
      if (typeof v !== 'string') return fail('a string');
      if (def.enum && !def.enum.includes(v)) return fail(`one of ${def.enum.map((e) => JSON.stringify(e)).join(', ')}`);
      if (def.minLength !== undefined && v.length < def.minLength) return fail(`at least ${def.minLength} characters`);
      if (def.maxLength !== undefined && v.length > def.maxLength) return fail(`at most ${def.maxLength} characters`);
      if (def.pattern && !def.pattern.test(v)) return fail(`a string matching ${def.pattern}`);
      return v;
    }
    case 'integer': {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return fail(`an integer${range(def.min, def.max)}`);
      if ((def.min !== undefined && v < def.min) || (def.max !== undefined && v > def.max)) {
        return fail(`an integer${range(def.min, def.max)}`);
      }
      return v;
    }
    case 'bigint': {
      let n: bigint;
      if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
      else if (typeof v === 'string' && v.length <= 100 && /^-?(0|[1-9][0-9]*)$/.test(v)) n = BigInt(v);
      else return fail(`an integer as a decimal string${range(def.min, def.max)}`);
      if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) {
        return fail(`an integer${range(def.min, def.max)}`);
      }
      return n;
    }
    case 'boolean':
      if (typeof v !== 'boolean') return fail('true or false');
      return v;
    case 'hex':
    case 'bytes': {
      const what =
        def.bytes !== undefined
          ? `${def.bytes * 2} hex digits (${def.bytes} bytes, no 0x prefix)`
          : 'hex without 0x prefix';
      if (typeof v !== 'string' || v.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(v)) return fail(what);
      const len = v.length / 2;
      if (def.bytes !== undefined && len !== def.bytes) return fail(what);
      if (def.maxBytes !== undefined && len > def.maxBytes) return fail(`hex of at most ${def.maxBytes} bytes`);
      const lower = v.toLowerCase();
      return def.type === 'hex' ? lower : new Uint8Array(Buffer.from(lower, 'hex'));
    }
    case 'object':
      if (typeof v !== 'object' || Array.isArray(v)) return fail('an object');
      return v;
    case 'array':
      if (!Array.isArray(v)) return fail('an array');
      if (def.maxItems !== undefined && v.length > def.maxItems)
        return fail(`an array of at most ${def.maxItems} items`);
      return v;
  }
}

function range(min: number | bigint | undefined, max: number | bigint | undefined): string {
  if (min !== undefined && max !== undefined) return ` in ${min}..${max}`;
  if (min !== undefined) return ` ≥ ${min}`;
  if (max !== undefined) return ` ≤ ${max}`;
  return '';
}

/** The type of a bad value, never the value itself: it may be huge or secret. */
function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' && !Number.isInteger(v)) return 'a fractional number';
  if (typeof v === 'number' && !Number.isSafeInteger(v)) return 'an integer beyond 2^53';
  if (typeof v === 'string') return `a string of ${v.length} characters`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function names(spec: ParamSpec): string {
  return spec.length === 0 ? 'none' : spec.map((d) => (d.optional ? `[${d.name}]` : d.name)).join(', ');
}
