import type { Lease } from './messages.ts';
import { MAX_INDEX, type Range, rangeCount, subtract, union } from './ranges.ts';

/** A session's first lease, sent with the ack: one MCU. */
export const FIRST_LEASE = 1;

/**
 * The lease after one of `last` MCUs: growth × last, at most the contract's
 * maximum batch (1, g, g², …). The authority may lease less than this, to keep
 * a batch's results and time within bounds, never more.
 */
export function nextLeaseSize(last: number, growth: number, maxBatch: number): number {
  return Math.min(last * growth, maxBatch);
}

/**
 * The largest lease the schedule allows as the `k`-th of a session (0 for the
 * ack's): min(maxBatch, growth^k). The authority grows its leases from the
 * ones it actually sent, so every lawful lease is within this; a Solver
 * refuses one that is not, before computing it (docs/PROTOCOL.md).
 */
export function scheduleCap(k: number, growth: number, maxBatch: number): number {
  let cap = Math.min(FIRST_LEASE, maxBatch);
  if (growth <= 1) return cap;
  for (let i = 0; i < k && cap < maxBatch; i++) cap = nextLeaseSize(cap, growth, maxBatch);
  return cap;
}

/** How many leases, so payouts, a session needs for its first `mcus` MCUs on that schedule. */
export function leasesFor(mcus: number, growth: number, maxBatch: number): number {
  let leases = 0;
  for (let done = 0, size = FIRST_LEASE; done < mcus; size = nextLeaseSize(size, growth, maxBatch)) {
    done += size;
    leases++;
  }
  return leases;
}

export interface LeaseStatus {
  size: number | null;
  /** Paid on chain or signed by this authority and on its way there. */
  solved: Range[];
  leased: (Range & { solver: string; expiresAt: number })[];
  remaining: number;
}

/**
 * The authority's view of one contract's index space: what is paid (from the
 * chain), what it has signed (not yet mined), and what is leased to whom. No
 * index is ever leased to two Solvers at once; an expired or failed lease
 * goes back to the pool.
 */
export class LeaseBook {
  private readonly end: number;
  private paid: Range[] = [];
  private signed: Range[] = [];
  private readonly leases = new Map<number, Lease & { solver: string }>();
  private nextId = 1;
  readonly size: number | null;
  private readonly clock: () => number;

  constructor(size: number | null, clock: () => number = Date.now) {
    this.size = size;
    this.clock = clock;
    this.end = size ?? MAX_INDEX;
  }

  /** The chain's paid ranges moved (a block, or a reorg): they are the truth. */
  setPaid(paid: readonly Range[]): void {
    this.paid = [...paid];
    // What the chain now shows as paid no longer needs tracking as merely signed.
    this.signed = subtract(this.signed, this.paid);
  }

  private taken(): Range[] {
    const leased = [...this.leases.values()].map((l) => ({ start: l.start, end: l.end }));
    return union(union(this.paid, this.signed), leased);
  }

  /** The lowest free indices, at most `want` of them, in one contiguous range. */
  lease(solver: string, want: number, ttlMs: number): Lease | undefined {
    this.expire();
    const free = subtract([{ start: 0, end: this.end }], this.taken());
    const first = free[0];
    if (!first || !Number.isInteger(want) || want < 1) return undefined;
    const lease = {
      id: this.nextId++,
      start: first.start,
      end: Math.min(first.end, first.start + want),
      expiresAt: this.clock() + ttlMs,
      solver,
    };
    this.leases.set(lease.id, lease);
    return { id: lease.id, start: lease.start, end: lease.end, expiresAt: lease.expiresAt };
  }

  get(id: number): (Lease & { solver: string }) | undefined {
    return this.leases.get(id);
  }

  /** The lease's results were accepted and the payout signed. */
  settle(id: number): void {
    const l = this.leases.get(id);
    if (!l) return;
    this.leases.delete(id);
    this.signed = union(this.signed, [{ start: l.start, end: l.end }]);
  }

  /** Back to the pool: the Solver failed, left, or ran out of time. */
  release(id: number): void {
    this.leases.delete(id);
  }

  /** A signed payout that never made it on chain (e.g. the Solver kept it): reopen its range. */
  unsign(range: Range): void {
    this.signed = subtract(this.signed, [range]);
  }

  expire(now = this.clock()): number {
    let n = 0;
    for (const [id, l] of this.leases) {
      if (l.expiresAt <= now) {
        this.leases.delete(id);
        n++;
      }
    }
    return n;
  }

  status(): LeaseStatus {
    this.expire();
    const solved = union(this.paid, this.signed);
    const leased = [...this.leases.values()].map((l) => ({
      start: l.start,
      end: l.end,
      solver: l.solver,
      expiresAt: l.expiresAt,
    }));
    // Counted as the free part of [0, size), not size minus the parts: a range the
    // chain shows paid may still be leased (a Solver submitted a payout after it
    // was unsigned and re-leased), and paid ranges need not lie within the size.
    const remaining =
      this.size === null
        ? Number.POSITIVE_INFINITY
        : rangeCount(subtract([{ start: 0, end: this.size }], union(solved, leased)));
    return { size: this.size, solved, leased, remaining };
  }

  get complete(): boolean {
    return this.size !== null && subtract([{ start: 0, end: this.end }], union(this.paid, this.signed)).length === 0;
  }
}
