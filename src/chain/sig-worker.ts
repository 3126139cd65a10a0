import { parentPort } from 'node:worker_threads';
import { claimAndVerify, type SigJob, type SigResult } from './sig-jobs.ts';

// A job's chunks are claimed until none is left; the main thread learns
// which signature failed from the job's shared memory, not from here.
parentPort!.on('message', (job: SigJob) => {
  claimAndVerify(job);
  parentPort!.postMessage({ id: job.id } satisfies SigResult);
});
