/**
 * The nonce search on a pool of worker threads. Threads start once and serve
 * every template; each claims chunks of nonces from a per-job shared counter,
 * so their ranges never overlap and a fast thread simply takes more chunks.
 * The first hit stops the others; an abort (a new tip, a better template)
 * stops them all within one chunk, about 30 ms.
 */
import { Worker } from 'node:worker_threads';
import {
  getKernel,
  headerWithNonce,
  type KernelName,
  kernelName,
  kernelWarning,
  meetsTarget,
  NonceSearchError,
  POW_PREFIX_SIZE,
  POW_TARGET_SIZE,
  powHash,
} from './kernel.ts';
import type { JobMessage, WorkerReport } from './search-worker.ts';

export { NonceSearchError } from './kernel.ts';

export interface NonceSearchOptions {
  /** Worker threads, usually os.availableParallelism() (minus one to keep a core for the node). */
  threads: number;
  /** Forces a kernel (tests, benchmarks); by default the fastest this process has. */
  kernel?: KernelName;
}

export interface SearchOptions {
  /** The first nonce to try; the search covers startNonce .. 2^64-1. Default 0. */
  startNonce?: bigint;
  /** Aborting resolves the search to null within about one chunk. */
  signal?: AbortSignal;
  /** Called as chunks finish with the attempts made so far in this search. */
  onProgress?: (attempts: number) => void;
}

export interface Found {
  nonce: bigint;
  hash: Uint8Array;
  /** Attempts reported by the threads up to the hit (chunks still in flight on other threads are not counted). */
  attempts: number;
}

/** The shared stop flag (Int32 at 0) and next-offset counter (BigUint64 at 8) of one job. */
const CONTROL_BYTES = 16;
const MAX_THREADS = 256;
/** A thread's last chunk rate counts towards `hashrate` for this long. */
const RATE_TTL_MS = 1000;

interface Job {
  id: number;
  prefix: Uint8Array;
  target: Uint8Array;
  stop: Int32Array;
  attempts: number;
  done: number;
  onProgress: ((attempts: number) => void) | undefined;
  settle: (value: Found | null | Error) => void;
}

let warned = false;

export class NonceSearch {
  readonly threads: number;
  /** The kernel the threads run. */
  readonly kernel: KernelName;
  #workers: Worker[] = [];
  #rates: { perSecond: number; at: number }[] = [];
  #job: Job | null = null;
  #nextId = 1;
  #closed = false;
  #failure: Error | null = null;

  constructor(opts: { threads: number; kernel?: KernelName }) {
    const threads = opts?.threads;
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw new NonceSearchError('BAD_THREADS', `threads is an integer in [1, ${MAX_THREADS}]`, { threads });
    }
    this.threads = threads;
    if (opts.kernel !== undefined) {
      this.kernel = getKernel(opts.kernel).name; // throws KERNEL_UNAVAILABLE here rather than in every thread
    } else {
      this.kernel = kernelName;
      if (kernelWarning !== undefined && !warned) {
        warned = true;
        process.emitWarning(kernelWarning, { code: 'ZI_MINER_KERNEL' });
      }
    }
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(new URL('./search-worker.ts', import.meta.url), {
        workerData: { kernel: this.kernel },
        name: `zi-nonce-search-${i}`,
      });
      worker.on('message', (m: WorkerReport) => this.#onReport(i, m));
      worker.on('error', (err) => this.#fail(err));
      worker.on('exit', (code) => {
        if (!this.#closed) this.#fail(new Error(`worker thread exited with code ${code}`));
      });
      // Idle threads must not keep the process alive; a running search refs them.
      worker.unref();
      this.#workers.push(worker);
      this.#rates.push({ perSecond: 0, at: 0 });
    }
  }

  /**
   * Searches nonces from `startNonce` up for a header hash below `target`.
   * Resolves to the first hit, or to null when aborted, when superseded by a
   * newer search() call, on close(), or when the nonce space runs out.
   */
  async search(prefix: Uint8Array, target: Uint8Array, opts: SearchOptions = {}): Promise<Found | null> {
    if (this.#closed) throw new NonceSearchError('CLOSED', 'the nonce search is closed');
    if (this.#failure) {
      throw new NonceSearchError('WORKER_FAILED', 'a search thread failed', {}, { cause: this.#failure });
    }
    const startNonce = opts.startNonce ?? 0n;
    headerWithNonce(prefix, startNonce); // validates prefix and nonce with typed errors
    if (!(target instanceof Uint8Array) || target.length !== POW_TARGET_SIZE) {
      throw new NonceSearchError('BAD_TARGET', `a target is ${POW_TARGET_SIZE} bytes`, { length: target?.length });
    }
    this.#finish(null);
    if (opts.signal?.aborted) return null;

    const { promise, resolve, reject } = Promise.withResolvers<Found | null>();
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const signal = opts.signal;
    const onAbort = () => this.#finish(null, job);
    const job: Job = {
      id: this.#nextId++,
      // Copies: the caller may reuse its buffers for the next template while this one runs.
      prefix: prefix.slice(0, POW_PREFIX_SIZE),
      target: target.slice(),
      stop: new Int32Array(control, 0, 1),
      attempts: 0,
      done: 0,
      onProgress: opts.onProgress,
      settle: (value) => {
        signal?.removeEventListener('abort', onAbort);
        if (value instanceof Error) reject(value);
        else resolve(value);
      },
    };
    this.#job = job;
    signal?.addEventListener('abort', onAbort, { once: true });
    const msg: JobMessage = {
      type: 'job',
      id: job.id,
      prefix: job.prefix,
      target: job.target,
      startNonce,
      control,
    };
    for (const w of this.#workers) {
      w.ref();
      w.postMessage(msg);
    }
    return promise;
  }

  /** Attempts per second over all threads, from each thread's last chunk (0 when idle). */
  get hashrate(): number {
    const now = performance.now();
    let sum = 0;
    for (const r of this.#rates) if (now - r.at < RATE_TTL_MS) sum += r.perSecond;
    return sum;
  }

  /** Stops any search (it resolves to null) and ends the threads. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#finish(null);
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }

  /** Settles `job` (by default the current one) and tells its threads to stop. */
  #finish(value: Found | null | Error, job: Job | null = this.#job): void {
    if (!job || job !== this.#job) return;
    this.#job = null;
    Atomics.store(job.stop, 0, 1);
    for (const w of this.#workers) w.unref();
    job.settle(value);
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#finish(new NonceSearchError('WORKER_FAILED', 'a search thread failed', {}, { cause: err }));
  }

  #onReport(worker: number, m: WorkerReport): void {
    if (m.type === 'progress' && m.ms > 0) {
      this.#rates[worker] = { perSecond: (m.attempts * 1000) / m.ms, at: performance.now() };
    }
    const job = this.#job;
    if (m.type === 'ready' || !job || m.id !== job.id) return;
    switch (m.type) {
      case 'progress':
        job.attempts += m.attempts;
        if (job.onProgress) {
          try {
            job.onProgress(job.attempts);
          } catch (err) {
            this.#finish(err instanceof Error ? err : new Error(String(err)));
          }
        }
        return;
      case 'found': {
        // Checked here too: a wrong block would be rejected by every peer.
        const hash = powHash(headerWithNonce(job.prefix, m.nonce));
        if (!meetsTarget(hash, job.target)) {
          this.#finish(
            new NonceSearchError('KERNEL_FAULT', 'a thread returned a nonce that does not meet the target', {
              nonce: String(m.nonce),
            }),
          );
          return;
        }
        this.#finish({ nonce: m.nonce, hash, attempts: job.attempts });
        return;
      }
      case 'done':
        // Every thread stopped with no hit and no abort: the nonce space is used up.
        if (++job.done === this.#workers.length) this.#finish(null);
        return;
    }
  }
}
