import type { Address } from '../chain/address.ts';
import { toHex } from '../chain/encoding.ts';
import { authorityOf } from './authorize.ts';
import type { ContractRecord } from './contract-state.ts';

/*
 * Two-sided reputation from the market's own record (docs/PROTOCOL.md
 * "Reputation"): what the chain shows each authority paid, and what each
 * Solver delivered, plus what a Solver's own session log adds about batches
 * refused. Nobody types a score in. Pure over the data it is given.
 */

export interface ContractHistory {
  record: Pick<
    ContractRecord,
    'bidder' | 'validation' | 'validator' | 'paidMcus' | 'openedHeight' | 'firstPayoutHeight' | 'lastPayoutHeight'
  >;
  /** Its paid batches on chain, when they were counted (the cadence needs them). */
  payouts?: number;
}

export interface AuthorityReputation {
  /** Contracts it serves, open or closed. */
  contracts: number;
  /** Of those, how many paid at least one batch. */
  paidContracts: number;
  mcusPaid: bigint;
  /** Paid batches; null when they were not counted. */
  payouts: number | null;
  /** Median blocks from a contract's inclusion to its first payout, over its paid contracts. */
  firstPayoutBlocks: number | null;
  /** Mean blocks between one payout of a contract and the next, over contracts with two or more. */
  cadenceBlocks: number | null;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function authorityFrom(histories: readonly ContractHistory[]): AuthorityReputation {
  const paid = histories.filter((h) => h.record.firstPayoutHeight > 0);
  const counted = histories.every((h) => h.payouts !== undefined);
  let spans = 0;
  let gaps = 0;
  for (const h of paid) {
    if ((h.payouts ?? 0) < 2) continue;
    spans += h.record.lastPayoutHeight - h.record.firstPayoutHeight;
    gaps += h.payouts! - 1;
  }
  return {
    contracts: histories.length,
    paidContracts: paid.length,
    mcusPaid: histories.reduce((n, h) => n + h.record.paidMcus, 0n),
    payouts: counted ? histories.reduce((n, h) => n + h.payouts!, 0) : null,
    firstPayoutBlocks: median(paid.map((h) => h.record.firstPayoutHeight - h.record.openedHeight)),
    cadenceBlocks: counted && gaps > 0 ? spans / gaps : null,
  };
}

/** Every authority's reputation, by the lowercase hex of its address. */
export function authorityReputations(contracts: Iterable<ContractHistory>): Map<string, AuthorityReputation> {
  const by = new Map<string, ContractHistory[]>();
  for (const h of contracts) {
    const key = toHex(authorityOf(h.record));
    const list = by.get(key);
    if (list) list.push(h);
    else by.set(key, [h]);
  }
  return new Map([...by].map(([k, list]) => [k, authorityFrom(list)]));
}

/** One address's reputation as an authority (all zero when it serves nothing). */
export function authorityReputation(address: Address, contracts: Iterable<ContractHistory>): AuthorityReputation {
  const key = toHex(address);
  return authorityFrom([...contracts].filter((h) => toHex(authorityOf(h.record)) === key));
}

/** One payout on chain that a Solver sent (and was paid by). */
export interface SolverPayout {
  mcus: number;
  height: number;
}

/** What a Solver's session log says of one session (session-log.ts keeps them). */
export interface SessionSummary {
  /** The authority's address, lowercase hex. */
  authority: string;
  batchesPaid: number;
  batchesRejected: number;
  /** MCUs computed and sent that were never paid. */
  mcusUnpaid: number;
}

export interface SolverReputation {
  payouts: number;
  mcusDelivered: number;
  firstPayoutHeight: number | null;
  lastPayoutHeight: number | null;
  /** From this node's session log; null when the address is not this node's Solver. */
  batchesRejected: number | null;
}

export function solverReputation(payouts: readonly SolverPayout[], log?: readonly SessionSummary[]): SolverReputation {
  let first: number | null = null;
  let last: number | null = null;
  for (const p of payouts) {
    if (first === null || p.height < first) first = p.height;
    if (last === null || p.height > last) last = p.height;
  }
  return {
    payouts: payouts.length,
    mcusDelivered: payouts.reduce((n, p) => n + p.mcus, 0),
    firstPayoutHeight: first,
    lastPayoutHeight: last,
    batchesRejected: log ? log.reduce((n, s) => n + s.batchesRejected, 0) : null,
  };
}

/** What this Solver's own log says an authority owes it: MCUs it computed and sent, never paid. */
export function unpaidBy(authority: Address, log: readonly SessionSummary[]): number {
  const key = toHex(authority);
  return log.reduce((n, s) => (s.authority === key ? n + s.mcusUnpaid : n), 0);
}
