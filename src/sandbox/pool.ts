import { SandboxError } from './errors.ts';
import type { SandboxLimits } from './limits.ts';
import type { SandboxProcesses } from './processes.ts';
import { type ContractRuntime, loadContract } from './runtime.ts';

export interface SandboxPoolOptions {
  /** A runtime unused for this long is disposed (ms, default 60 s). */
  idleMs?: number;
  /** At most this many runtimes are kept; the least recently used idle one goes first (default 16). */
  maxRuntimes?: number;
  /** The processes its runtimes run in (default: the node's shared ones). */
  processes?: SandboxProcesses;
}

interface PoolEntry {
  source: string;
  runtime: Promise<ContractRuntime>;
  loaded: ContractRuntime | undefined;
}

/** One runtime per contract id, reused across calls and disposed when idle. */
export class SandboxPool {
  readonly idleMs: number;
  readonly maxRuntimes: number;
  readonly #processes: SandboxProcesses | undefined;
  #entries = new Map<string, PoolEntry>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: SandboxPoolOptions = {}) {
    this.idleMs = options.idleMs ?? 60_000;
    this.maxRuntimes = options.maxRuntimes ?? 16;
    this.#processes = options.processes;
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
    const entry: PoolEntry = {
      source,
      runtime: loadContract(source, limits, { processes: this.#processes }),
      loaded: undefined,
    };
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
