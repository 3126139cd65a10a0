import type { Chain } from '../chain/chain.ts';
import { toHex } from '../chain/encoding.ts';
import type { Hash } from '../chain/hash.ts';
import { stateKey } from '../chain/store/layout.ts';
import type { SandboxPool } from '../sandbox/index.ts';
import { BatchError, checkBatch } from './batch-check.ts';
import { contractBody } from './contract-body.ts';
import { decodePaidBatch, type PaidBatch, STATE_PAID_BATCH } from './contract-state.ts';
import type { ResultStore } from './host.ts';

/**
 * What the market offers a node's auditor (its node-level `batches` port):
 * the batches a contract's Validator co-signed, and a batch checked against
 * a seed the auditor takes from the chain (DESIGN.md §6).
 */
export interface BatchAudit {
  validatorBatches(contract: Hash): Promise<PaidBatch[]>;
  /**
   * Why the batch fails its audit, or undefined when it is retrievable
   * within the deadline, is what its CID says and validates with the seed.
   */
  check(contract: Hash, batch: PaidBatch, seed: Uint8Array, deadlineMs: number): Promise<string | undefined>;
}

/** A batch's fetch is tried this many times within the auditor's deadline. */
const FETCH_ATTEMPTS = 9;

export function batchAudit(chain: Chain, results: ResultStore, sandboxes: SandboxPool): BatchAudit {
  return {
    async validatorBatches(contract) {
      const out: PaidBatch[] = [];
      for await (const [key, value] of chain.store.stateEntries(stateKey(STATE_PAID_BATCH, contract))) {
        const b = decodePaidBatch(key, value);
        if (b.byValidator) out.push(b);
      }
      return out;
    },
    async check(contract, batch, seed, deadlineMs) {
      let bytes: Uint8Array | undefined;
      let why = '';
      // Asked again (a fresh want to every peer) before a transient miss condemns an honest Validator.
      for (let attempt = 0; attempt < FETCH_ATTEMPTS && !bytes; attempt++) {
        bytes = await results.get(batch.cid, { timeoutMs: deadlineMs / FETCH_ATTEMPTS }).catch((err: Error) => {
          why = err.message;
          return undefined;
        });
      }
      // Not retrievable within the auditor's deadline: Invalid, as the paper says.
      if (!bytes) return `not retrievable: ${why}`;
      const body = await contractBody(chain, contract);
      const runtime = await sandboxes.get(toHex(contract), body.code, {
        memoryLimitMiB: body.memoryMiB,
        timeoutMs: body.timeoutMs,
      });
      try {
        await checkBatch({ contract, range: batch, cid: batch.cid, bytes, runtime, sampleRate: body.sampleRate, seed });
        return undefined;
      } catch (err) {
        if (err instanceof BatchError) return `${err.code}: ${err.message}`;
        throw err;
      }
    },
  };
}
