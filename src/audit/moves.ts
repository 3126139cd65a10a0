import type { Address } from '../chain/address.ts';
import { roundVerdict, votePay } from './pay.ts';
import {
  type AuditRecord,
  INVALID,
  ROUND_VOTES,
  STATUS_APPEALING,
  STATUS_FINAL,
  STATUS_INVALID,
  VALID,
} from './state.ts';

/** Li an audit moved, to an address or to the shared fund. */
export interface Move {
  what: 'vote fee' | 'appeal vote fee' | 'held fees' | 'stake' | 'appeal payment';
  li: bigint;
  to: Address | 'fund';
  /** A vote fee of rounds 1 and 2 is minted; everything else was already in escrow, a stake or the appeal. */
  minted: boolean;
}

/** Li the audit holds until its verdict, its appeal window's end or its appeal (a stake's amount is the Validator's). */
export interface Held {
  what: 'held fees' | 'stake' | 'appeal payment';
  li?: bigint;
}

export interface Outcome {
  /** Per vote, in the record's order: what it earned, or null while its round is not full. */
  paid: (bigint | null)[];
  moved: Move[];
  held: Held[];
}

/** The verdict a round reached, undefined while it is not full or when it split (round 1). */
function reached(a: AuditRecord, round: 1 | 2 | 3): number | undefined {
  const votes = a.votes.filter((v) => v.round === round);
  return votes.length === ROUND_VOTES[round] ? roundVerdict(round, votes) : undefined;
}

/**
 * What an audit moved and what it still holds, told from its record alone with
 * the rules' own pay function (pay.ts): the rules apply the same steps
 * (rules.ts settle and finality).
 */
export function auditOutcome(a: AuditRecord): Outcome {
  const verdicts = { 1: reached(a, 1), 2: reached(a, 2), 3: reached(a, 3) } as const;
  const full = (round: 1 | 2 | 3) => a.votes.filter((v) => v.round === round).length === ROUND_VOTES[round];
  const paid = a.votes.map((v) => {
    const round = v.round as 1 | 2 | 3;
    if (!full(round)) return null;
    return verdicts[round] === v.verdict ? votePay(a, round) : 0n;
  });
  const moved: Move[] = [];
  const move = (what: Move['what'], li: bigint, to: Address | 'fund', minted = false) =>
    moved.push({ what, li, to, minted });
  let appealVoters = 0n;
  a.votes.forEach((v, i) => {
    const li = paid[i];
    if (!li) return;
    if (v.round < 3) move('vote fee', li, v.voter, true);
    else {
      move('appeal vote fee', li, v.voter);
      appealVoters += li;
    }
  });
  const audit = verdicts[1] ?? verdicts[2];
  const appeal = verdicts[3];
  if (audit === VALID) move('held fees', a.heldFees, a.validator);
  else if (appeal === VALID) {
    move('held fees', a.heldFees, a.validator);
    move('appeal payment', a.appealPayment - appealVoters, a.validator);
  } else if (appeal === INVALID) {
    move('held fees', a.heldFees, a.bidder);
    move('stake', a.forfeited, 'fund');
    move('appeal payment', a.appealPayment - appealVoters, 'fund');
  } else if (a.status === STATUS_FINAL) {
    // An Invalid verdict whose appeal window closed unappealed.
    move('held fees', a.heldFees, a.bidder);
    move('stake', a.forfeited, 'fund');
  }
  const held: Held[] = [];
  if (a.status !== STATUS_FINAL) held.push({ what: 'held fees', li: a.heldFees });
  if (a.status === STATUS_INVALID || a.status === STATUS_APPEALING) held.push({ what: 'stake' });
  if (a.status === STATUS_APPEALING) held.push({ what: 'appeal payment', li: a.appealPayment });
  return { paid, moved, held };
}
