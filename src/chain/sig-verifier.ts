import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Hash } from './hash.ts';
import { verify } from './keys.ts';
import { type SigBackend, sigBackend, sigBackendWarning } from './libsecp.ts';
import type { SigJob, SigResult } from './sig-worker.ts';
import { sigHashOf } from './transaction.ts';

export interface SigItem {
  sig: Uint8Array;
  msg: Uint8Array;
  pub: Uint8Array;
}

/** A transaction's signature: the thread that verifies it computes its sighash too. */
export interface TxSigItem {
  sig: Uint8Array;
  pub: Uint8Array;
  /** Transaction.unsignedBytes(). */
  unsigned: Uint8Array;
}

type Item = SigItem | TxSigItem;

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
  firstInvalid(items: readonly SigItem[]): Promise<number> {
    return this.run(items, (it) => it.msg);
  }

  /** The same for transactions of the network whose genesis is `genesis`. */
  firstInvalidTx(items: readonly TxSigItem[], genesis: Hash): Promise<number> {
    return this.run(items, (it) => it.unsigned, genesis);
  }

  /** `bodyOf` is the signed message itself, or with `genesis` the unsigned transaction to take the sighash of. */
  private async run<T extends Item>(
    items: readonly T[],
    bodyOf: (it: T) => Uint8Array,
    genesis?: Hash,
  ): Promise<number> {
    const msgOf = genesis === undefined ? bodyOf : (it: T) => sigHashOf(genesis, bodyOf(it));
    const inline = (from: number, to: number) => firstInvalidInline(items, msgOf, from, to);
    if (items.length < PARALLEL_MIN || this.threads === 0) return inline(0, items.length);
    this.start();
    const shares = this.workers.length + 1;
    const per = Math.ceil(items.length / shares);
    const jobs = this.workers.map((w, i) =>
      this.send(w, items, (i + 1) * per, Math.min(items.length, (i + 2) * per), bodyOf, genesis, inline),
    );
    const mine = inline(0, per);
    const results = await Promise.all(jobs);
    if (mine !== -1) return mine;
    for (const r of results) if (r !== -1) return r;
    return -1;
  }

  private send<T extends Item>(
    w: Worker,
    items: readonly T[],
    from: number,
    to: number,
    bodyOf: (it: T) => Uint8Array,
    genesis: Hash | undefined,
    inline: (from: number, to: number) => number,
  ): Promise<number> {
    const n = Math.max(0, to - from);
    if (n === 0) return Promise.resolve(-1);
    const ends = genesis === undefined ? undefined : new Uint32Array(n);
    let size = 0;
    for (let i = 0; i < n; i++) {
      const it = items[from + i]!;
      const body = bodyOf(it);
      if (it.sig.length !== 64 || it.pub.length !== 33 || (ends === undefined && body.length !== 32)) {
        return Promise.resolve(from + i);
      }
      size += body.length;
      if (ends) ends[i] = size;
    }
    const job: SigJob = {
      id: this.nextId++,
      sigs: new Uint8Array(n * 64),
      pubs: new Uint8Array(n * 33),
      msgs: new Uint8Array(size),
      ...(genesis && ends ? { genesis, ends } : {}),
    };
    for (let i = 0, at = 0; i < n; i++) {
      const it = items[from + i]!;
      const body = bodyOf(it);
      job.sigs.set(it.sig, i * 64);
      job.pubs.set(it.pub, i * 33);
      job.msgs.set(body, at);
      at += body.length;
    }
    return new Promise((resolve) => {
      this.pending.set(job.id, { from, resolve, inline: () => inline(from, to) });
      w.ref();
      w.postMessage(job, [
        job.sigs.buffer as ArrayBuffer,
        job.msgs.buffer as ArrayBuffer,
        job.pubs.buffer as ArrayBuffer,
        ...(ends ? [ends.buffer as ArrayBuffer] : []),
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

function firstInvalidInline<T extends Item>(
  items: readonly T[],
  msgOf: (it: T) => Uint8Array,
  from: number,
  to: number,
): number {
  for (let i = from; i < to; i++) {
    const it = items[i]!;
    if (!verify(it.sig, msgOf(it), it.pub)) return i;
  }
  return -1;
}
