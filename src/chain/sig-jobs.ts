import { sha256Ranges } from './hash.ts';
import { verify } from './keys.ts';
import { sigHashOf, sigHashPrefix } from './transaction.ts';

export interface SigItem {
  sig: Uint8Array;
  /** What was signed; with `sighash`, a transaction's unsigned bytes, whose sighash is what was signed. */
  msg: Uint8Array;
  pub: Uint8Array;
  /**
   * The signed digest is the sighash of `msg` (transaction.ts), computed by
   * whichever thread verifies it: a block's sighashes cost the main thread nothing.
   */
  sighash?: boolean;
}

/**
 * A batch of signatures in one SharedArrayBuffer, which every verifying
 * thread reads in place and claims chunks of with an atomic counter:
 *
 *   i32 next chunk ‖ i32 first bad index (n: none) ‖ i32 items done ‖
 *   i32 × (n + 1) message offsets ‖ u8 × n flags ‖ 64 × n signatures ‖
 *   33 × n public keys ‖ messages
 *
 * A sighash item's message is laid out with the sighash prefix (tag and
 * genesis) in front, so that a chunk's sighashes are one call (hash.ts).
 */
export interface SigJob {
  id: number;
  n: number;
  buffer: SharedArrayBuffer;
}

export interface SigResult {
  id: number;
}

const CHUNK = 16;
const HEAD = 12;
const FLAG_SIGHASH = 1;

type Views = ReturnType<typeof makeViews>;
const viewCache = new WeakMap<SharedArrayBuffer, Views>();

function views(job: SigJob): Views {
  const known = viewCache.get(job.buffer);
  if (known !== undefined) return known;
  const v = makeViews(job);
  viewCache.set(job.buffer, v);
  return v;
}

function makeViews(job: SigJob) {
  const { n, buffer } = job;
  const offsets = HEAD;
  const flags = offsets + 4 * (n + 1);
  const sigs = flags + n;
  const pubs = sigs + 64 * n;
  const msgs = pubs + 33 * n;
  return {
    ctrl: new Int32Array(buffer, 0, 3),
    offsets: new Int32Array(buffer, offsets, n + 1),
    flags: new Uint8Array(buffer, flags, n),
    bytes: new Uint8Array(buffer),
    sigs,
    pubs,
    msgs,
  };
}

/** The job for `items`, or undefined when an item has a size no signature or key has (it is checked inline, and fails). */
export function layoutJob(id: number, items: readonly SigItem[], genesis: Uint8Array): SigJob | undefined {
  const n = items.length;
  const prefix = sigHashPrefix(genesis);
  let msgBytes = 0;
  for (const it of items) {
    if (it.sig.length !== 64 || it.pub.length !== 33) return undefined;
    msgBytes += it.msg.length + (it.sighash ? prefix.length : 0);
  }
  // Int32Array views need 4-byte alignment: the offsets table sits right after the 12-byte head.
  const job: SigJob = { id, n, buffer: new SharedArrayBuffer(HEAD + 4 * (n + 1) + n + 97 * n + msgBytes) };
  const v = views(job);
  v.ctrl[1] = n;
  let at = v.msgs;
  items.forEach((it, i) => {
    v.offsets[i] = at;
    v.flags[i] = it.sighash ? FLAG_SIGHASH : 0;
    v.bytes.set(it.sig, v.sigs + 64 * i);
    v.bytes.set(it.pub, v.pubs + 33 * i);
    if (it.sighash) {
      v.bytes.set(prefix, at);
      at += prefix.length;
    }
    v.bytes.set(it.msg, at);
    at += it.msg.length;
  });
  v.offsets[n] = at;
  return job;
}

/** The message an item's signature is checked against: its sighash, or `msg` as given. */
export function signedMessage(item: SigItem, genesis: Uint8Array): Uint8Array {
  return item.sighash ? sigHashOf(genesis, item.msg) : item.msg;
}

/**
 * Every item verified on this thread, whatever was claimed or counted: a
 * thread that died may have left a claimed chunk unchecked, and one being
 * terminated may still claim another.
 */
export function verifyAll(job: SigJob): void {
  const ctrl = views(job).ctrl;
  Atomics.store(ctrl, 0, job.n);
  verifyItems(job, 0, job.n);
  Atomics.store(ctrl, 2, job.n);
  Atomics.notify(ctrl, 2);
}

/** Every chunk claimed at once, none verified: for a batch nobody waits for any more. */
export function claimAll(job: SigJob): void {
  Atomics.store(views(job).ctrl, 0, job.n);
}

/**
 * The next unclaimed chunk [from, to), or undefined when all are claimed.
 * Chunks shrink toward the end (an eighth of what is left, down to one), so
 * the threads finish within a signature of each other, not a whole chunk.
 */
export function claim(job: SigJob): { from: number; to: number } | undefined {
  const ctrl = views(job).ctrl;
  for (;;) {
    const from = Atomics.load(ctrl, 0);
    if (from >= job.n) return undefined;
    const to = from + Math.min(CHUNK, Math.max(1, (job.n - from) >> 3));
    if (Atomics.compareExchange(ctrl, 0, from, to) === from) return { from, to };
  }
}

/** Records a bad signature; the lowest index found wins, whichever thread found it. */
export function reportBad(job: SigJob, i: number): void {
  const ctrl = views(job).ctrl;
  for (let seen = Atomics.load(ctrl, 1); i < seen; seen = Atomics.load(ctrl, 1)) {
    if (Atomics.compareExchange(ctrl, 1, seen, i) === seen) return;
  }
}

export function firstBad(job: SigJob): number {
  const bad = Atomics.load(views(job).ctrl, 1);
  return bad === job.n ? -1 : bad;
}

/**
 * Items [from, to) verified, up to the first bad one, which is reported.
 * Each verified in place, from views of the shared memory (nobody writes
 * a job once it is laid out; both backends read shared views); the
 * sighashes among them computed here, in one call.
 */
function verifyItems(job: SigJob, from: number, to: number): void {
  const v = views(job);
  const hashed: number[] = [];
  for (let i = from; i < to; i++) if (v.flags[i]! & FLAG_SIGHASH) hashed.push(i);
  const ranges = new Uint32Array(2 * hashed.length);
  hashed.forEach((i, k) => {
    ranges[2 * k] = v.offsets[i]!;
    ranges[2 * k + 1] = v.offsets[i + 1]! - v.offsets[i]!;
  });
  const digests = sha256Ranges(v.bytes, ranges);
  let k = 0;
  for (let i = from; i < to; i++) {
    const msg =
      v.flags[i]! & FLAG_SIGHASH
        ? digests.subarray(32 * k, 32 * ++k)
        : v.bytes.subarray(v.offsets[i]!, v.offsets[i + 1]!);
    const sig = v.bytes.subarray(v.sigs + 64 * i, v.sigs + 64 * i + 64);
    const pub = v.bytes.subarray(v.pubs + 33 * i, v.pubs + 33 * i + 33);
    if (!verify(sig, msg, pub)) {
      reportBad(job, i);
      return;
    }
  }
}

/** Verifies chunks of the job until none is left unclaimed (every thread runs this). */
export function claimAndVerify(job: SigJob): void {
  const ctrl = views(job).ctrl;
  for (let chunk = claim(job); chunk !== undefined; chunk = claim(job)) {
    verifyItems(job, chunk.from, chunk.to);
    Atomics.add(ctrl, 2, chunk.to - chunk.from);
    Atomics.notify(ctrl, 2);
  }
}

/**
 * Blocks until every item is verified, for at most `ms`: true when they
 * are. Once this thread has claimed the last chunk, the others are a
 * signature or two from done (chunks shrink toward the end); waiting on the shared counter sees that at once,
 * where their message waits its turn in the event loop behind whatever
 * else is due there (measured in a block: 10–16 ms, a tenth of its time).
 */
export function waitVerified(job: SigJob, ms: number): boolean {
  const ctrl = views(job).ctrl;
  const until = performance.now() + ms;
  for (let done = Atomics.load(ctrl, 2); done < job.n; done = Atomics.load(ctrl, 2)) {
    const left = until - performance.now();
    if (left <= 0) return false;
    Atomics.wait(ctrl, 2, done, left);
  }
  return true;
}
