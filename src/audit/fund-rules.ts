import { credit, getAccount } from '../chain/accounts.ts';
import { activeCount } from '../chain/active-count.ts';
import { isActive } from '../chain/activity.ts';
import { ADDRESS_SIZE, type Address, RESERVED_ADDRESS } from '../chain/address.ts';
import { decodeExact, equalBytes } from '../chain/encoding.ts';
import { DecodeError, ValidationError } from '../chain/errors.ts';
import { LI_PER_ZI, type NetworkParams } from '../chain/params.ts';
import type { StateReader, StateWriter } from '../chain/state.ts';
import { TX_KINDS } from '../chain/transaction.ts';
import type { BlockHook, FundPort, TxRules } from '../chain/tx-rules.ts';
import { type Ballot, clearFundVotes, distribute, fundVoteOf, fundVoters, putFundVote, putPayout } from './fund.ts';
import { addToFund, fundBalance } from './state.ts';

/**
 * The shared network fund (DESIGN.md §6): what flows in (gifts to 000 through
 * the `fund` port, forfeited stakes and lost appeals from the audit rules),
 * the `fundvote` kind, and the payout once the fund holds 1 Zi per active
 * address, weighted by the voters' balances.
 */

export interface FundVoteBody {
  payee: Address;
}

/** `fundvote`: an active address names the payee it wants the fund to go to; its latest vote counts. */
export const fundVoteRules: TxRules<FundVoteBody> = {
  kind: TX_KINDS.fundvote,
  decode: (payload) =>
    decodeExact(payload, ADDRESS_SIZE, 'fundvote', (r) => {
      const payee = r.bytes(ADDRESS_SIZE, 'fundvote.payee');
      if (equalBytes(payee, RESERVED_ADDRESS)) {
        throw new DecodeError('BAD_VALUE', 'the fund cannot be voted to 000', { what: 'fundvote.payee' });
      }
      return { payee };
    }),
  encode: (b) => b.payee.slice(),
  spends: () => 0n,
  apply(state, tx, b, ctx) {
    if (!isActive(state, tx.from, ctx.timestamp, ctx.params)) {
      throw new ValidationError(
        'NOT_ACTIVE',
        `only active addresses vote on the fund: party to ${ctx.params.activeTxCount} transactions in the last ${ctx.params.activeWindowMs / 86_400_000} days`,
      );
    }
    putFundVote(state, tx.from, b.payee);
  },
  toJSON: (b, format) => ({ payee: format(b.payee) }),
};

/** The fund's port for the core's transfers to 000. */
export function fundPort(own: (state: StateWriter) => StateWriter): FundPort {
  return { give: (state, li) => addToFund(own(state), li) };
}

/** The fund pays out when it holds this much: 1 Zi per active address. */
export const fundThreshold = (active: number): bigint => LI_PER_ZI * BigInt(active);

/** Each vote that counts now: the voter is active, weighed by its balance. */
export function ballots(state: StateReader, now: number, params: NetworkParams): Ballot[] {
  const out: Ballot[] = [];
  for (const voter of fundVoters(state)) {
    if (!isActive(state, voter, now, params)) continue;
    out.push({ voter, payee: fundVoteOf(state, voter)!, weight: getAccount(state, voter).balance });
  }
  return out;
}

/** What the fund would pay if it paid out now, and whether it does. */
export function fundOutlook(state: StateReader, now: number, params: NetworkParams) {
  const balance = fundBalance(state);
  const active = activeCount(state, now, params);
  const threshold = fundThreshold(active);
  const counted = ballots(state, now, params);
  return {
    balance,
    active,
    threshold,
    ballots: counted,
    shares: distribute(balance, counted),
    due: active > 0 && balance >= threshold,
  };
}

/**
 * After each block: once the fund holds its threshold and some active voter
 * has a balance, it pays the shares, keeps what rounding leaves, and clears
 * every vote. With no vote that counts, it waits and keeps growing.
 */
export const fundPayout: BlockHook = {
  afterBlock(state, ctx) {
    // Cheapest first: most blocks stop at the balance or the count, before any voter is read.
    const balance = fundBalance(state);
    if (balance === 0n) return;
    const active = activeCount(state, ctx.timestamp, ctx.params);
    if (active === 0 || balance < fundThreshold(active)) return;
    const shares = distribute(balance, ballots(state, ctx.timestamp, ctx.params));
    if (shares.length === 0) return;
    let paid = 0n;
    for (const s of shares) {
      credit(state, s.payee, s.amount);
      paid += s.amount;
    }
    addToFund(state, -paid);
    clearFundVotes(state);
    putPayout(state, { height: ctx.height, paid, shares });
  },
};
