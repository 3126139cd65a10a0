import { parentPort } from 'node:worker_threads';
import { verify } from './keys.ts';

export interface SigJob {
  id: number;
  /** n × 64 signature bytes, n × 32 message bytes, n × 33 public key bytes. */
  sigs: Uint8Array;
  msgs: Uint8Array;
  pubs: Uint8Array;
}

export interface SigResult {
  id: number;
  /** Index of the first signature that fails, or -1. */
  bad: number;
}

parentPort!.on('message', (job: SigJob) => {
  const n = job.msgs.length / 32;
  let bad = -1;
  for (let i = 0; i < n; i++) {
    const ok = verify(
      job.sigs.subarray(i * 64, i * 64 + 64),
      job.msgs.subarray(i * 32, i * 32 + 32),
      job.pubs.subarray(i * 33, i * 33 + 33),
    );
    if (!ok) {
      bad = i;
      break;
    }
  }
  parentPort!.postMessage({ id: job.id, bad } satisfies SigResult);
});
