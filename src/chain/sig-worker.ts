import { parentPort } from 'node:worker_threads';
import { verify } from './keys.ts';
import { sigHashOf } from './transaction.ts';

export interface SigJob {
  id: number;
  /** n × 64 signature bytes, n × 33 public key bytes. */
  sigs: Uint8Array;
  pubs: Uint8Array;
  /** n × 32 message bytes; or, with `genesis`, n unsigned transactions end to end, the i-th ending at ends[i]. */
  msgs: Uint8Array;
  genesis?: Uint8Array;
  ends?: Uint32Array;
}

export interface SigResult {
  id: number;
  /** Index of the first signature that fails, or -1. */
  bad: number;
}

parentPort!.on('message', (job: SigJob) => {
  const n = job.sigs.length / 64;
  let bad = -1;
  for (let i = 0; i < n; i++) {
    const msg =
      job.genesis === undefined
        ? job.msgs.subarray(i * 32, i * 32 + 32)
        : sigHashOf(job.genesis, job.msgs.subarray(i === 0 ? 0 : job.ends![i - 1], job.ends![i]));
    if (!verify(job.sigs.subarray(i * 64, i * 64 + 64), msg, job.pubs.subarray(i * 33, i * 33 + 33))) {
      bad = i;
      break;
    }
  }
  parentPort!.postMessage({ id: job.id, bad } satisfies SigResult);
});
