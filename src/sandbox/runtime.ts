/**
 * A loaded contract, as the node holds it: its declarations, and calls that
 * run in sandbox processes (processes.ts), checked and decoded here. Nothing
 * here runs contract code: replies are columns and JSON text that the
 * harness built, size- and depth-checked before they are parsed.
 *
 * Work is batched: `runRange` computes a whole index range in one call and
 * returns it as two compact columns (columns.ts). A call costs a process
 * round trip and a fresh realm (V8 compiling the contract again), paid per
 * batch, not per MCU.
 */
import { type ContractCodeInfo, checkContractCode } from './code.ts';
import { type Column, columnBytes, decodeColumn, parseBoundedJson, type ResultRow } from './columns.ts';
import { SandboxError, type SandboxErrorCode, type SandboxErrorMeta } from './errors.ts';
import type { CallArg, RawReply } from './isolate.ts';
import { CONTRACT_FILENAME, type JsonValue, MAX_JSON_DEPTH, resolveLimits, type SandboxLimits } from './limits.ts';
import { columnOfOutputs, encodeRows, type Outputs, outputCount, outputsOf, outputsOfColumn } from './outputs.ts';
import { type CallOptions, SandboxProcesses } from './processes.ts';
import { sampleIndices } from './sampling.ts';

/** The results of one range: inputs[k] and outputs[k] belong to index from + k. */
export interface RangeResult {
  from: number;
  inputs: JsonValue[];
  outputs: JsonValue[];
}

const REPLY_CODES: ReadonlySet<string> = new Set<SandboxErrorCode>([
  'COMPILE_ERROR',
  'MISSING_EXPORT',
  'BAD_EXPORT',
  'BAD_ARGUMENT',
  'STACK_OVERFLOW',
  'THROWN',
  'NON_JSON_RESULT',
  'BAD_RESULT',
  'RESULT_TOO_LARGE',
  'NONDETERMINISTIC',
]);

let shared: SandboxProcesses | undefined;

/** The node's default sandbox processes, started on first use. */
export function defaultProcesses(): SandboxProcesses {
  shared ??= new SandboxProcesses();
  return shared;
}

/** Kills the default sandbox processes (shutdown: never waits on contract code). */
export function shutdownSandboxes(): void {
  shared?.close();
  shared = undefined;
}

/** Process ids of the default sandbox processes. */
export function sandboxProcesses(): number[] {
  return shared?.pids ?? [];
}

export interface LoadOptions {
  /** The processes to run in (default: the node's shared ones). */
  processes?: SandboxProcesses;
  /** Deadline of the load call, queueing and process start included. */
  deadlineMs?: number;
}

/**
 * Checks the code (as the mempool does), compiles it, runs its top level once
 * and reads its declarations. Throws SandboxError: CODE_TOO_LARGE,
 * COMPILE_ERROR (meta.line), MISSING_EXPORT, BAD_EXPORT, and anything the
 * top level can cause (THROWN, TIMEOUT, MEMORY_LIMIT, NONDETERMINISTIC…).
 */
export async function loadContract(
  source: string,
  limits?: Partial<SandboxLimits>,
  options: LoadOptions = {},
): Promise<ContractRuntime> {
  const info = checkContractCode(source);
  const runtime = new ContractRuntime(source, info, resolveLimits(limits), options.processes ?? defaultProcesses());
  try {
    await runtime.load(options.deadlineMs);
  } catch (err) {
    runtime.dispose();
    throw err;
  }
  return runtime;
}

/**
 * A loaded contract. Calls are queued and run one at a time; each returns a
 * promise that settles within the call's budget (the watchdog's), whatever
 * the contract does. A call that kills its process (TIMEOUT, MEMORY_LIMIT)
 * leaves the runtime usable: the next call runs in a fresh process.
 */
export class ContractRuntime {
  readonly limits: SandboxLimits;
  readonly code: ContractCodeInfo;
  #source: string;
  #key: string;
  #procs: SandboxProcesses;
  #size: number | null = null;
  #hasUnion = false;
  #hasValidate = false;
  #disposed = false;
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #lastUsed = performance.now();
  #restarts = 0;

  /** Use loadContract(); the constructor does not check or run anything. */
  constructor(source: string, code: ContractCodeInfo, limits: SandboxLimits, processes: SandboxProcesses) {
    this.#source = source;
    this.code = code;
    this.limits = limits;
    this.#procs = processes;
    this.#key = SandboxProcesses.keyOf(source, limits);
    processes.retain(this.#key);
  }

  /** Number of MCUs, or null when the contract is unbounded. */
  get size(): number | null {
    return this.#size;
  }

  /** Whether the contract declares its own union (otherwise arrays are concatenated). */
  get hasUnion(): boolean {
    return this.#hasUnion;
  }

  /** Whether the contract declares its own validate (otherwise a seeded sample is recomputed). */
  get hasValidate(): boolean {
    return this.#hasValidate;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Calls queued or running. */
  get busy(): number {
    return this.#pending;
  }

  /** performance.now() of the last call's start or end. */
  get lastUsed(): number {
    return this.#lastUsed;
  }

  /** How many calls ended with the contract's isolate or process killed (memory or time). */
  get restarts(): number {
    return this.#restarts;
  }

  /** @internal Runs the top level once and reads size and the optional declarations. */
  async load(deadlineMs?: number): Promise<void> {
    const info = this.#json(await this.#call('load', undefined, undefined, { deadlineMs }), 'load');
    if (!Array.isArray(info) || info.length !== 3)
      throw new SandboxError('BAD_RESULT', 'load: unreadable declarations');
    this.#size = info[0] as number | null;
    this.#hasUnion = info[1] === true;
    this.#hasValidate = info[2] === true;
  }

  /** input(i) for one index. */
  async input(i: number): Promise<JsonValue> {
    this.#checkIndex(i, 'input');
    return this.#json(await this.#call('input', i), 'input');
  }

  /** mcu(x) for one input value. */
  async mcu(x: JsonValue): Promise<JsonValue> {
    return this.#json(await this.#call('mcu', this.#jsonArg(x, 'mcu')), 'mcu');
  }

  /**
   * input(i) and mcu(input(i)) for every i in [from, from + count), in one
   * call. The input passes to mcu as input returned it, as in plain JS.
   */
  async runRange(from: number, count: number, options?: CallOptions): Promise<RangeResult> {
    this.#checkRange(from, count);
    if (count === 0) return { from, inputs: [], outputs: [] };
    const reply = this.#columns(await this.#call('runRange', from, count, options), 4, 'runRange');
    return {
      from,
      inputs: decodeColumn(reply[0], reply[1], count, MAX_JSON_DEPTH, 'runRange'),
      outputs: decodeColumn(reply[2], reply[3], count, MAX_JSON_DEPTH, 'runRange'),
    };
  }

  /**
   * mcu(input(i)) for every i in [from, from + count), in one call, as one
   * column: what a Solver sends.
   */
  async outputRange(from: number, count: number): Promise<Outputs> {
    this.#checkRange(from, count);
    if (count === 0) return outputsOf([]);
    const reply = this.#columns(await this.#call('outputRange', from, count), 2, 'outputRange');
    return outputsOfColumn(reply[0], reply[1], count, MAX_JSON_DEPTH, 'outputRange');
  }

  /** input(i) for every i in [from, from + count), in one call: a validator's rows without running mcu. */
  async inputRange(from: number, count: number): Promise<JsonValue[]> {
    this.#checkRange(from, count);
    if (count === 0) return [];
    const reply = this.#columns(await this.#call('inputRange', from, count), 2, 'inputRange');
    return decodeColumn(reply[0], reply[1], count, MAX_JSON_DEPTH, 'inputRange');
  }

  /** mcu(input(i)) at each of `indices` (ascending, distinct, within size), in one call. */
  async sampleAt(indices: readonly number[]): Promise<JsonValue[]> {
    for (let k = 0; k < indices.length; k++) {
      this.#checkIndex(indices[k]!, 'sampleAt');
      if (k > 0 && indices[k]! <= indices[k - 1]!) {
        throw new SandboxError('BAD_ARGUMENT', 'sample indices must be ascending and distinct', { op: 'sampleAt' });
      }
    }
    if (indices.length === 0) return [];
    const reply = this.#columns(await this.#call('sampleAt', [Float64Array.from(indices)]), 2, 'sampleAt');
    return decodeColumn(reply[0], reply[1], indices.length, MAX_JSON_DEPTH, 'sampleAt');
  }

  /**
   * The contract's union(a, b), or, when it declares none, the concatenation
   * of two arrays (BAD_ARGUMENT if either is not an array).
   */
  async union(a: JsonValue, b: JsonValue): Promise<JsonValue> {
    if (!this.#hasUnion) {
      this.#assertUsable();
      if (!Array.isArray(a) || !Array.isArray(b)) {
        throw new SandboxError('BAD_ARGUMENT', 'the default union concatenates arrays; got a non-array', {
          op: 'union',
        });
      }
      return a.concat(b);
    }
    const ta = this.#jsonArg(a, 'union');
    const tb = this.#jsonArg(b, 'union');
    return this.#json(await this.#call('union', ta, tb), 'union');
  }

  /**
   * The contract's merged result of paid batches: the [index, input, output]
   * rows of each (inputs recomputed by input(i)), folded pairwise like a
   * balanced tree with union (or concatenation), all in one call.
   */
  async unionRows(batches: readonly { start: number; outputs: Outputs }[]): Promise<JsonValue> {
    const spans = new Float64Array(2 * batches.length);
    const cols: (number | Column)[] = [spans];
    let bytes = 0;
    batches.forEach((b, j) => {
      const n = outputCount(b.outputs);
      this.#checkRange(b.start, n);
      spans[2 * j] = b.start;
      spans[2 * j + 1] = n;
      const [kind, data] = columnOfOutputs(b.outputs);
      bytes += columnBytes(data);
      cols.push(kind, data);
    });
    this.#checkArgBytes(bytes, 'unionRows');
    return this.#json(await this.#call('unionRows', cols), 'unionRows');
  }

  /**
   * The contract's validate(rows, seed), or the default: every row well
   * formed, and at the indices sampled from `seed` at `sampleRate` per mille
   * (sampling.ts), input(i) and mcu(input(i)) recomputed and equal to the
   * row's. `seed` is 32 bytes the Solver could not know when it sent the rows.
   */
  async validate(rows: readonly ResultRow[], seed: Uint8Array, sampleRate: number): Promise<boolean> {
    if (!Array.isArray(rows)) {
      throw new SandboxError('BAD_ARGUMENT', 'validate takes an array of [index, input, output] rows', {
        op: 'validate',
      });
    }
    if (!(seed instanceof Uint8Array) || seed.length !== 32) {
      throw new SandboxError('BAD_ARGUMENT', 'validate takes a 32-byte seed', { op: 'validate' });
    }
    if (!Number.isSafeInteger(sampleRate) || sampleRate < 1 || sampleRate > 1000) {
      throw new SandboxError('BAD_ARGUMENT', 'the sample rate is 1 to 1000 per mille', { op: 'validate' });
    }
    const columns = encodeRows(rows);
    if (columns !== undefined) {
      let bytes = 0;
      for (const c of columns) bytes += columnBytes(c);
      this.#checkArgBytes(bytes, 'validate');
    }
    const arg = columns ?? this.#jsonArg(rows, 'validate');
    // The default validate's sample, drawn here: contract code may have
    // tampered with the builtins of its own realm.
    const from = rows.length > 0 && Array.isArray(rows[0]) ? rows[0][0] : undefined;
    const offsets =
      Number.isSafeInteger(from) && (from as number) >= 0
        ? Float64Array.from(sampleIndices(seed, from as number, rows.length, sampleRate), (i) => i - (from as number))
        : new Float64Array(0);
    const verdict = this.#json(
      await this.#call('validate', arg, [Buffer.from(seed).toString('hex'), sampleRate, offsets]),
      'validate',
    );
    if (typeof verdict !== 'boolean') throw new SandboxError('BAD_RESULT', 'validate: unreadable verdict');
    return verdict;
  }

  /** Frees the contract in its processes. Queued calls fail with DISPOSED. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#procs.release(this.#key);
  }

  #assertUsable(): void {
    if (this.#disposed) throw new SandboxError('DISPOSED', 'the contract runtime was disposed');
  }

  #checkIndex(i: number, op: string): void {
    const end = this.#size ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(i) || i < 0 || i >= end) {
      throw new SandboxError('BAD_ARGUMENT', `index ${String(i)} is not an integer in [0, ${end})`, {
        op,
        index: Number.isFinite(i) ? i : undefined,
      });
    }
  }

  #checkRange(from: number, count: number): void {
    const end = this.#size ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(count) || from < 0 || count < 0 || from + count > end) {
      throw new SandboxError('BAD_ARGUMENT', `range [${from}, ${from} + ${count}) is not within [0, ${end})`, {
        op: 'runRange',
      });
    }
  }

  #checkArgBytes(bytes: number, op: string): void {
    if (bytes > this.limits.maxResultBytes) {
      throw new SandboxError('BAD_ARGUMENT', `argument of ${op} is over ${this.limits.maxResultBytes} bytes`, {
        op,
        limit: this.limits.maxResultBytes,
        actual: bytes,
      });
    }
  }

  #jsonArg(value: unknown, op: string): string {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      throw new SandboxError('BAD_ARGUMENT', `argument of ${op} is not JSON: ${(err as Error).message}`, { op });
    }
    if (text === undefined) throw new SandboxError('BAD_ARGUMENT', `argument of ${op} is not JSON`, { op });
    this.#checkArgBytes(text.length, op);
    return text;
  }

  /** Queues one operation; resolves to the harness's raw reply. */
  #call(op: string, a?: CallArg, b?: CallArg, options?: CallOptions): Promise<RawReply> {
    this.#pending++;
    this.#lastUsed = performance.now();
    const result = this.#tail.then(() => {
      this.#assertUsable();
      return this.#procs.run(this.#key, this.#source, this.limits, op, a, b, options).catch((err: unknown) => {
        if (
          err instanceof SandboxError &&
          (err.code === 'MEMORY_LIMIT' || err.code === 'TIMEOUT' || err.code === 'CRASHED')
        ) {
          this.#restarts++;
        }
        throw err;
      });
    });
    const settle = () => {
      this.#pending--;
      this.#lastUsed = performance.now();
    };
    this.#tail = result.then(settle, settle);
    return result;
  }

  /** A reply of `n` columns, size-checked. */
  #columns(reply: RawReply, n: number, op: string): unknown[] {
    if (!Array.isArray(reply)) this.#json(reply, op); // a failure reply throws; anything else is malformed
    if (!Array.isArray(reply) || reply.length !== n) {
      throw new SandboxError('BAD_RESULT', `${op}: results have the wrong shape`, { op });
    }
    let bytes = 0;
    for (const part of reply) bytes += columnBytes(part);
    if (bytes > this.limits.maxResultBytes) {
      throw new SandboxError('RESULT_TOO_LARGE', `the result is over ${this.limits.maxResultBytes} bytes`, {
        op,
        limit: this.limits.maxResultBytes,
        actual: bytes,
      });
    }
    return reply;
  }

  /** The JSON value of an 'o' reply, or the typed error of an 'e' reply. */
  #json(reply: RawReply, op: string): JsonValue {
    if (typeof reply !== 'string' || reply.length === 0) {
      throw new SandboxError('BAD_RESULT', `${op}: the sandbox returned no reply`, { op });
    }
    const body = reply.slice(1);
    if (reply[0] === 'o') {
      if (body.length > this.limits.maxResultBytes) {
        throw new SandboxError('RESULT_TOO_LARGE', `the result is over ${this.limits.maxResultBytes} bytes`, {
          op,
          limit: this.limits.maxResultBytes,
          actual: body.length,
        });
      }
      return parseBoundedJson(body, MAX_JSON_DEPTH, op);
    }
    throw failureOf(body, op, this.limits.maxResultBytes);
  }
}

/** The typed error of a harness failure reply ('e' + JSON of { code, message, … }). */
function failureOf(body: string, op: string, maxResultBytes: number): SandboxError {
  let failure: Record<string, unknown>;
  try {
    failure = parseBoundedJson(body, 2, op) as Record<string, unknown>;
  } catch {
    return new SandboxError('BAD_RESULT', `${op}: the sandbox returned an unreadable failure`, { op });
  }
  if (failure === null || typeof failure !== 'object') {
    return new SandboxError('BAD_RESULT', `${op}: the sandbox returned an unreadable failure`, { op });
  }
  const code = typeof failure.code === 'string' && REPLY_CODES.has(failure.code) ? failure.code : 'THROWN';
  const meta: SandboxErrorMeta = { op };
  if (typeof failure.line === 'number') meta.line = failure.line;
  if (typeof failure.column === 'number') meta.column = failure.column;
  if (typeof failure.name === 'string') meta.name = failure.name;
  if (typeof failure.api === 'string') meta.api = failure.api;
  if (typeof failure.index === 'number') meta.index = failure.index;
  if (typeof failure.limit === 'number') meta.limit = failure.limit;
  if (typeof failure.actual === 'number') meta.actual = failure.actual;
  if (code === 'RESULT_TOO_LARGE' && meta.limit === undefined) meta.limit = maxResultBytes;
  const where = meta.line === undefined ? '' : ` (${CONTRACT_FILENAME}:${meta.line}:${meta.column ?? 0})`;
  const message = typeof failure.message === 'string' ? failure.message : 'contract code failed';
  return new SandboxError(code as SandboxErrorCode, `${op}: ${message}${where}`, meta);
}

/** The rows `validate` takes, from one range's results. */
export function rangeRows(result: RangeResult): ResultRow[] {
  const rows: ResultRow[] = new Array(result.inputs.length);
  for (let k = 0; k < result.inputs.length; k++) {
    rows[k] = [result.from + k, result.inputs[k]!, result.outputs[k]!];
  }
  return rows;
}
