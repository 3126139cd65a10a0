import type { Address } from '../chain/address.ts';
import { equalBytes, toHex, Writer } from '../chain/encoding.ts';
import { type Hash, sha256 } from '../chain/hash.ts';
import type { Log } from '../chain/log.ts';
import type { StateReader } from '../chain/state.ts';
import { getAudit, INVALID, pendingAudits, STATUS_APPEALING, STATUS_OPEN, VALID } from './state.ts';
import { encodeVote } from './votes.ts';

/** A batch as the market reports it (its `batches` port; market/batch-audit.ts). */
export interface AuditedBatch {
  start: number;
  end: number;
  cid: Uint8Array;
}

/** What the auditor needs of the market's node service. */
export interface BatchChecks {
  validatorBatches(contract: Hash): Promise<AuditedBatch[]>;
  /** Why the batch fails, or undefined when it passes. */
  check(contract: Hash, batch: AuditedBatch, seed: Uint8Array, deadlineMs: number): Promise<string | undefined>;
}

/** Batches of a Validator's that one miner checks (DESIGN.md §6). */
export const AUDIT_BATCHES = 3;
/** How long the auditor waits for one batch from IPFS before counting it missing (Invalid). */
export const FETCH_DEADLINE_MS = 90_000;

/** Up to AUDIT_BATCHES of the batches, chosen by the seed (each ranked by SHA-256(seed ‖ its start)). */
export function pickBatches<B extends AuditedBatch>(batches: readonly B[], seed: Uint8Array): B[] {
  const rank = (b: B) => toHex(sha256(seed, new Writer(8).u64(BigInt(b.start)).finish()));
  return [...batches].sort((a, b) => (rank(a) < rank(b) ? -1 : 1)).slice(0, AUDIT_BATCHES);
}

export function auditSeed(parent: Hash, contract: Hash, miner: Address): Uint8Array {
  return sha256(parent, contract, miner);
}

export interface AuditorDeps {
  state: () => StateReader;
  tipHash: () => Hash;
  miner: Address;
  batches: BatchChecks;
  logger: Log;
  /** TEST ONLY (--audit-lie): vote the opposite of what the check finds. */
  lie?: boolean;
  fetchDeadlineMs?: number;
}

/**
 * The off-chain half of an audit, in every mining node: for each contract
 * under audit it checks a seeded sample of its Validator's batches once
 * (cached by contract, so a reorg never confuses it) and hands the miner a
 * vote when it has an answer. It never delays a block: votes() returns only
 * verdicts already found.
 */
export class Auditor {
  private readonly d: AuditorDeps;
  private readonly verdicts = new Map<string, number>();
  private readonly running = new Set<string>();
  private stopped = false;

  constructor(d: AuditorDeps) {
    this.d = d;
  }

  /** Looks at the audits open now; starts checking those it has no verdict for. */
  poll(): void {
    if (this.stopped) return;
    const state = this.d.state();
    for (const id of pendingAudits(state)) {
      const key = toHex(id);
      if (this.verdicts.has(key) || this.running.has(key)) continue;
      const a = getAudit(state, id);
      if (!a || (a.status !== STATUS_OPEN && a.status !== STATUS_APPEALING)) continue;
      this.running.add(key);
      void this.audit(id)
        .then((verdict) => {
          this.verdicts.set(key, this.d.lie ? 1 - verdict : verdict);
          this.d.logger.info(
            { contract: key.slice(0, 16), verdict: verdict === VALID ? 'valid' : 'invalid' },
            'audited',
          );
        })
        .catch((err) => this.d.logger.warn({ contract: key.slice(0, 16), err: String(err) }, 'audit failed; retrying'))
        .finally(() => this.running.delete(key));
    }
  }

  private async audit(id: Hash): Promise<number> {
    const seed = auditSeed(this.d.tipHash(), id, this.d.miner);
    const batches = pickBatches(await this.d.batches.validatorBatches(id), seed);
    for (const b of batches) {
      const why = await this.d.batches.check(id, b, seed, this.d.fetchDeadlineMs ?? FETCH_DEADLINE_MS);
      if (why !== undefined) {
        this.d.logger.info({ contract: toHex(id).slice(0, 16), batch: [b.start, b.end], why }, 'batch fails its audit');
        return INVALID;
      }
    }
    return VALID;
  }

  /** The votes for a block built now: one per audit this miner has an answer for and has not voted on. */
  votes(): Uint8Array[] {
    const state = this.d.state();
    const out: Uint8Array[] = [];
    for (const id of pendingAudits(state)) {
      const verdict = this.verdicts.get(toHex(id));
      const a = getAudit(state, id);
      if (verdict === undefined || !a || (a.status !== STATUS_OPEN && a.status !== STATUS_APPEALING)) continue;
      if (a.votes.some((v) => equalBytes(v.voter, this.d.miner))) continue;
      out.push(encodeVote({ contract: id, round: a.round, verdict }));
    }
    return out;
  }

  stop(): void {
    this.stopped = true;
  }
}
