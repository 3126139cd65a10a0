/**
 * One contract's isolated-vm isolate, as a sandbox process runs it (never in
 * the node's own process: see processes.ts). The isolate has its own V8
 * heap, a memory cap, a time cap per call, no host objects, no clock, no
 * randomness and no I/O.
 *
 * Every call starts from a fresh context in the isolate: the prelude
 * (prelude.ts) locks the context down and the contract's top level runs
 * again, so a call's result depends only on the code and the arguments,
 * never on earlier calls (a Validator that has served a thousand batches
 * computes what a miner auditing from scratch computes). The isolate, with
 * its compiled code, is what gets reused.
 *
 * A call returns the harness's raw reply ('o' + JSON, 'e' + a failure, or an
 * array of columns); the host side (runtime.ts) checks and decodes it. What
 * this file throws is what isolated-vm raises around the call: a time limit,
 * the heap cap, a compile error, a promise the contract left rejected.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import ivm from 'isolated-vm';
import { SandboxError } from './errors.ts';
import { CONTRACT_FILENAME, MAX_JSON_DEPTH, type SandboxLimits } from './limits.ts';
import { preludeSource, STRICT_PREFIX } from './prelude.ts';

const HARNESS_FILENAME = 'zi-sandbox-prelude.js';

export type CallArg = string | number | unknown[] | undefined;
export type RawReply = string | unknown[];

interface Engine {
  isolate: ivm.Isolate;
  prelude: ivm.Script;
}

export class IsolateRunner {
  readonly limits: SandboxLimits;
  #source: string;
  #engine: Engine | undefined;
  #compiled = false;
  #disposed = false;

  constructor(source: string, limits: SandboxLimits) {
    this.#source = source;
    this.limits = limits;
  }

  async call(op: string, a?: CallArg, b?: CallArg): Promise<RawReply> {
    if (this.#disposed) throw new SandboxError('DISPOSED', 'the contract runtime was disposed', { op });
    const engine = await this.#ensureEngine();
    let context: ivm.Context | undefined;
    let run: ivm.Reference | undefined;
    let stage: 'setup' | 'call' = 'setup';
    try {
      context = await engine.isolate.createContext();
      run = (await engine.prelude.run(context, {
        reference: true,
        timeout: this.limits.timeoutMs,
      })) as ivm.Reference;
      stage = 'call';
      // copy: the harness builds its replies (typed arrays and strings)
      // itself, so the structured clone runs no contract code. Arguments are
      // copied too: validate's columns are typed arrays.
      return (await run.apply(undefined, [op, a, b], {
        timeout: this.limits.timeoutMs,
        arguments: { copy: true },
        result: { copy: true },
      })) as RawReply;
    } catch (err) {
      throw this.#hostFailure(err, engine, op, stage);
    } finally {
      releaseQuietly(run);
      releaseQuietly(context);
    }
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const engine = this.#engine;
    this.#engine = undefined;
    if (engine === undefined || engine.isolate.isDisposed) return;
    releaseQuietly(engine.prelude);
    disposeIsolate(engine.isolate);
  }

  /** Maps what isolated-vm throws (a time limit, the heap cap, a rejection) to a typed error. */
  #hostFailure(err: unknown, engine: Engine, op: string, stage: 'setup' | 'call'): unknown {
    if (err instanceof SandboxError) return err;
    if (this.#disposed) return new SandboxError('DISPOSED', 'the contract runtime was disposed', { op });
    const message = err instanceof Error ? err.message : String(err);
    if (/timed out/i.test(message)) {
      return new SandboxError('TIMEOUT', `${op}: contract code ran past the ${this.limits.timeoutMs} ms time limit`, {
        op,
        limit: this.limits.timeoutMs,
      });
    }
    if (engine.isolate.isDisposed || /memory limit/i.test(message)) {
      // isolated-vm disposed it: the next call builds another.
      noteTeardown();
      if (this.#engine === engine) this.#engine = undefined;
      return new SandboxError(
        'MEMORY_LIMIT',
        `${op}: contract code exceeded the ${this.limits.memoryLimitMiB} MiB memory limit`,
        { op, limit: this.limits.memoryLimitMiB },
      );
    }
    if (stage === 'call') {
      // The harness returns every failure as a reply; what isolated-vm throws
      // after a call is a promise the contract rejected and left unhandled.
      // Its text is engine-made and may hold anything: kept short, never
      // parsed. (A reason with hostile getters never gets here: copying it
      // spins, and the host's watchdog kills this process.)
      const reason = message.length > 200 ? `${message.slice(0, 200)}…` : message;
      return new SandboxError('THROWN', `${op}: contract code left a promise rejected: ${reason}`, { op });
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
      this.#engine = { isolate, prelude };
      return this.#engine;
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
}

/**
 * isolated-vm tears a disposed isolate down on one of its own threads, a few
 * milliseconds later. If the process exits meanwhile, its exit handlers run
 * under that thread and the process dies in native code (observed: SIGSEGV in
 * Isolate::Deinit, in about 1 of 10 exits right after a dispose). So the
 * process's 'exit' waits, synchronously, until the latest teardown has had
 * TEARDOWN_GRACE_MS. Releasing a context or a reference also hands work to
 * those threads, so it counts too.
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
