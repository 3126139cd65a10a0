import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { verify } from './keys.ts';
import { type SigBackend, sigBackend, sigBackendWarning } from './libsecp.ts';
import {
  claimAll,
  claimAndVerify,
  firstBad,
  layoutJob,
  type SigItem,
  type SigJob,
  type SigResult,
  signedMessage,
  verifyAll,
  waitVerified,
} from './sig-jobs.ts';

export type { SigItem } from './sig-jobs.ts';

/** For batches without sighash items, which never read it. */
const NO_GENESIS = new Uint8Array(32);

/** Below this, a block's signatures are checked inline: a thread hop costs more. */
const PARALLEL_MIN = 16;

/**
 * How long `finish` blocks this thread for the workers' last chunks (a
 * signature or two each by then) before it awaits their messages instead: longer would stall the
 * event loop (every peer, the RPC) behind a thread that is not running.
 */
const SYNC_WAIT_MS = 3;

let warned = false;

/** Signatures being verified: `finish` helps with what is left, then gives the first invalid index, or -1. */
export interface SigBatch {
  finish(): Promise<number>;
  /** Leaves the rest unverified (the block failed another check): the threads claim no more of it. */
  abort(): void;
}

const inlineBatch = (items: readonly SigItem[], genesis: Uint8Array): SigBatch => ({
  finish: async () => firstInvalidInline(items, genesis),
  abort: () => undefined,
});

/**
 * Signature checks are the ledger's bottleneck (DESIGN.md §8), and each one is
 * independent. A batch is laid out in shared memory and its items are claimed
 * in chunks by the worker threads and, once it has done its own part of the
 * block (applying it), by this thread: as Bitcoin Core's check queue, whose
 * master thread joins the workers once ConnectBlock has queued every check.
 */
export class SignatureVerifier {
  /** What every thread verifies with: libsecp256k1, or OpenSSL where its binding does not load. */
  readonly backend: SigBackend = sigBackend;
  private readonly threads: number;
  private workers: Worker[] = [];
  private nextId = 1;
  /** Each in-flight job's waiters, with the inline check to fall back on if a thread dies. */
  private readonly pending = new Map<number, { resolve: () => void; left: number; job: SigJob }>();

  constructor(threads = availableParallelism() - 1) {
    this.threads = Math.max(0, threads);
    if (sigBackendWarning !== undefined && !warned) {
      warned = true;
      process.emitWarning(sigBackendWarning, { code: 'ZI_SECP' });
    }
  }

  /**
   * Starts the threads unless they run. The first batch does it at the
   * latest; a node does it at start, since loading one takes tens of
   * milliseconds that it would otherwise add to the first block it relays.
   * Idle threads are unreferenced, so they keep no process alive.
   */
  warm(): void {
    if (this.workers.length > 0 || this.threads === 0) return;
    for (let i = 0; i < this.threads; i++) {
      const w = new Worker(new URL('./sig-worker.ts', import.meta.url), { name: `zi-sig-${i}` });
      w.on('message', (r: SigResult) => {
        const job = this.pending.get(r.id);
        if (job === undefined || --job.left > 0) return;
        this.pending.delete(r.id);
        job.resolve();
        if (this.pending.size === 0) for (const x of this.workers) x.unref();
      });
      w.on('error', () => this.failAll());
      w.unref();
      this.workers.push(w);
    }
  }

  /**
   * Starts verifying `items` on the worker threads; `genesis` binds the
   * sighashes to a network. The caller goes on with other work and calls
   * `finish`, which verifies what the workers have not claimed yet.
   */
  begin(items: readonly SigItem[], genesis: Uint8Array): SigBatch {
    if (items.length < PARALLEL_MIN || this.threads === 0) return inlineBatch(items, genesis);
    const job = layoutJob(this.nextId++, items, genesis);
    if (job === undefined) return inlineBatch(items, genesis);
    this.warm();
    const done = new Promise<void>((resolve) => {
      this.pending.set(job.id, { resolve, left: this.workers.length, job });
    });
    for (const w of this.workers) {
      w.ref();
      w.postMessage(job);
    }
    return {
      finish: async () => {
        claimAndVerify(job);
        // A dead or descheduled thread is waited for the slow way: its message, or failAll.
        if (!waitVerified(job, SYNC_WAIT_MS)) await done;
        return firstBad(job);
      },
      abort: () => claimAll(job),
    };
  }

  /** Index of the first invalid signature, or -1 when all verify; `genesis` is needed by sighash items only. */
  firstInvalid(items: readonly SigItem[], genesis: Uint8Array = NO_GENESIS): Promise<number> {
    return this.begin(items, genesis).finish();
  }

  /** A dead thread must not hang block validation, nor leave the chunks it claimed unchecked: this thread checks them all. */
  private failAll(): void {
    const jobs = [...this.pending.values()];
    this.pending.clear();
    const ws = this.workers;
    this.workers = [];
    for (const w of ws) void w.terminate();
    for (const { job, resolve } of jobs) {
      verifyAll(job);
      resolve();
    }
  }

  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

function firstInvalidInline(items: readonly SigItem[], genesis: Uint8Array): number {
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    if (!verify(it.sig, signedMessage(it, genesis), it.pub)) return i;
  }
  return -1;
}
