import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { verify } from './keys.ts';
import { type SigBackend, sigBackend, sigBackendWarning } from './libsecp.ts';
import type { SigJob, SigResult } from './sig-worker.ts';

export interface SigItem {
  sig: Uint8Array;
  msg: Uint8Array;
  pub: Uint8Array;
}

/** Below this, a block's signatures are checked inline: a thread hop costs more. */
const PARALLEL_MIN = 16;

let warned = false;

/**
 * Signature checks are the ledger's bottleneck (DESIGN.md §8), and each one is
 * independent: a block's batch is split across worker threads and this one,
 * as Bitcoin Core's script-check queue does.
 */
export class SignatureVerifier {
  /** What every thread verifies with: libsecp256k1, or OpenSSL where its binding does not load. */
  readonly backend: SigBackend = sigBackend;
  private readonly threads: number;
  private workers: Worker[] = [];
  private nextId = 1;
  /** Each in-flight job, with the inline check to fall back on if its thread dies. */
  private readonly pending = new Map<number, { from: number; resolve: (bad: number) => void; inline: () => number }>();

  constructor(threads = availableParallelism() - 1) {
    this.threads = Math.max(0, threads);
    if (sigBackendWarning !== undefined && !warned) {
      warned = true;
      process.emitWarning(sigBackendWarning, { code: 'ZI_SECP' });
    }
  }

  private start(): void {
    if (this.workers.length > 0 || this.threads === 0) return;
    for (let i = 0; i < this.threads; i++) {
      const w = new Worker(new URL('./sig-worker.ts', import.meta.url), { name: `zi-sig-${i}` });
      w.on('message', (r: SigResult) => {
        const job = this.pending.get(r.id);
        this.pending.delete(r.id);
        job?.resolve(r.bad === -1 ? -1 : job.from + r.bad);
        if (this.pending.size === 0) for (const x of this.workers) x.unref();
      });
      w.on('error', () => this.failAll());
      w.unref();
      this.workers.push(w);
    }
  }

  /** Index of the first invalid signature, or -1 when all verify. */
  async firstInvalid(items: readonly SigItem[]): Promise<number> {
    if (items.length < PARALLEL_MIN || this.threads === 0) return firstInvalidInline(items, 0, items.length);
    this.start();
    const shares = this.workers.length + 1;
    const per = Math.ceil(items.length / shares);
    const jobs = this.workers.map((w, i) => this.send(w, items, (i + 1) * per, Math.min(items.length, (i + 2) * per)));
    const mine = firstInvalidInline(items, 0, per);
    const results = await Promise.all(jobs);
    if (mine !== -1) return mine;
    for (const r of results) if (r !== -1) return r;
    return -1;
  }

  private send(w: Worker, items: readonly SigItem[], from: number, to: number): Promise<number> {
    const n = Math.max(0, to - from);
    if (n === 0) return Promise.resolve(-1);
    const job: SigJob = {
      id: this.nextId++,
      sigs: new Uint8Array(n * 64),
      msgs: new Uint8Array(n * 32),
      pubs: new Uint8Array(n * 33),
    };
    for (let i = 0; i < n; i++) {
      const it = items[from + i]!;
      if (it.sig.length !== 64 || it.msg.length !== 32 || it.pub.length !== 33) return Promise.resolve(from + i);
      job.sigs.set(it.sig, i * 64);
      job.msgs.set(it.msg, i * 32);
      job.pubs.set(it.pub, i * 33);
    }
    return new Promise((resolve) => {
      this.pending.set(job.id, { from, resolve, inline: () => firstInvalidInline(items, from, to) });
      w.ref();
      w.postMessage(job, [
        job.sigs.buffer as ArrayBuffer,
        job.msgs.buffer as ArrayBuffer,
        job.pubs.buffer as ArrayBuffer,
      ]);
    });
  }

  /** A dead thread must not hang block validation: finish its work here. */
  private failAll(): void {
    const jobs = [...this.pending.entries()];
    this.pending.clear();
    const ws = this.workers;
    this.workers = [];
    for (const w of ws) void w.terminate();
    for (const [, job] of jobs) job.resolve(job.inline());
  }

  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

function firstInvalidInline(items: readonly SigItem[], from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const it = items[i]!;
    if (!verify(it.sig, it.msg, it.pub)) return i;
  }
  return -1;
}
