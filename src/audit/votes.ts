import { decodeExact, toHex, Writer } from '../chain/encoding.ts';
import { DecodeError, ValidationError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import { INVALID, VALID } from './state.ts';

/**
 * An audit vote, an item of a block's votes section (DESIGN.md §6):
 * 32 contract ‖ u8 round (1–3) ‖ u8 verdict (0 Invalid, 1 Valid) ‖ u8 evidence flag ‖ [u64 failing index].
 * The voter is the block's miner.
 */
export interface AuditVote {
  contract: Hash;
  round: number;
  verdict: number;
  /** With an Invalid verdict: an index whose output is wrong. */
  failingIndex?: number;
}

export function encodeVote(v: AuditVote): Uint8Array {
  const w = new Writer(43).bytes(v.contract).u8(v.round).u8(v.verdict);
  return v.failingIndex === undefined ? w.u8(0).finish() : w.u8(1).u64(BigInt(v.failingIndex)).finish();
}

export function decodeVote(bytes: Uint8Array): AuditVote {
  return decodeExact(bytes, 43, 'vote', (r) => {
    const contract = r.bytes(32, 'vote.contract');
    const round = r.u8('vote.round');
    const verdict = r.u8('vote.verdict');
    const flag = r.u8('vote.evidence');
    if (round < 1 || round > 3)
      throw new DecodeError('BAD_VALUE', 'a vote is for round 1, 2 or 3', { what: 'vote.round' });
    if (verdict !== VALID && verdict !== INVALID)
      throw new DecodeError('BAD_VALUE', 'a verdict is 0 or 1', { what: 'vote.verdict' });
    if (flag > 1) throw new DecodeError('BAD_VALUE', 'the evidence flag is 0 or 1', { what: 'vote.evidence' });
    if (flag === 1 && verdict === VALID) {
      throw new DecodeError('NON_CANONICAL', 'only an Invalid vote names a failing index', { what: 'vote.evidence' });
    }
    if (flag === 0) return { contract, round, verdict };
    const index = r.u64('vote.failingIndex');
    if (index > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError('BAD_VALUE', 'failing index out of range');
    return { contract, round, verdict, failingIndex: Number(index) };
  });
}

/** Stateless: at most one vote per contract in a block. */
export function checkVotes(votes: readonly AuditVote[]): void {
  const seen = new Set<string>();
  votes.forEach((v, i) => {
    const id = toHex(v.contract);
    if (seen.has(id)) {
      throw new ValidationError('DUPLICATE_VOTE', `two votes for contract ${id} in one block`, { voteIndex: i });
    }
    seen.add(id);
  });
}
