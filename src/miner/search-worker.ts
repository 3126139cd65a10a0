/**
 * One nonce-search thread of a NonceSearch pool. It stays alive across
 * templates and runs one job at a time: claim a chunk of nonces from the job's
 * shared counter, search it with the kernel, report, repeat until the job's
 * shared stop flag is set or the nonce space is used up.
 *
 * The kernel call blocks this thread, so a stop cannot arrive as a message; it
 * is a flag in shared memory read between chunks, and chunks are sized to take
 * about CHUNK_MS so that a new template replaces the old one within that time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getKernel, type KernelName, kernelName } from './kernel.ts';

/** How long one kernel call should take: the bound on stop latency. */
const CHUNK_MS = 30;
const MIN_CHUNK = 256;
const MAX_CHUNK = 1 << 28;

export interface JobMessage {
  type: 'job';
  id: number;
  prefix: Uint8Array;
  target: Uint8Array;
  startNonce: bigint;
  /**
   * Int32 at byte 0: stop flag (non-zero = stop). BigUint64 at byte 8: offset
   * from startNonce of the next unclaimed nonce. Fresh per job, so a worker
   * still finishing an old job can never claim the new job's nonces.
   */
  control: SharedArrayBuffer;
}

export type WorkerReport =
  | { type: 'ready'; kernel: KernelName }
  | { type: 'progress'; id: number; attempts: number; ms: number }
  | { type: 'found'; id: number; nonce: bigint; hash: Uint8Array }
  | { type: 'done'; id: number };

const port = parentPort;
if (!port) throw new Error('search-worker.ts runs only as a worker thread');

const kernel = getKernel((workerData as { kernel?: KernelName } | null)?.kernel ?? kernelName);
const initialChunk: Record<KernelName, number> = { 'sha-ni': 1 << 20, 'native-scalar': 1 << 17, js: 1 << 16 };
// Kept across jobs: after the first template the chunk size is already tuned.
let chunk = initialChunk[kernel.name];

function post(report: WorkerReport): void {
  port!.postMessage(report);
}

function run(job: JobMessage): void {
  const stop = new Int32Array(job.control, 0, 1);
  const next = new BigUint64Array(job.control, 8, 1);
  const space = (1n << 64n) - job.startNonce;
  while (Atomics.load(stop, 0) === 0) {
    const offset = Atomics.add(next, 0, BigInt(chunk));
    if (offset >= space) break;
    const count = space - offset < BigInt(chunk) ? Number(space - offset) : chunk;
    const t0 = performance.now();
    const r = kernel.searchNonces(job.prefix, job.target, job.startNonce + offset, count);
    const ms = performance.now() - t0;
    post({ type: 'progress', id: job.id, attempts: r.attempts, ms });
    if (r.nonce !== null) {
      // Stops the sibling threads at once, without a round trip through the main thread.
      Atomics.store(stop, 0, 1);
      post({ type: 'found', id: job.id, nonce: r.nonce, hash: r.hash! });
      break;
    }
    if (count === chunk && ms > 0) {
      // At most a factor of 2 per step, so one slow chunk (a busy core) does not swing the size.
      const ideal = Math.round((chunk * CHUNK_MS) / ms);
      chunk = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, Math.min(chunk * 2, Math.max(chunk >> 1, ideal))));
    }
  }
  post({ type: 'done', id: job.id });
}

port.on('message', (msg: JobMessage) => {
  if (msg.type === 'job') run(msg);
});
post({ type: 'ready', kernel: kernel.name });
