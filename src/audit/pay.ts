import { type AuditRecord, INVALID, ROUND_VOTES, VALID } from './state.ts';

/** A vote on the verdict's side earns at most this many MCUs' validation fee (DESIGN.md §6). */
export const VOTE_FEE_MCUS = 1000n;

/**
 * The verdict of a full round: round 1 only when its three votes agree (split,
 * it is undefined and nine more decide), rounds 2 and 3 by majority.
 */
export function roundVerdict(round: number, votes: readonly { verdict: number }[]): number | undefined {
  if (round === 1) return votes.every((v) => v.verdict === votes[0]!.verdict) ? votes[0]!.verdict : undefined;
  const valid = votes.filter((v) => v.verdict === VALID).length;
  return valid * 2 > votes.length ? VALID : INVALID;
}

/**
 * What each vote on the deciding side of a round earns: min(1,000 × v, pool ÷
 * the round's votes), the pool being the held validation fees in rounds 1 and 2
 * (minted) and the appeal payment in round 3 (paid out of it). The rules pay it
 * and the RPC reports it with this one function.
 */
export function votePay(a: Pick<AuditRecord, 'validationFee' | 'heldFees' | 'appealPayment'>, round: number): bigint {
  const cap = VOTE_FEE_MCUS * a.validationFee;
  const share = (round < 3 ? a.heldFees : a.appealPayment) / BigInt(ROUND_VOTES[round as 1 | 2 | 3]);
  return cap < share ? cap : share;
}
