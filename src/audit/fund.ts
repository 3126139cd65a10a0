import { ADDRESS_SIZE, type Address } from '../chain/address.ts';
import { decodeExact, toHex, Writer } from '../chain/encoding.ts';
import type { StateReader, StateWriter } from '../chain/state.ts';
import { listAppend, listDrop, listItems, listLast } from '../chain/state-list.ts';
import { stateKey, u32be } from '../chain/store/layout.ts';

/**
 * The shared network fund's votes and payouts (its balance is STATE_FUND,
 * state.ts). State keys, inside the audit domain's 0x30–0x3f:
 *   0x32 (‖ u32 page)    -> the voters, in order of first vote (a list, chain/state-list.ts)
 *   0x33 ‖ voter         -> the payee it voted for (its latest vote)
 *   0x34 ‖ u32 height    -> a payout: u64 Li paid ‖ n × (payee ‖ u64 Li)
 *   0x35 (‖ u32 page)    -> the heights of every payout, ascending (a list)
 */
export const STATE_FUND_VOTERS = 0x32;
export const STATE_FUND_VOTE = 0x33;
export const STATE_FUND_PAYOUT = 0x34;
export const STATE_FUND_PAYOUTS = 0x35;

const VOTERS_KEY = new Uint8Array([STATE_FUND_VOTERS]);
const PAYOUTS_KEY = new Uint8Array([STATE_FUND_PAYOUTS]);

export interface Ballot {
  voter: Address;
  payee: Address;
  /** The voter's balance in the payout block. */
  weight: bigint;
}

export interface Share {
  payee: Address;
  amount: bigint;
}

/**
 * The fund split over the payees by their voters' total weight, each share
 * floor-rounded; what rounding leaves is the caller's to keep. Payees come
 * in order of their first ballot. Because a payee's share depends only on
 * the sum of its voters' weights, spreading one balance over many voters
 * changes nothing, and spreading it over many payees only loses to rounding.
 */
export function distribute(fund: bigint, ballots: readonly Ballot[]): Share[] {
  const byPayee = new Map<string, { payee: Address; weight: bigint }>();
  let total = 0n;
  for (const b of ballots) {
    if (b.weight <= 0n) continue;
    total += b.weight;
    const id = toHex(b.payee);
    const p = byPayee.get(id);
    if (p) p.weight += b.weight;
    else byPayee.set(id, { payee: b.payee, weight: b.weight });
  }
  if (total === 0n) return [];
  return [...byPayee.values()]
    .map((p) => ({ payee: p.payee, amount: (fund * p.weight) / total }))
    .filter((s) => s.amount > 0n);
}

export function fundVoters(state: StateReader): Address[] {
  return listItems(state, VOTERS_KEY, ADDRESS_SIZE, 'the fund voters');
}

export function fundVoteOf(state: StateReader, voter: Address): Address | undefined {
  const raw = state.get(stateKey(STATE_FUND_VOTE, voter));
  return raw === undefined ? undefined : decodeExact(raw, ADDRESS_SIZE, 'a fund vote', (r) => r.bytes(ADDRESS_SIZE));
}

/** Records a voter's latest vote. */
export function putFundVote(state: StateWriter, voter: Address, payee: Address): void {
  if (fundVoteOf(state, voter) === undefined) listAppend(state, VOTERS_KEY, voter, ADDRESS_SIZE);
  state.put(stateKey(STATE_FUND_VOTE, voter), payee);
}

export function clearFundVotes(state: StateWriter): void {
  for (const v of fundVoters(state)) state.del(stateKey(STATE_FUND_VOTE, v));
  listDrop(state, VOTERS_KEY);
}

export interface Payout {
  height: number;
  paid: bigint;
  shares: Share[];
}

/** The heights of the last `count` payouts, ascending. */
export function payoutHeights(state: StateReader, count: number): number[] {
  return listLast(state, PAYOUTS_KEY, 4, count, 'the fund payouts').map((b) =>
    new DataView(b.buffer, b.byteOffset).getUint32(0),
  );
}

export function getPayout(state: StateReader, height: number): Payout | undefined {
  const raw = state.get(stateKey(STATE_FUND_PAYOUT, u32be(height)));
  if (raw === undefined) return undefined;
  // As many shares as payees, at most one per voter: bounded by what the chain could hold.
  return decodeExact(raw, 64 << 20, 'a fund payout', (r) => {
    const paid = r.u64();
    const shares: Share[] = [];
    while (r.remaining > 0) shares.push({ payee: r.bytes(ADDRESS_SIZE), amount: r.u64() });
    return { height, paid, shares };
  });
}

export function putPayout(state: StateWriter, p: Payout): void {
  const w = new Writer(8 + p.shares.length * (ADDRESS_SIZE + 8)).u64(p.paid);
  for (const s of p.shares) w.bytes(s.payee).u64(s.amount);
  state.put(stateKey(STATE_FUND_PAYOUT, u32be(p.height)), w.finish());
  listAppend(state, PAYOUTS_KEY, u32be(p.height), 4);
}
