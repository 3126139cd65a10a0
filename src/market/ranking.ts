import { toHex } from '../chain/encoding.ts';
import type { ContractRecord } from './contract-state.ts';

/*
 * How a Solver chooses what to work on (docs/PROTOCOL.md "Solver ranking"):
 * the Li per second it can actually earn on each open contract, and what it
 * remembers of contracts and authorities that let it down. Pure: the chain's
 * records, the measured rate and the clock come in as arguments.
 */

/** How far ahead the ranking looks: a contract with less work (or escrow) left than this is worth only what it pays in it. */
export const RANK_HORIZON_S = 60;
/** An authority that has never paid anyone on chain counts at this fraction: unproven, not condemned. */
export const UNPROVEN_WEIGHT = 0.5;

/** What the ranking knows of one open contract. */
export interface Offer {
  price: bigint;
  validationFee: bigint;
  escrow: bigint;
  /** What one payout's fee draws from escrow. */
  payoutFee: bigint;
  /** Indices not yet paid; null when the contract is unbounded. */
  remaining: number | null;
  /** This machine's measured MCUs per second on it, all threads. */
  rate: number;
  /** The authority has paid some MCU on chain before (reputation.ts). */
  provenPayer: boolean;
}

/** MCUs the contract can still pay: escrow for them and their payout's fee, and indices left to solve. */
export function payableMcus(o: Pick<Offer, 'price' | 'validationFee' | 'escrow' | 'payoutFee' | 'remaining'>): number {
  const perMcu = o.price + o.validationFee;
  if (perMcu <= 0n || o.escrow <= o.payoutFee) return 0;
  const byEscrow = (o.escrow - o.payoutFee) / perMcu;
  const left = o.remaining === null ? byEscrow : BigInt(Math.max(0, o.remaining));
  return Number(byEscrow < left ? byEscrow : left);
}

/**
 * Expected Li per second: price × the measured rate, the rate capped by what
 * the contract can still pay within the horizon, weighed by whether its
 * authority is known to pay. 0 when the contract cannot pay one more MCU.
 */
export function earnableRate(o: Offer): number {
  const mcus = payableMcus(o);
  if (mcus <= 0 || !(o.rate > 0)) return 0;
  const perSecond = Math.min(o.rate, mcus / RANK_HORIZON_S);
  return Number(o.price) * perSecond * (o.provenPayer ? 1 : UNPROVEN_WEIGHT);
}

/** What went wrong with a contract or its authority. */
export type Setback =
  /** No answer to the Solver's discoveries. */
  | 'silent'
  /** Results sent and not paid: no `paid` in time, the stream ended, or a payout that does not go through. */
  | 'unpaid'
  /** The authority broke the protocol (an oversized lease, a bad frame or signature): scored down too. */
  | 'breach'
  /** The authority refused this Solver's batch: it leases no more to this key on that contract. */
  | 'refused'
  /** The authority said the escrow is spent. */
  | 'exhausted'
  /** The authority had nothing left to lease. */
  | 'complete'
  /** The authority may no longer sign for the contract (a Validator that lost it). */
  | 'not-authority'
  /** The lease ran out, or the session failed on this side: retried soon. */
  | 'interrupted';

export interface BackoffPolicy {
  /** The first wait; each further setback in a row doubles it. */
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 10_000, maxMs: 30 * 60_000 };

/** The parts of a contract record whose change can end a wait: a topup, a payout, a new Validator. */
export interface RecordMark {
  escrow: bigint;
  lastPayoutHeight: number;
  validator: string;
}

export function recordMark(c: Pick<ContractRecord, 'escrow' | 'lastPayoutHeight' | 'validator'>): RecordMark {
  return { escrow: c.escrow, lastPayoutHeight: c.lastPayoutHeight, validator: toHex(c.validator) };
}

/**
 * Whether the chain shows the change that a setback waits for: a topup for a
 * spent escrow; a topup or a payout to anyone for a silent authority (its
 * Bidder is about, or it answers others again); a new Validator for a lost
 * assignment. Lost pay and breaches are not undone by anything on chain, nor
 * is "nothing left to lease" (other Solvers' leases run out unseen): only
 * time brings those back.
 */
export function changeEnds(reason: Setback, then: RecordMark, now: RecordMark): boolean {
  const toppedUp = now.escrow > then.escrow;
  const paidSomeone = now.lastPayoutHeight > then.lastPayoutHeight;
  switch (reason) {
    case 'exhausted':
      return toppedUp;
    case 'silent':
      return toppedUp || paidSomeone;
    case 'not-authority':
      return now.validator !== then.validator;
    default:
      return false;
  }
}

/** How long a setback keeps a contract (or authority) out, after `failures` of them in a row. */
export function backoffMs(reason: Setback, failures: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  if (reason === 'breach' || reason === 'refused') return policy.maxMs;
  if (reason === 'interrupted') return Math.min(policy.maxMs, policy.baseMs / 4);
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
}

export interface Standing {
  reason: Setback;
  /** When it may be tried again (ms since the epoch), unless the chain shows the change first. */
  until: number;
  /** How long this setback waits in all. */
  waitMs: number;
  failures: number;
}

interface Mark extends Standing {
  record?: RecordMark;
}

/**
 * What a Solver remembers of contracts and authorities that let it down,
 * keyed by contract id or authority address: each setback in a row waits
 * twice as long, a success forgets them. Clock injected, as in leases.ts.
 */
export class Setbacks {
  private readonly marks = new Map<string, Mark>();
  private readonly policy: BackoffPolicy;
  private readonly clock: () => number;

  constructor(policy: Partial<BackoffPolicy> = {}, clock: () => number = Date.now) {
    this.policy = { ...DEFAULT_BACKOFF, ...policy };
    this.clock = clock;
  }

  /** Records a setback; `record` is the contract as it stood, for changeEnds. Returns the new standing. */
  note(key: string, reason: Setback, record?: RecordMark): Standing {
    const failures = (this.marks.get(key)?.failures ?? 0) + 1;
    const waitMs = backoffMs(reason, failures, this.policy);
    const mark = { reason, failures, waitMs, until: this.clock() + waitMs, record };
    this.marks.set(key, mark);
    const { record: _, ...standing } = mark;
    return standing;
  }

  /** It worked (a batch was paid): nothing held against it any more. */
  forgive(key: string): void {
    this.marks.delete(key);
  }

  /** Why `key` is still out, or undefined when it may be tried. `record`: the contract as it stands now. */
  standing(key: string, record?: RecordMark): Standing | undefined {
    const mark = this.marks.get(key);
    if (!mark) return undefined;
    if (this.clock() >= mark.until) return undefined;
    if (record && mark.record) {
      if (changeEnds(mark.reason, mark.record, record)) return undefined;
      // Payouts (this Solver's own among them) lower the escrow after the mark:
      // a topup is a rise above the lowest escrow seen since, however small.
      if (record.escrow < mark.record.escrow) mark.record = { ...mark.record, escrow: record.escrow };
    }
    const { record: _, ...standing } = mark;
    return standing;
  }

  /** The earliest time a mark runs out (for sleeping until then), if any is still running. */
  nextExpiry(): number | undefined {
    const now = this.clock();
    let next: number | undefined;
    for (const m of this.marks.values()) if (m.until > now && (next === undefined || m.until < next)) next = m.until;
    return next;
  }
}

/** A setback in words, for the Solver's `waiting` lines; the same words for as long as it lasts. */
export function describeSetback(s: Standing): string {
  const secs = Math.max(1, Math.round(s.waitMs / 1000));
  const again = secs >= 120 ? `${Math.round(secs / 60)} min` : `${secs} s`;
  switch (s.reason) {
    case 'silent':
      return `no answer from its authority; backing off ${again}`;
    case 'unpaid':
      return `its authority did not pay; backing off ${again}`;
    case 'breach':
      return `its authority broke the protocol; backing off ${again}`;
    case 'refused':
      return `its authority refused a batch; backing off ${again}`;
    case 'exhausted':
      return `its escrow is spent; waiting for a topup (or ${again})`;
    case 'complete':
      return `nothing left to lease; retrying in ${again}`;
    case 'not-authority':
      return `its authority lost the contract; waiting for a new one (or ${again})`;
    case 'interrupted':
      return `the session broke off; retrying in ${again}`;
  }
}
