import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FIRST_LEASE, LeaseBook, leasesFor, nextLeaseSize, scheduleCap } from '../../src/market/leases.ts';
import { MAX_INDEX, type Range } from '../../src/market/ranges.ts';

/** A hand-driven clock, so expiry is exact and tests never sleep. */
function clock(start = 1_000_000) {
  const c = { now: start, read: () => c.now };
  return c;
}

const r = (start: number, end: number): Range => ({ start, end });
const spans = (leases: readonly { start: number; end: number }[]) => leases.map((l) => r(l.start, l.end));

// ── A naive model of the book: plain index sets and a lease map ───────────

interface ModelLease {
  start: number;
  end: number;
  expiresAt: number;
  solver: string;
}

class Model {
  paid = new Set<number>();
  signed = new Set<number>();
  leases = new Map<number, ModelLease>();
  nextId = 1;
  readonly size: number | null;
  constructor(size: number | null) {
    this.size = size;
  }
  private taken(i: number): boolean {
    if (this.paid.has(i) || this.signed.has(i)) return true;
    for (const l of this.leases.values()) if (i >= l.start && i < l.end) return true;
    return false;
  }
  expire(now: number): number {
    let n = 0;
    for (const [id, l] of this.leases) {
      if (l.expiresAt <= now) {
        this.leases.delete(id);
        n++;
      }
    }
    return n;
  }
  lease(solver: string, want: number, ttl: number, now: number) {
    this.expire(now);
    const end = this.size ?? MAX_INDEX;
    let start = 0;
    while (start < end && this.taken(start)) start++;
    if (start >= end || want < 1) return undefined;
    let stop = start;
    while (stop < end && stop < start + want && !this.taken(stop)) stop++;
    const l = { start, end: stop, expiresAt: now + ttl, solver };
    const id = this.nextId++;
    this.leases.set(id, l);
    return { id, start, end: stop, expiresAt: l.expiresAt };
  }
  settle(id: number) {
    const l = this.leases.get(id);
    if (!l) return;
    this.leases.delete(id);
    for (let i = l.start; i < l.end; i++) this.signed.add(i);
  }
  setPaid(paid: readonly Range[]) {
    this.paid = new Set();
    for (const p of paid) for (let i = p.start; i < p.end; i++) this.paid.add(i);
    for (const i of this.paid) this.signed.delete(i);
  }
  unsign(range: Range) {
    for (let i = range.start; i < range.end; i++) this.signed.delete(i);
  }
  solved(): Range[] {
    return toRanges(new Set([...this.paid, ...this.signed]));
  }
  /** Indices of [0, size) that are neither solved nor leased. */
  free(): number {
    if (this.size === null) return Number.POSITIVE_INFINITY;
    let n = 0;
    for (let i = 0; i < this.size; i++) if (!this.taken(i)) n++;
    return n;
  }
  complete(): boolean {
    if (this.size === null) return false;
    for (let i = 0; i < this.size; i++) if (!this.paid.has(i) && !this.signed.has(i)) return false;
    return true;
  }
}

function toRanges(s: Set<number>): Range[] {
  const out: Range[] = [];
  for (const i of [...s].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && last.end === i) last.end++;
    else out.push(r(i, i + 1));
  }
  return out;
}

const canonical: fc.Arbitrary<Range[]> = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 5 })), { maxLength: 4 })
  .map((steps) => {
    const out: Range[] = [];
    let at = -1;
    for (const [gap, len] of steps) {
      const start = at + 1 + gap;
      out.push(r(start, start + len));
      at = start + len;
    }
    return out;
  });

type Op =
  | { op: 'lease'; solver: string; want: number; ttl: number }
  | { op: 'settle' | 'release'; pick: number }
  | { op: 'expire'; ahead: number }
  | { op: 'setPaid'; paid: Range[] }
  | { op: 'unsign'; start: number; len: number }
  | { op: 'tick'; ms: number };

const ops: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant('lease' as const),
      solver: fc.constantFrom('A', 'B', 'C'),
      want: fc.integer({ min: 0, max: 8 }),
      ttl: fc.integer({ min: 0, max: 50 }),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ op: fc.constantFrom('settle' as const, 'release' as const), pick: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('expire' as const), ahead: fc.integer({ min: -10, max: 30 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('setPaid' as const), paid: canonical }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('unsign' as const),
      start: fc.integer({ min: 0, max: 30 }),
      len: fc.integer({ min: 1, max: 6 }),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 30 }) }), weight: 2 },
);

function assertDisjoint(ranges: readonly Range[]) {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    assert.ok(sorted[i - 1]!.end <= sorted[i]!.start, `leases overlap: ${JSON.stringify(sorted)}`);
  }
}

describe('LeaseBook against a model', () => {
  it('follows the model and never leases one index to two Solvers at once', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 0, max: 30 }), { nil: null }),
        fc.array(ops, { maxLength: 40 }),
        (size, script) => {
          const c = clock();
          const book = new LeaseBook(size, c.read);
          const model = new Model(size);
          for (const step of script) {
            switch (step.op) {
              case 'lease': {
                const got = book.lease(step.solver, step.want, step.ttl);
                assert.deepEqual(got, model.lease(step.solver, step.want, step.ttl, c.now));
                if (got) assert.equal(book.get(got.id)?.solver, step.solver);
                break;
              }
              case 'settle':
              case 'release': {
                const id = step.pick % model.nextId;
                book[step.op](id);
                if (step.op === 'settle') model.settle(id);
                else model.leases.delete(id);
                break;
              }
              case 'expire':
                assert.equal(book.expire(c.now + step.ahead), model.expire(c.now + step.ahead));
                break;
              case 'setPaid':
                book.setPaid(step.paid);
                model.setPaid(step.paid);
                break;
              case 'unsign':
                book.unsign(r(step.start, step.start + step.len));
                model.unsign(r(step.start, step.start + step.len));
                break;
              case 'tick':
                c.now += step.ms;
                break;
            }
            const st = book.status();
            model.expire(c.now);
            assertDisjoint(spans(st.leased));
            assert.deepEqual(st.solved, model.solved());
            assert.deepEqual(
              st.leased,
              [...model.leases.values()].map((l) => ({ ...l })),
            );
            assert.equal(st.remaining, model.free());
            assert.equal(book.complete, model.complete());
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('LeaseBook', () => {
  it('leases the lowest free indices, skipping paid and signed ranges', () => {
    const c = clock();
    const book = new LeaseBook(20, c.read);
    book.setPaid([r(0, 3), r(5, 6)]);
    const a = book.lease('A', 10, 1000)!;
    assert.deepEqual([a.start, a.end], [3, 5]); // stops at the paid index 5
    book.settle(a.id);
    const b = book.lease('B', 2, 1000)!;
    assert.deepEqual([b.start, b.end], [6, 8]); // 3..5 is signed now
    const c2 = book.lease('C', 100, 1000)!;
    assert.deepEqual([c2.start, c2.end], [8, 20]); // capped by the contract size
    assert.equal(book.lease('A', 1, 1000), undefined);
    assert.notEqual(a.id, b.id);
  });

  it('honours want', () => {
    const book = new LeaseBook(100, clock().read);
    for (const want of [1, 2, 4, 8]) {
      const l = book.lease('A', want, 1000)!;
      assert.equal(l.end - l.start, want);
    }
    assert.equal(book.lease('A', 0, 1000), undefined);
    assert.equal(book.lease('A', -3, 1000), undefined);
  });

  it('returns an expired lease to the pool exactly at its expiry time', () => {
    const c = clock();
    const book = new LeaseBook(10, c.read);
    const a = book.lease('A', 4, 1000)!;
    assert.equal(a.expiresAt, c.now + 1000);
    c.now += 999;
    assert.equal(book.expire(), 0);
    const b = book.lease('B', 4, 1000)!;
    assert.deepEqual([b.start, b.end], [4, 8]); // A's lease still holds 0..4
    c.now += 1;
    assert.equal(book.status().leased.length, 1); // A's lease is gone, B's remains
    const again = book.lease('C', 4, 1000)!;
    assert.deepEqual([again.start, again.end], [0, 4]);
    assert.equal(book.get(a.id), undefined);
  });

  it('does not settle a lease that expired and was handed to another Solver', () => {
    const c = clock();
    const book = new LeaseBook(4, c.read);
    const a = book.lease('A', 4, 100)!;
    c.now += 100;
    const b = book.lease('B', 4, 100)!;
    assert.deepEqual([b.start, b.end], [0, 4]);
    book.settle(a.id); // too late: the range is B's now
    assert.deepEqual(book.status().solved, []);
    assert.equal(book.get(b.id)?.solver, 'B');
  });

  it('release puts a lease back at once', () => {
    const book = new LeaseBook(10, clock().read);
    const a = book.lease('A', 3, 1000)!;
    book.release(a.id);
    const b = book.lease('B', 3, 1000)!;
    assert.deepEqual([b.start, b.end], [0, 3]);
  });

  it('unsign reopens a signed range that never reached the chain', () => {
    const book = new LeaseBook(10, clock().read);
    const a = book.lease('A', 4, 1000)!;
    book.settle(a.id);
    assert.deepEqual(book.status().solved, [r(0, 4)]);
    book.unsign(r(0, 4));
    assert.deepEqual(book.status().solved, []);
    const b = book.lease('B', 10, 1000)!;
    assert.deepEqual([b.start, b.end], [0, 10]);
  });

  it('setPaid is the truth: a signed range the chain dropped (reorg) reopens', () => {
    const book = new LeaseBook(10, clock().read);
    const a = book.lease('A', 4, 1000)!;
    book.settle(a.id);
    book.setPaid([r(0, 4)]); // mined
    book.setPaid([]); // reorged out: no longer signed either, as the chain holds the payout tx again
    assert.deepEqual(book.status().solved, []);
  });

  it('is complete once every index is paid or signed, not merely leased', () => {
    const book = new LeaseBook(6, clock().read);
    assert.equal(book.complete, false);
    const a = book.lease('A', 6, 1000)!;
    assert.equal(book.complete, false);
    book.setPaid([r(0, 2)]);
    book.settle(a.id);
    assert.equal(book.complete, true);
    assert.equal(book.lease('B', 1, 1000), undefined);
    assert.equal(new LeaseBook(0, clock().read).complete, true);
  });

  it('works for an unbounded contract (size null)', () => {
    const book = new LeaseBook(null, clock().read);
    book.setPaid([r(0, 1000)]);
    const a = book.lease('A', 1_000_000, 1000)!;
    assert.deepEqual([a.start, a.end], [1000, 1_001_000]);
    book.settle(a.id);
    const st = book.status();
    assert.equal(st.size, null);
    assert.equal(st.remaining, Number.POSITIVE_INFINITY);
    assert.deepEqual(st.solved, [r(0, 1_001_000)]);
    assert.equal(book.complete, false);
  });

  it('status: solved + leased + remaining = size', () => {
    const c = clock();
    const book = new LeaseBook(50, c.read);
    book.setPaid([r(0, 5), r(10, 12)]);
    book.settle(book.lease('A', 3, 1000)!.id);
    book.lease('B', 4, 1000);
    book.lease('C', 6, 2000);
    const st = book.status();
    const count = (rs: readonly Range[]) => rs.reduce((n, x) => n + x.end - x.start, 0);
    assert.equal(count(st.solved), 10);
    assert.equal(count(st.leased), 8);
    assert.equal(st.remaining, 32);
    assert.deepEqual(
      st.leased.map((l) => l.solver),
      ['B', 'C'],
    );
  });

  it('status never counts an index twice when the chain pays a range that is still leased', () => {
    // A Solver that kept a signed payout past the grace period (its range was
    // unsigned and leased again) may still submit it: the chain then shows paid
    // a range that another Solver holds.
    const book = new LeaseBook(10, clock().read);
    book.lease('B', 10, 1000);
    book.setPaid([r(0, 10)]);
    const st = book.status();
    assert.equal(st.remaining, 0);
    assert.equal(book.complete, true);
  });
});

describe('the lease schedule', () => {
  it('grows 1, g, g², … up to the maximum batch, and counts the leases a number of MCUs needs', () => {
    const sizes = [FIRST_LEASE];
    while (sizes.length < 8) sizes.push(nextLeaseSize(sizes.at(-1)!, 3, 100));
    assert.deepEqual(sizes, [1, 3, 9, 27, 81, 100, 100, 100]);
    assert.equal(leasesFor(1000, 2, 1_048_576), 10); // 1 + 2 + … + 512 = 1023
    assert.equal(leasesFor(1023, 2, 1_048_576), 10);
    assert.equal(leasesFor(1024, 2, 1_048_576), 11);
    assert.equal(leasesFor(1000, 2, 32), 36); // 1 … 16, then 31 leases of 32
    assert.equal(leasesFor(1000, 1, 1_048_576), 1000);
    assert.equal(leasesFor(1000, 16, 1), 1000);
    assert.equal(leasesFor(0, 2, 64), 0);
  });

  it("caps a session's k-th lease at min(maxBatch, growth^k): what a Solver holds an authority to", () => {
    assert.deepEqual(
      Array.from({ length: 9 }, (_, k) => scheduleCap(k, 2, 64)),
      [1, 2, 4, 8, 16, 32, 64, 64, 64],
    );
    assert.deepEqual(
      Array.from({ length: 4 }, (_, k) => scheduleCap(k, 16, 1_000)),
      [1, 16, 256, 1_000],
    );
    assert.equal(scheduleCap(1_000_000, 1, 64), 1, 'growth 1: every lease is one MCU');
    assert.equal(scheduleCap(1_000_000, 2, 10_000_000), 10_000_000);
  });
});
