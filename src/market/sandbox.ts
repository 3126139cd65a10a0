/**
 * The contract sandbox (DESIGN §4): contract code runs in an isolated-vm
 * isolate (its own V8 heap, a memory cap, a time cap per call, no host
 * objects, no clock, no randomness, no I/O), and only JSON values cross.
 *
 * Every call starts from a fresh context in the contract's isolate: the
 * prelude (sandbox-prelude.ts) locks the context down and the contract's top
 * level runs again, so a call's result depends only on the code and the
 * arguments, never on earlier calls (a Validator that has served a thousand
 * batches computes what a miner auditing from scratch computes). The isolate,
 * with its compiled code, is what gets reused.
 *
 * Work is batched: `runRange` computes a whole index range in one call and
 * returns it as two compact columns (typed arrays while the values are
 * numbers, booleans or short numeric arrays, JSON text otherwise), size
 * checked inside the isolate before anything is copied out. A call costs
 * about a millisecond plus V8 compiling the contract again (fresh realm),
 * paid per batch, not per MCU.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import ivm from 'isolated-vm';
import { type Outputs, outputCount, outputsOf } from '../content/outputs.ts';
import { type ContractCodeInfo, checkContractCode } from './contract-code.ts';
import { SandboxError, type SandboxErrorCode, type SandboxErrorMeta } from './sandbox-errors.ts';
import { preludeSource, STRICT_PREFIX } from './sandbox-prelude.ts';

export { checkContractCode, MAX_CONTRACT_CODE_BYTES } from './contract-code.ts';
export { SandboxError } from './sandbox-errors.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One solved MCU as `validate` sees it: [index, input, output]. */
export type ResultRow = [index: number, input: JsonValue, output: JsonValue];

/** The results of one range: inputs[k] and outputs[k] belong to index from + k. */
export interface RangeResult {
  from: number;
  inputs: JsonValue[];
  outputs: JsonValue[];
}

export interface SandboxLimits {
  /** Heap cap of the contract's isolate, in MiB. Exceeding it kills the isolate (MEMORY_LIMIT). */
  memoryLimitMiB: number;
  /** Time cap of one call, in ms: the contract's top level and the operation each get this much. */
  timeoutMs: number;
  /**
   * Largest result of one call, and largest argument: 8 bytes per number and
   * 1 per boolean in a numeric or boolean column of range results, the
   * length of the JSON text (UTF-16 code units) otherwise.
   */
  maxResultBytes: number;
}

interface Bounds {
  min: number;
  default: number;
  max: number;
}

/** Node policy bounds for the limits a contract declares (DESIGN §4). */
export const SANDBOX_POLICY: Readonly<Record<keyof SandboxLimits, Bounds>> = Object.freeze({
  memoryLimitMiB: { min: 8, default: 128, max: 1024 },
  timeoutMs: { min: 1, default: 10_000, max: 300_000 },
  maxResultBytes: { min: 1024, default: 16 * 1024 * 1024, max: 256 * 1024 * 1024 },
});

/** Deepest nesting of arrays/objects in one input or output value. */
export const MAX_JSON_DEPTH = 64;

/** CPU time a call may use beyond twice its limit before its isolate is disposed. */
const WATCHDOG_SLACK_MS = 250;

/** The name contract code runs under; stack traces and error lines refer to it. */
export const CONTRACT_FILENAME = 'contract.js';
const HARNESS_FILENAME = 'zi-sandbox-prelude.js';

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

/** Fills in defaults and refuses limits outside the node policy (BAD_ARGUMENT). */
export function resolveLimits(limits: Partial<SandboxLimits> = {}): SandboxLimits {
  const out = {} as SandboxLimits;
  for (const key of Object.keys(SANDBOX_POLICY) as (keyof SandboxLimits)[]) {
    const bounds = SANDBOX_POLICY[key];
    const value = limits[key] ?? bounds.default;
    if (!Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
      throw new SandboxError('BAD_ARGUMENT', `${key} must be an integer in [${bounds.min}, ${bounds.max}]`, {
        name: key,
        limit: bounds.max,
      });
    }
    out[key] = value;
  }
  return out;
}

/**
 * Checks the code (as the mempool does), compiles it in a new isolate, runs
 * its top level once and reads its declarations. Throws SandboxError:
 * CODE_TOO_LARGE, COMPILE_ERROR (meta.line), MISSING_EXPORT, BAD_EXPORT,
 * and anything the top level can cause (THROWN, TIMEOUT, MEMORY_LIMIT,
 * NONDETERMINISTIC…).
 */
export async function loadContract(source: string, limits?: Partial<SandboxLimits>): Promise<ContractRuntime> {
  const info = checkContractCode(source);
  const runtime = new ContractRuntime(source, info, resolveLimits(limits));
  try {
    await runtime.load();
  } catch (err) {
    runtime.dispose();
    throw err;
  }
  return runtime;
}

interface Engine {
  isolate: ivm.Isolate;
  prelude: ivm.Script;
}

/**
 * A loaded contract. Calls are queued and run one at a time in the
 * contract's isolate; each returns a promise. If a call kills the isolate
 * (MEMORY_LIMIT), the next call builds a new one, so the runtime stays usable.
 */
export class ContractRuntime {
  readonly limits: SandboxLimits;
  readonly code: ContractCodeInfo;
  #source: string;
  #size: number | null = null;
  #hasUnion = false;
  #hasValidate = false;
  #engine: Engine | undefined;
  #compiled = false;
  #disposed = false;
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #lastUsed = performance.now();
  #restarts = 0;

  /** Use loadContract(); the constructor does not check or run anything. */
  constructor(source: string, code: ContractCodeInfo, limits: SandboxLimits) {
    this.#source = source;
    this.code = code;
    this.limits = limits;
  }

  /** Number of MCUs, or null when the contract is unbounded. */
  get size(): number | null {
    return this.#size;
  }

  /** Whether the contract declares its own union (otherwise arrays are concatenated). */
  get hasUnion(): boolean {
    return this.#hasUnion;
  }

  /** Whether the contract declares its own validate (otherwise every 100th index is recomputed). */
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

  /** How many times the isolate was rebuilt after a memory-limit kill. */
  get restarts(): number {
    return this.#restarts;
  }

  /** @internal Runs the top level once and reads size and the optional declarations. */
  async load(): Promise<void> {
    const text = (await this.#call('load')) as string;
    const info = JSON.parse(text) as [number | null, boolean, boolean];
    this.#size = info[0];
    this.#hasUnion = info[1];
    this.#hasValidate = info[2];
  }

  /** input(i) for one index. */
  async input(i: number): Promise<JsonValue> {
    this.#checkIndex(i, 'input');
    return JSON.parse((await this.#call('input', i)) as string) as JsonValue;
  }

  /** mcu(x) for one input value. */
  async mcu(x: JsonValue): Promise<JsonValue> {
    return JSON.parse((await this.#call('mcu', this.#jsonArg(x, 'mcu'))) as string) as JsonValue;
  }

  /**
   * input(i) and mcu(input(i)) for every i in [from, from + count), in one
   * call into the isolate. The input passes to mcu as input returned it,
   * without a JSON round trip, as in plain JS.
   */
  async runRange(from: number, count: number): Promise<RangeResult> {
    this.#checkRange(from, count);
    if (count === 0) return { from, inputs: [], outputs: [] };
    const reply = await this.#call('runRange', from, count);
    if (!Array.isArray(reply) || reply.length !== 4) {
      // Only a broken harness gets here: the reply is built outside contract code.
      throw new SandboxError('BAD_RESULT', 'range results have the wrong shape', { op: 'runRange' });
    }
    return {
      from,
      inputs: decodeColumn(reply[0], reply[1], count),
      outputs: decodeColumn(reply[2], reply[3], count),
    };
  }

  /**
   * mcu(input(i)) for every i in [from, from + count), in one call, as one
   * column: what a Solver sends. The column stays typed when the outputs are
   * booleans, numbers or short numeric arrays.
   */
  async outputRange(from: number, count: number): Promise<Outputs> {
    this.#checkRange(from, count);
    if (count === 0) return outputsOf([]);
    const reply = await this.#call('outputRange', from, count);
    if (!Array.isArray(reply) || reply.length !== 2) {
      throw new SandboxError('BAD_RESULT', 'range outputs have the wrong shape', { op: 'outputRange' });
    }
    return outputsOfColumn(reply[0], reply[1], count);
  }

  /** input(i) for every i in [from, from + count), in one call: a validator's rows without running mcu. */
  async inputRange(from: number, count: number): Promise<JsonValue[]> {
    this.#checkRange(from, count);
    if (count === 0) return [];
    const reply = await this.#call('inputRange', from, count);
    if (!Array.isArray(reply) || reply.length !== 2) {
      throw new SandboxError('BAD_RESULT', 'range inputs have the wrong shape', { op: 'inputRange' });
    }
    return decodeColumn(reply[0], reply[1], count);
  }

  /**
   * The indices of [from, from + count) that the default validate checks
   * (every 100th) and mcu(input(i)) at each, in one call.
   */
  async sampleRange(from: number, count: number): Promise<{ indices: number[]; outputs: JsonValue[] }> {
    this.#checkRange(from, count);
    const indices: number[] = [];
    for (let i = from + ((100 - (from % 100)) % 100); i < from + count; i += 100) indices.push(i);
    if (indices.length === 0) return { indices, outputs: [] };
    const reply = await this.#call('sampleRange', from, count);
    if (!Array.isArray(reply) || reply.length !== 2) {
      throw new SandboxError('BAD_RESULT', 'sampled outputs have the wrong shape', { op: 'sampleRange' });
    }
    return { indices, outputs: decodeColumn(reply[0], reply[1], indices.length) };
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
    return JSON.parse((await this.#call('union', ta, tb)) as string) as JsonValue;
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
      bytes += typeof data === 'string' ? data.length : data.byteLength;
      cols.push(kind, data);
    });
    if (bytes > this.limits.maxResultBytes) {
      throw new SandboxError('BAD_ARGUMENT', `argument of unionRows is over ${this.limits.maxResultBytes} bytes`, {
        op: 'unionRows',
        limit: this.limits.maxResultBytes,
        actual: bytes,
      });
    }
    return JSON.parse((await this.#call('unionRows', cols)) as string) as JsonValue;
  }

  /**
   * The contract's validate(rows), or the default: every row well formed,
   * and for each index divisible by 100, input(i) and mcu(input(i))
   * recomputed and JSON-equal to the row's.
   */
  async validate(rows: readonly ResultRow[]): Promise<boolean> {
    if (!Array.isArray(rows)) {
      throw new SandboxError('BAD_ARGUMENT', 'validate takes an array of [index, input, output] rows', {
        op: 'validate',
      });
    }
    const columns = encodeRows(rows);
    if (columns !== undefined) {
      let bytes = 0;
      for (const c of columns) bytes += typeof c === 'number' ? 0 : typeof c === 'string' ? c.length : c.byteLength;
      if (bytes > this.limits.maxResultBytes) {
        throw new SandboxError('BAD_ARGUMENT', `argument of validate is over ${this.limits.maxResultBytes} bytes`, {
          op: 'validate',
          limit: this.limits.maxResultBytes,
          actual: bytes,
        });
      }
    }
    const arg = columns ?? this.#jsonArg(rows, 'validate');
    return JSON.parse((await this.#call('validate', arg)) as string) as boolean;
  }

  /** Frees the isolate. Queued and running calls fail with DISPOSED. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#killEngine();
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

  #jsonArg(value: unknown, op: string): string {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      throw new SandboxError('BAD_ARGUMENT', `argument of ${op} is not JSON: ${(err as Error).message}`, { op });
    }
    if (text === undefined) throw new SandboxError('BAD_ARGUMENT', `argument of ${op} is not JSON`, { op });
    if (text.length > this.limits.maxResultBytes) {
      throw new SandboxError('BAD_ARGUMENT', `argument of ${op} is over ${this.limits.maxResultBytes} characters`, {
        op,
        limit: this.limits.maxResultBytes,
        actual: text.length,
      });
    }
    return text;
  }

  /** Queues one operation; resolves to the JSON text of its result, or the encoded columns of a range. */
  #call(op: string, a?: CallArg, b?: CallArg): Promise<string | unknown[]> {
    this.#pending++;
    this.#lastUsed = performance.now();
    const result = this.#tail.then(() => this.#callNow(op, a, b));
    const settle = () => {
      this.#pending--;
      this.#lastUsed = performance.now();
    };
    this.#tail = result.then(settle, settle);
    return result;
  }

  async #callNow(op: string, a?: CallArg, b?: CallArg): Promise<string | unknown[]> {
    this.#assertUsable();
    const engine = await this.#ensureEngine();
    const watchdog = this.#watch(engine);
    let context: ivm.Context | undefined;
    let run: ivm.Reference | undefined;
    let reply: unknown;
    let stage: 'setup' | 'call' = 'setup';
    try {
      context = await engine.isolate.createContext();
      run = (await engine.prelude.run(context, {
        reference: true,
        timeout: this.limits.timeoutMs,
      })) as ivm.Reference;
      stage = 'call';
      // copy: the range reply is an array of typed arrays and strings that
      // the harness built itself, so the structured clone runs no contract code.
      // Arguments are copied too: validate's columns are typed arrays.
      reply = await run.apply(undefined, [op, a, b], {
        timeout: this.limits.timeoutMs,
        arguments: { copy: true },
        result: { copy: true },
      });
    } catch (err) {
      throw this.#hostFailure(err, engine, op, stage, watchdog.fired);
    } finally {
      clearInterval(watchdog.timer);
      releaseQuietly(run);
      releaseQuietly(context);
    }
    return this.#parseReply(reply, op);
  }

  /**
   * isolated-vm copies an unhandled promise rejection out of the isolate
   * after the call, outside its time limit, reading the reason's properties:
   * a hostile getter there would spin forever. The harness keeps thrown
   * values inside, but rejections are V8's. So a call that has used more CPU
   * than its limit allows gets its isolate disposed, which ends the spin.
   * CPU time, not wall time: a call queued behind other isolates for a free
   * thread uses none.
   */
  #watch(engine: Engine): { timer: NodeJS.Timeout; fired: () => boolean } {
    const start = engine.isolate.cpuTime;
    const budgetNs = BigInt(2 * this.limits.timeoutMs + WATCHDOG_SLACK_MS) * 1_000_000n;
    let fired = false;
    const timer = setInterval(
      () => {
        if (engine.isolate.isDisposed) return;
        if (engine.isolate.cpuTime - start > budgetNs) {
          fired = true;
          if (this.#engine === engine) {
            this.#engine = undefined;
            this.#restarts++;
          }
          disposeIsolate(engine.isolate);
        }
      },
      Math.max(25, Math.floor(this.limits.timeoutMs / 2)),
    );
    timer.unref();
    return { timer, fired: () => fired };
  }

  #parseReply(reply: unknown, op: string): string | unknown[] {
    if (Array.isArray(reply)) {
      let bytes = 0;
      for (const part of reply) {
        if (typeof part === 'string') bytes += part.length;
        else if (ArrayBuffer.isView(part)) bytes += part.byteLength;
      }
      if (bytes > this.limits.maxResultBytes) {
        throw new SandboxError('RESULT_TOO_LARGE', `the result is over ${this.limits.maxResultBytes} bytes`, {
          op,
          limit: this.limits.maxResultBytes,
          actual: bytes,
        });
      }
      return reply;
    }
    if (typeof reply !== 'string' || reply.length === 0) {
      throw new SandboxError('BAD_RESULT', 'the sandbox returned no reply', { op });
    }
    const body = reply.slice(1);
    if (reply[0] === 'o') {
      // The harness already refuses oversized text; this guards the host
      // before JSON.parse even if it did not.
      if (body.length > this.limits.maxResultBytes) {
        throw new SandboxError('RESULT_TOO_LARGE', `the result is over ${this.limits.maxResultBytes} bytes`, {
          op,
          limit: this.limits.maxResultBytes,
          actual: body.length,
        });
      }
      return body;
    }
    let failure: Record<string, unknown>;
    try {
      failure = JSON.parse(body) as Record<string, unknown>;
    } catch {
      throw new SandboxError('BAD_RESULT', 'the sandbox returned an unreadable failure', { op });
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
    if (code === 'RESULT_TOO_LARGE' && meta.limit === undefined) meta.limit = this.limits.maxResultBytes;
    const where = meta.line === undefined ? '' : ` (${CONTRACT_FILENAME}:${meta.line}:${meta.column ?? 0})`;
    const message = typeof failure.message === 'string' ? failure.message : 'contract code failed';
    throw new SandboxError(code as SandboxErrorCode, `${op}: ${message}${where}`, meta);
  }

  /** Maps what isolated-vm throws (termination, disposal, a rejection) to a typed error. */
  #hostFailure(
    err: unknown,
    engine: Engine,
    op: string,
    stage: 'setup' | 'call',
    watchdogFired: () => boolean,
  ): unknown {
    if (err instanceof SandboxError) return err;
    if (this.#disposed) return new SandboxError('DISPOSED', 'the contract runtime was disposed', { op });
    const message = err instanceof Error ? err.message : String(err);
    if (watchdogFired() || /timed out/i.test(message)) {
      return new SandboxError(
        'TIMEOUT',
        `${op}: contract code ran past the ${this.limits.timeoutMs} ms time limit`,
        { op, limit: this.limits.timeoutMs },
        { cause: err },
      );
    }
    if (engine.isolate.isDisposed || /memory limit/i.test(message)) {
      // isolated-vm disposed it: its teardown is under way.
      noteTeardown();
      if (this.#engine === engine) {
        this.#engine = undefined;
        this.#restarts++;
      }
      return new SandboxError(
        'MEMORY_LIMIT',
        `${op}: contract code exceeded the ${this.limits.memoryLimitMiB} MiB memory limit`,
        { op, limit: this.limits.memoryLimitMiB },
        { cause: err },
      );
    }
    if (stage === 'call') {
      // The harness returns every failure as a reply; what isolated-vm throws
      // after a call is a promise the contract rejected and left unhandled.
      const reason = message.length > 2000 ? `${message.slice(0, 2000)}…` : message;
      return new SandboxError(
        'THROWN',
        `${op}: contract code left a promise rejected: ${reason}`,
        { op },
        { cause: err },
      );
    }
    return err;
  }

  async #ensureEngine(): Promise<Engine> {
    const current = this.#engine;
    if (current !== undefined && !current.isolate.isDisposed) return current;
    const isolate = new ivm.Isolate({
      memoryLimit: this.limits.memoryLimitMiB,
      // V8 lost control of this isolate: never reuse it; the next call builds another.
      onCatastrophicError: () => {
        if (this.#engine?.isolate === isolate) this.#engine = undefined;
      },
    });
    try {
      if (!this.#compiled) {
        await this.#compileCheck(isolate);
        this.#compiled = true;
      }
      const prelude = await isolate.compileScript(
        preludeSource(this.#source, {
          maxResultBytes: this.limits.maxResultBytes,
          maxDepth: MAX_JSON_DEPTH,
          filename: CONTRACT_FILENAME,
        }),
        { filename: HARNESS_FILENAME },
      );
      const engine = { isolate, prelude };
      if (this.#disposed) {
        disposeIsolate(isolate);
        throw new SandboxError('DISPOSED', 'the contract runtime was disposed');
      }
      this.#engine = engine;
      return engine;
    } catch (err) {
      disposeIsolate(isolate);
      throw err;
    }
  }

  /**
   * V8's own verdict on the source, with the exact line: acorn (admission)
   * and V8 agree on valid ES2025, but the engine that runs the code decides.
   */
  async #compileCheck(isolate: ivm.Isolate): Promise<void> {
    try {
      const script = await isolate.compileScript(STRICT_PREFIX + this.#source, { filename: CONTRACT_FILENAME });
      script.release();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const at = /\[[^\]]*:(\d+):(\d+)\]$/.exec(message);
      const line = at === null ? undefined : Number(at[1]);
      const column = at === null ? undefined : Number(at[2]) - (line === 1 ? STRICT_PREFIX.length : 0);
      const text = message.replace(/ \[[^\]]*\]$/, '');
      const where = line === undefined ? '' : ` at line ${line}, column ${column}`;
      throw new SandboxError('COMPILE_ERROR', `contract code does not compile${where}: ${text}`, {
        op: 'load',
        line,
        column,
      });
    }
  }

  #killEngine(): void {
    const engine = this.#engine;
    this.#engine = undefined;
    if (engine === undefined || engine.isolate.isDisposed) return;
    releaseQuietly(engine.prelude);
    disposeIsolate(engine.isolate);
  }
}

/**
 * isolated-vm tears a disposed isolate down on one of its own threads, a few
 * milliseconds later. If the process exits meanwhile (process.exit, or the
 * end of a node --test file), its exit handlers run under that thread and the
 * process dies in native code (observed: SIGSEGV in Isolate::Deinit, or an
 * assertion in IsolateEnvironment::GetCurrent, in about 1 of 10 exits right
 * after a dispose). So the process's 'exit' waits, synchronously, until the
 * latest teardown has had TEARDOWN_GRACE_MS. Releasing a context or a
 * reference also hands work to those threads, so it counts too; the grace is
 * sized for a loaded machine (200 ms still crashed 1 exit in 20 under load).
 */
const TEARDOWN_GRACE_MS = 750;
let lastTeardown = Number.NEGATIVE_INFINITY;
let exitHook = false;

function noteTeardown(): void {
  lastTeardown = performance.now();
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      // Collect dropped isolated-vm handles while the environment still exists:
      // their finalizers crash if they first run during Node's own teardown.
      collectGarbage();
      const wait = lastTeardown + TEARDOWN_GRACE_MS - performance.now();
      if (wait > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.ceil(wait));
      collectGarbage();
    });
  }
}

let gcFn: (() => void) | undefined;
function collectGarbage(): void {
  if (gcFn === undefined) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

function disposeIsolate(isolate: ivm.Isolate): void {
  if (isolate.isDisposed) return;
  isolate.dispose();
  noteTeardown();
}

function releaseQuietly(handle: { release(): void } | undefined): void {
  if (handle === undefined) return;
  noteTeardown();
  try {
    handle.release();
  } catch {
    // The isolate is already gone (memory kill, dispose): nothing left to free.
  }
}

// Column encodings of range results, as the prelude's encode() writes them.
const COLUMN_F64 = 1;
const COLUMN_BOOL = 2;
const COLUMN_TEXT = 3;
const COLUMN_VEC = 100;

type Column = Float64Array | Uint8Array | string;
type CallArg = string | number | (number | Column)[];

/**
 * Rows for validate as columns, in the range encodings: far cheaper to move
 * into the isolate than JSON text when inputs and outputs are numbers,
 * booleans or short numeric arrays (measured: Mandelbrot rows cost 700 ns
 * each as JSON). Undefined when a row is malformed: such rows go as JSON, and
 * validate sees them as they are.
 */
function encodeRows(rows: readonly ResultRow[]): (number | Column)[] | undefined {
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

/** One column of range results back to JSON values; BAD_RESULT if it does not hold exactly `count`. */
function decodeColumn(kind: unknown, data: unknown, count: number): JsonValue[] {
  const bad = () => new SandboxError('BAD_RESULT', 'range results have the wrong shape', { op: 'runRange' });
  const out: JsonValue[] = new Array(count);
  if (kind === COLUMN_F64 && data instanceof Float64Array && data.length === count) {
    // + 0 turns -0 into 0, as a JSON round trip would.
    for (let k = 0; k < count; k++) out[k] = data[k] + 0;
    return out;
  }
  if (kind === COLUMN_BOOL && data instanceof Uint8Array && data.length === count) {
    for (let k = 0; k < count; k++) out[k] = data[k] === 1;
    return out;
  }
  if (typeof kind === 'number' && kind > COLUMN_VEC && kind <= COLUMN_VEC + 16 && data instanceof Float64Array) {
    const m = kind - COLUMN_VEC;
    if (data.length !== count * m) throw bad();
    for (let k = 0; k < count; k++) {
      const v: number[] = new Array(m);
      for (let j = 0; j < m; j++) v[j] = data[k * m + j] + 0;
      out[k] = v;
    }
    return out;
  }
  if (kind === COLUMN_TEXT && typeof data === 'string') {
    const parsed = JSON.parse(data) as unknown;
    if (Array.isArray(parsed) && parsed.length === count) return parsed as JsonValue[];
  }
  throw bad();
}

/** Outputs in the prelude's column encoding. */
function columnOfOutputs(o: Outputs): [number, Column] {
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

/** A column as the prelude encodes it, in the content layer's Outputs form. */
function outputsOfColumn(kind: unknown, data: unknown, count: number): Outputs {
  if (kind === COLUMN_BOOL && data instanceof Uint8Array && data.length === count)
    return { kind: 'bool', values: data };
  const width = kind === COLUMN_F64 ? 1 : typeof kind === 'number' && kind > COLUMN_VEC ? kind - COLUMN_VEC : 0;
  if (width >= 1 && width <= 16 && data instanceof Float64Array) {
    if (data.length !== count * width) throw new SandboxError('BAD_RESULT', 'range outputs have the wrong shape');
    // + 0 turns -0 into 0, as a JSON round trip would.
    for (let k = 0; k < data.length; k++) data[k] = data[k]! + 0;
    return kind === COLUMN_F64 ? { kind: 'f64', values: data } : { kind: 'vec', width, values: data };
  }
  return outputsOf(decodeColumn(kind, data, count));
}

/** The rows `validate` takes, from one range's results. */
export function rangeRows(result: RangeResult): ResultRow[] {
  const rows: ResultRow[] = new Array(result.inputs.length);
  for (let k = 0; k < result.inputs.length; k++) {
    rows[k] = [result.from + k, result.inputs[k], result.outputs[k]];
  }
  return rows;
}

export interface SandboxPoolOptions {
  /** A runtime unused for this long is disposed (ms, default 60 s). */
  idleMs?: number;
  /** At most this many runtimes are kept; the least recently used idle one goes first (default 16). */
  maxRuntimes?: number;
}

interface PoolEntry {
  source: string;
  runtime: Promise<ContractRuntime>;
  loaded: ContractRuntime | undefined;
}

/**
 * One runtime per contract id, reused across calls and disposed when idle.
 * A runtime whose isolate was killed rebuilds it on its next call, so the
 * pool never hands out a dead one.
 */
export class SandboxPool {
  readonly idleMs: number;
  readonly maxRuntimes: number;
  #entries = new Map<string, PoolEntry>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: SandboxPoolOptions = {}) {
    this.idleMs = options.idleMs ?? 60_000;
    this.maxRuntimes = options.maxRuntimes ?? 16;
    if (!Number.isSafeInteger(this.idleMs) || this.idleMs < 1) {
      throw new SandboxError('BAD_ARGUMENT', 'idleMs must be a positive integer', { name: 'idleMs' });
    }
    if (!Number.isSafeInteger(this.maxRuntimes) || this.maxRuntimes < 1) {
      throw new SandboxError('BAD_ARGUMENT', 'maxRuntimes must be a positive integer', { name: 'maxRuntimes' });
    }
  }

  /** Runtimes held (loading or loaded). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The runtime of a contract, loading it on first use. A failed load is not
   * kept, so the next get() tries again. The same id must always come with
   * the same source (the id is the hash of the transaction holding it).
   */
  get(contractId: string, source: string, limits?: Partial<SandboxLimits>): Promise<ContractRuntime> {
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.sweep(), Math.max(250, Math.floor(this.idleMs / 2)));
      this.#timer.unref();
    }
    const existing = this.#entries.get(contractId);
    if (existing !== undefined) {
      if (existing.source !== source) {
        return Promise.reject(
          new SandboxError('BAD_ARGUMENT', `contract ${contractId} is already loaded with different code`),
        );
      }
      // Re-inserting keeps the map in least-recently-requested order.
      this.#entries.delete(contractId);
      this.#entries.set(contractId, existing);
      return existing.runtime;
    }
    const entry: PoolEntry = { source, runtime: loadContract(source, limits), loaded: undefined };
    this.#entries.set(contractId, entry);
    entry.runtime.then(
      (runtime) => {
        if (this.#entries.get(contractId) === entry) entry.loaded = runtime;
        else runtime.dispose();
      },
      () => {
        if (this.#entries.get(contractId) === entry) this.#entries.delete(contractId);
      },
    );
    this.#evictOverflow();
    return entry.runtime;
  }

  /** Disposes runtimes idle longer than idleMs; returns how many. */
  sweep(now: number = performance.now()): number {
    let disposed = 0;
    for (const [id, entry] of this.#entries) {
      const rt = entry.loaded;
      if (rt === undefined) continue;
      if (rt.disposed || (rt.busy === 0 && now - rt.lastUsed >= this.idleMs)) {
        this.#entries.delete(id);
        rt.dispose();
        disposed++;
      }
    }
    return disposed;
  }

  /** Disposes every runtime and stops the idle timer. */
  dispose(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const entry of this.#entries.values()) {
      if (entry.loaded !== undefined) entry.loaded.dispose();
      else
        entry.runtime.then(
          (rt) => rt.dispose(),
          () => {},
        );
    }
    this.#entries.clear();
  }

  #evictOverflow(): void {
    for (const [id, entry] of this.#entries) {
      if (this.#entries.size <= this.maxRuntimes) return;
      const rt = entry.loaded;
      if (rt === undefined || rt.busy > 0) continue;
      this.#entries.delete(id);
      rt.dispose();
    }
  }
}
