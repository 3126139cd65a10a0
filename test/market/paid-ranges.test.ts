import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toHex } from '../../src/chain/encoding.ts';
import { DecodeError } from '../../src/chain/errors.ts';
import { StateOverlay } from '../../src/chain/state.ts';
import {
  getPaidRanges,
  LEAF_MAX,
  PaidRanges,
  putPaidRanges,
  STATE_PAID_RANGE_PAGE,
  STATE_PAID_RANGES,
} from '../../src/market/paid-ranges.ts';
import { MAX_INDEX, overlaps, type Range, union } from '../../src/market/ranges.ts';

const ID = new Uint8Array(32).fill(5);

const empty = () => new StateOverlay({ get: () => undefined });

/** What a state holds (the overlay's live records), key → value, in key order. */
function records(state: StateOverlay): [string, string][] {
  return state
    .changes()
    .filter((c) => c.value !== undefined)
    .map((c): [string, string] => [toHex(c.key), toHex(c.value!)])
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** One payout's step as payout apply takes it: open, check every range free, pay, write the changed nodes. */
function pay(state: StateOverlay, ranges: Range[]): boolean {
  const set = PaidRanges.open(state, ID);
  if (!ranges.every((r) => set.isFree(r))) return false;
  set.add(ranges);
  set.save(state);
  return true;
}

// Where the ranges of a case lie: near 0, in the middle, and at the top of the index space (deep tries).
const BASES = [0, 2 ** 20, 2 ** 40, MAX_INDEX - 2 ** 24];

/**
 * A target set cut into the payouts that reach it: runs of pieces, each run
 * one range of the target once all its pieces are paid, so payouts both
 * fragment the set (past LEAF_MAX boundaries: pages) and merge it back (pages
 * collapse). `order` shuffles the payouts.
 */
const scenario = fc
  .record({
    base: fc.constantFrom(...BASES),
    runs: fc.array(
      fc.record({
        // Now and then a long gap, so a trie already paged grows a level (at most 120 × 100,048 < 2^24 past the base).
        gap: fc.oneof(
          { arbitrary: fc.integer({ min: 1, max: 40 }), weight: 9 },
          { arbitrary: fc.integer({ min: 1, max: 100_000 }), weight: 1 },
        ),
        pieces: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8, size: 'max' }),
      }),
      // size 'max': lengths up to 120 runs, not fast-check's small default, so tries grow pages and lose them.
      { minLength: 1, maxLength: 120, size: 'max' },
    ),
  })
  .chain(({ base, runs }) => {
    const payouts: Range[] = [];
    const target: Range[] = [];
    let at = base;
    for (const run of runs) {
      at += run.gap;
      const start = at;
      for (const len of run.pieces) {
        payouts.push({ start: at, end: at + len });
        at += len;
      }
      target.push({ start, end: at });
    }
    return fc.record({
      payouts: fc.constant(payouts),
      target: fc.constant(target),
      order: fc.shuffledSubarray(
        payouts.map((_, i) => i),
        { minLength: payouts.length, maxLength: payouts.length },
      ),
    });
  });

describe('paid ranges trie', () => {
  it('agrees with the plain range set at every payout, and any order of payouts leaves the same bytes', () => {
    fc.assert(
      fc.property(scenario, ({ payouts, target, order }) => {
        const inOrder = empty();
        for (const p of payouts) assert.ok(pay(inOrder, [p]));
        assert.deepEqual(getPaidRanges(inOrder, ID), target);

        const shuffled = empty();
        let model: Range[] = [];
        for (const i of order) {
          const p = payouts[i]!;
          // A probe across this piece and its neighbours: free exactly when the model says so.
          const probe = { start: Math.max(0, p.start - 3), end: p.end + 3 };
          assert.equal(PaidRanges.open(shuffled, ID).isFree(probe), !overlaps(model, [probe]));
          assert.ok(pay(shuffled, [p]));
          assert.equal(pay(shuffled, [p]), false, 'a paid range is refused');
          model = union(model, [p]);
          assert.deepEqual(getPaidRanges(shuffled, ID), model);
        }

        const built = empty();
        putPaidRanges(built, ID, target);
        assert.deepEqual(records(shuffled), records(inOrder));
        assert.deepEqual(records(built), records(inOrder));
      }),
      { numRuns: 60 },
    );
  });

  it('pays the ranges of one payout together, checking each against the set before any is paid', () => {
    fc.assert(
      fc.property(scenario, ({ payouts, target }) => {
        const state = empty();
        // Every other piece one at a time, then the rest in payouts of up to 256 ranges (MAX_PAYOUT_RANGES).
        const odd = payouts.filter((_, i) => i % 2 === 1);
        const even = payouts.filter((_, i) => i % 2 === 0);
        for (const p of odd) assert.ok(pay(state, [p]));
        const before = records(state);
        if (odd.length > 0)
          assert.equal(
            pay(
              state,
              [...even.slice(0, 1), odd[0]!].sort((a, b) => a.start - b.start),
            ),
            false,
          );
        assert.deepEqual(records(state), before, 'a refused payout writes nothing');
        for (let i = 0; i < even.length; i += 256) {
          const batch = even.slice(i, i + 256);
          // Adjacent pieces of one run cannot be in one payout (a payout's ranges are canonical): pay those apart.
          const canonical = batch.filter((r, k) => k === 0 || r.start > batch[k - 1]!.end);
          assert.ok(pay(state, canonical));
          for (const r of batch.filter((r) => !canonical.includes(r))) assert.ok(pay(state, [r]));
        }
        assert.deepEqual(getPaidRanges(state, ID), target);
        const built = empty();
        putPaidRanges(built, ID, target);
        assert.deepEqual(records(state), records(built));
      }),
      { numRuns: 40 },
    );
  });

  it('writes only the nodes on a payout’s path, however many ranges the contract has', () => {
    const state = empty();
    const fragmented = Array.from({ length: 100_000 }, (_, k) => ({ start: 32 * k, end: 32 * k + 16 }));
    putPaidRanges(state, ID, fragmented);
    const stored = records(state);
    assert.ok(stored.length > 1000, `${stored.length} records: the set is paged`);
    for (const k of [0, 777, 50_000, 99_999]) {
      const block = new StateOverlay(state);
      assert.ok(pay(block, [{ start: 32 * k + 16, end: 32 * k + 32 }]));
      const changes = block.changes();
      const bytes = changes.reduce((n, c) => n + c.key.length + (c.value?.length ?? 0), 0);
      // The root, inner pages down to one leaf (level 6 for indices below 16^6), each leaf at most 1 KiB.
      assert.ok(changes.length <= 6, `${changes.length} records written`);
      assert.ok(bytes <= 6 * 200 + 8 * LEAF_MAX, `${bytes} bytes written`);
      // The gap after range k is paid: it joins range k + 1, if there is one.
      assert.equal(getPaidRanges(block, ID).length, k === 99_999 ? 100_000 : 99_999);
    }
  });

  it('keeps a merged range whose ends are in different pages, and refuses any index of it', () => {
    const state = empty();
    // 100 ranges [8k, 8k+2): 200 boundaries, so level-2 leaves of 256 indices under an inner root.
    putPaidRanges(
      state,
      ID,
      Array.from({ length: 100 }, (_, k) => ({ start: 8 * k, end: 8 * k + 2 })),
    );
    const pages = () => records(state).filter(([k]) => k.startsWith(STATE_PAID_RANGE_PAGE.toString(16)));
    assert.ok(pages().length >= 3);
    // [250, 256) joins [248, 250), in the leaf of 0–255, to [256, 258), in the leaf of 256–511.
    assert.ok(pay(state, [{ start: 250, end: 256 }]));
    assert.deepEqual(
      getPaidRanges(state, ID).filter((r) => r.start >= 240 && r.start < 270),
      [
        { start: 240, end: 242 },
        { start: 248, end: 258 },
        { start: 264, end: 266 },
      ],
    );
    for (const probe of [
      { start: 255, end: 256 },
      { start: 256, end: 257 },
      { start: 200, end: 300 },
      { start: 257, end: 264 },
    ])
      assert.equal(pay(state, [probe]), false, `[${probe.start}, ${probe.end}) is paid`);
    assert.ok(pay(state, [{ start: 258, end: 264 }]));
  });

  describe('records that do not decode are DecodeErrors', () => {
    const rootKey = new Uint8Array([STATE_PAID_RANGES, ...ID]);
    const u64 = (v: number) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt(v));
      return [...b];
    };
    const leaf = (points: number[]) => new Uint8Array([0, points.length, ...points.flatMap(u64)]);
    const inner = (level: number | undefined, counts: number[]) =>
      new Uint8Array([1, ...(level === undefined ? [] : [level]), ...counts.flatMap(u64)]);
    const counts = (c: Record<number, number>) => Array.from({ length: 16 }, (_, i) => c[i] ?? 0);
    const withRoot = (value: Uint8Array, pages: [number, number, Uint8Array][] = []) => {
      const s = empty();
      s.put(rootKey, value);
      for (const [level, start, v] of pages)
        s.put(new Uint8Array([STATE_PAID_RANGE_PAGE, ...ID, level, ...u64(start)]), v);
      return s;
    };
    const points = (n: number, from = 0, step = 1) => Array.from({ length: n }, (_, i) => from + i * step);
    const cases: [string, StateOverlay][] = [
      ['an empty record', withRoot(new Uint8Array(0))],
      ['a truncated leaf', withRoot(leaf([1, 2]).subarray(0, 15))],
      ['a leaf with trailing bytes', withRoot(new Uint8Array([...leaf([1, 2]), 0]))],
      ['a leaf out of order', withRoot(leaf([2, 1]))],
      ['a leaf repeating a boundary', withRoot(leaf([1, 1]))],
      ['an odd root', withRoot(leaf([1, 2, 3]))],
      ['an empty leaf', withRoot(leaf([]))],
      ['a leaf past LEAF_MAX', withRoot(leaf(points(LEAF_MAX + 2)))],
      ['a boundary beyond 2^53', withRoot(leaf([1, 2 ** 53]))],
      ['an unknown tag', withRoot(new Uint8Array([2, 0]))],
      ['an inner root that should be a leaf', withRoot(inner(3, counts({ 0: 64, 1: 64 })))],
      ['an inner root above the least level', withRoot(inner(3, counts({ 0: 200 })))],
      ['an inner root at level 1', withRoot(inner(1, counts({ 0: 8, 1: 8 })))],
      ['a child counted beyond its width', withRoot(inner(2, counts({ 0: 17, 1: 200 })))],
      [
        'a page whose count differs from its parent’s',
        withRoot(inner(3, counts({ 0: 100, 1: 100 })), [
          [2, 0, leaf(points(99))],
          [2, 256, leaf(points(100, 256))],
        ]),
      ],
      [
        'a page holding an index outside its node',
        withRoot(inner(3, counts({ 0: 100, 1: 100 })), [
          [2, 0, leaf(points(100, 1))],
          [2, 256, leaf(points(100, 200))],
        ]),
      ],
      ['a counted page that is missing', withRoot(inner(3, counts({ 0: 100, 1: 100 })), [[2, 0, leaf(points(100))]])],
    ];
    for (const [what, state] of cases) {
      it(what, () => {
        assert.throws(
          () => {
            const set = PaidRanges.open(state, ID);
            set.ranges();
            set.isFree({ start: 300, end: 301 });
          },
          (err: unknown) => err instanceof DecodeError,
        );
      });
    }

    it('and the well-formed versions of those records decode', () => {
      const ok = withRoot(inner(3, counts({ 0: 100, 1: 100 })), [
        [2, 0, leaf(points(100))],
        [2, 256, leaf(points(100, 256))],
      ]);
      assert.equal(getPaidRanges(ok, ID).length, 100);
      assert.deepEqual(getPaidRanges(withRoot(leaf([1, 2])), ID), [{ start: 1, end: 2 }]);
      assert.deepEqual(getPaidRanges(withRoot(leaf([1, MAX_INDEX])), ID), [{ start: 1, end: MAX_INDEX }]);
    });
  });
});
