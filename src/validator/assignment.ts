import { distance } from 'fastest-levenshtein';
import type { Address } from '../chain/address.ts';
import { toHex } from '../chain/encoding.ts';
import { type Hash, sha256 } from '../chain/hash.ts';
import type { NetworkParams } from '../chain/params.ts';
import { FLAG_BANNED, type StakeRecord } from './state.ts';

/**
 * The paper's rules for who validates a delegated contract (DESIGN.md §5),
 * as pure functions of their inputs, so the vectors in
 * test/fixtures/assignment.json pin them down.
 */

/** SHA-256(block hash ‖ contract id): unknown to the Bidder when it signs, costly for a miner to re-roll. */
export function assignmentKey(blockHash: Hash, contract: Hash): Hash {
  return sha256(blockHash, contract);
}

/** fit = Levenshtein distance of the lowercase hex of the key and of the stake's txid; the highest wins. */
export function fit(key: Hash | string, stakeTxid: Hash): number {
  return distance(typeof key === 'string' ? key : toHex(key), toHex(stakeTxid));
}

export interface Candidate {
  address: Address;
  stake: StakeRecord;
}

/** Matured, not banned, and its free stake covers the budget. */
export function eligible(stake: StakeRecord, budget: bigint, height: number, params: NetworkParams): boolean {
  return (
    stake.height + params.stakeMaturity <= height &&
    (stake.flags & FLAG_BANNED) === 0 &&
    stake.amount - stake.reserved >= budget
  );
}

/**
 * The Validator assigned to a contract with this key and budget, in a block
 * at `height`: the eligible one with the highest fit; ties go to the larger
 * stake, then the earlier first stake (height, then position).
 */
export function chooseValidator(
  candidates: readonly Candidate[],
  key: Hash,
  budget: bigint,
  height: number,
  params: NetworkParams,
): Candidate | undefined {
  let best: { c: Candidate; fit: number } | undefined;
  const hex = toHex(key);
  for (const c of candidates) {
    if (!eligible(c.stake, budget, height, params)) continue;
    const f = fit(hex, c.stake.txid);
    if (best === undefined || better(f, c.stake, best.fit, best.c.stake)) best = { c, fit: f };
  }
  return best?.c;
}

function better(f: number, s: StakeRecord, bestFit: number, b: StakeRecord): boolean {
  if (f !== bestFit) return f > bestFit;
  if (s.amount !== b.amount) return s.amount > b.amount;
  if (s.height !== b.height) return s.height < b.height;
  return s.position < b.position;
}

/**
 * Choosing a Validator weighs every Validator, so a block of many delegated
 * contracts could cost contracts × Validators Levenshtein distances (≈ 3 µs
 * each). A block may open at most this many delegated contracts among
 * `validators` Validators (params.assignmentChecksPerBlock in all), and at
 * least one; the rest wait for the next block.
 */
export function assignmentsPerBlock(validators: number, params: NetworkParams): number {
  return Math.max(1, Math.floor(params.assignmentChecksPerBlock / Math.max(1, validators)));
}

/** Whether a block that opens `opened` delegated contracts among `validators` Validators is within the limit. */
export function assignmentsFit(opened: number, validators: number, params: NetworkParams): boolean {
  return opened <= assignmentsPerBlock(validators, params);
}

const DAY_MS = 86_400_000;

/** How many UTC days of block time the activity window spans (the delegated-contract count is kept per day). */
export function windowDays(params: NetworkParams): number {
  return Math.ceil(params.activeWindowMs / DAY_MS);
}

/** R = M · max(1, delegated contracts opened in the window). */
export function requiredStake(delegatedInWindow: number, params: NetworkParams): bigint {
  return params.stakeUnit * BigInt(Math.max(1, delegatedInWindow));
}
