import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Reader, Writer } from '../../src/chain/encoding.ts';
import { DecodeError } from '../../src/chain/errors.ts';
import {
  isCanonical,
  MAX_INDEX,
  MAX_PAYOUT_RANGES,
  overlaps,
  type Range,
  rangeCount,
  readRanges,
  subtract,
  union,
  writeRanges,
} from '../../src/market/ranges.ts';

// Small canonical sets over [0, 40): sorted, non-empty, with a gap of at least one index between ranges.
const canonical: fc.Arbitrary<Range[]> = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 4 })), { maxLength: 6 })
  .map((steps) => {
    const out: Range[] = [];
    let at = -1;
    for (const [gap, len] of steps) {
      const start = at + 1 + gap;
      out.push({ start, end: start + len });
      at = start + len;
    }
    return out;
  });

const toSet = (rs: readonly Range[]): Set<number> => {
  const s = new Set<number>();
  for (const r of rs) for (let i = r.start; i < r.end; i++) s.add(i);
  return s;
};

/** The one canonical range list for a set of indices. */
const fromSet = (s: Set<number>): Range[] => {
  const out: Range[] = [];
  for (const i of [...s].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && last.end === i) last.end++;
    else out.push({ start: i, end: i + 1 });
  }
  return out;
};

const encode = (rs: readonly Range[], prefix: 2 | 4 = 2): Uint8Array => {
  const w = new Writer();
  writeRanges(w, rs, prefix);
  return w.finish();
};

/** Raw bytes for ranges the writer would never produce (bigints, so indices past 2^53 fit). */
const rawRanges = (pairs: [bigint, bigint][], count = pairs.length): Uint8Array => {
  const w = new Writer().u16(count);
  for (const [s, e] of pairs) w.u64(s).u64(e);
  return w.finish();
};

const read = (bytes: Uint8Array, max = MAX_PAYOUT_RANGES, prefix: 2 | 4 = 2) =>
  readRanges(new Reader(bytes), prefix, max, 'test.ranges');

const rejects = (bytes: Uint8Array, code: DecodeError['code'], max?: number) =>
  assert.throws(
    () => read(bytes, max),
    (err: unknown) => err instanceof DecodeError && err.code === code,
  );

describe('range set operations', () => {
  it('union matches the set model and stays canonical', () => {
    fc.assert(
      fc.property(canonical, canonical, (a, b) => {
        const u = union(a, b);
        assert.ok(isCanonical(u));
        assert.deepEqual(u, fromSet(new Set([...toSet(a), ...toSet(b)])));
      }),
      { numRuns: 500 },
    );
  });

  it('subtract matches the set model and stays canonical', () => {
    fc.assert(
      fc.property(canonical, canonical, (a, b) => {
        const d = subtract(a, b);
        const sb = toSet(b);
        assert.ok(isCanonical(d));
        assert.deepEqual(d, fromSet(new Set([...toSet(a)].filter((i) => !sb.has(i)))));
      }),
      { numRuns: 500 },
    );
  });

  it('overlaps is true exactly when the sets share an index', () => {
    fc.assert(
      fc.property(canonical, canonical, (a, b) => {
        const sb = toSet(b);
        assert.equal(
          overlaps(a, b),
          [...toSet(a)].some((i) => sb.has(i)),
        );
        assert.equal(overlaps(a, b), overlaps(b, a));
      }),
      { numRuns: 500 },
    );
  });

  it('rangeCount counts the indices', () => {
    fc.assert(
      fc.property(canonical, (a) => {
        assert.equal(rangeCount(a), toSet(a).size);
      }),
    );
  });

  it('union merges touching ranges into one', () => {
    assert.deepEqual(union([{ start: 0, end: 3 }], [{ start: 3, end: 5 }]), [{ start: 0, end: 5 }]);
    assert.deepEqual(subtract([{ start: 0, end: 5 }], [{ start: 1, end: 2 }]), [
      { start: 0, end: 1 },
      { start: 2, end: 5 },
    ]);
  });
});

describe('isCanonical', () => {
  it('accepts sorted, non-empty ranges with gaps, up to MAX_INDEX', () => {
    assert.ok(isCanonical([]));
    assert.ok(
      isCanonical([
        { start: 0, end: 1 },
        { start: 2, end: 4 },
      ]),
    );
    assert.ok(isCanonical([{ start: MAX_INDEX - 1, end: MAX_INDEX }]));
  });

  it('refuses what has another encoding or no meaning', () => {
    const bad: Range[][] = [
      [{ start: 3, end: 3 }], // empty
      [{ start: 4, end: 3 }], // reversed
      [{ start: -1, end: 3 }], // negative
      [{ start: 0.5, end: 3 }], // not an integer
      [{ start: 0, end: MAX_INDEX + 1 }], // past 2^53
      [
        { start: 0, end: 2 },
        { start: 2, end: 4 },
      ], // touching: must be one range
      [
        { start: 0, end: 3 },
        { start: 2, end: 4 },
      ], // overlapping
      [
        { start: 5, end: 6 },
        { start: 0, end: 1 },
      ], // unsorted
    ];
    for (const rs of bad) assert.equal(isCanonical(rs), false, JSON.stringify(rs));
  });
});

describe('range encoding', () => {
  it('round-trips canonical sets with either count prefix', () => {
    fc.assert(
      fc.property(canonical, fc.constantFrom<2 | 4>(2, 4), (rs, prefix) => {
        const bytes = encode(rs, prefix);
        assert.equal(bytes.length, prefix + 16 * rs.length);
        const r = new Reader(bytes);
        assert.deepEqual(readRanges(r, prefix, MAX_PAYOUT_RANGES, 'test'), rs);
        assert.equal(r.remaining, 0);
      }),
    );
  });

  it('round-trips indices up to MAX_INDEX', () => {
    const rs = [{ start: MAX_INDEX - 5, end: MAX_INDEX }];
    assert.deepEqual(read(encode(rs)), rs);
  });

  it('rejects non-canonical encodings as NON_CANONICAL', () => {
    rejects(rawRanges([[3n, 3n]]), 'NON_CANONICAL'); // empty
    rejects(rawRanges([[5n, 2n]]), 'NON_CANONICAL'); // reversed
    rejects(
      rawRanges([
        [5n, 6n],
        [0n, 1n],
      ]),
      'NON_CANONICAL',
    ); // unsorted
    rejects(
      rawRanges([
        [0n, 2n],
        [2n, 4n],
      ]),
      'NON_CANONICAL',
    ); // touching
    rejects(
      rawRanges([
        [0n, 3n],
        [2n, 4n],
      ]),
      'NON_CANONICAL',
    ); // overlapping
  });

  it('rejects indices beyond 2^53', () => {
    rejects(rawRanges([[0n, BigInt(MAX_INDEX) + 1n]]), 'BAD_VALUE');
    rejects(rawRanges([[1n << 60n, (1n << 64n) - 1n]]), 'BAD_VALUE');
    // A start past 2^53 with a small end is empty as well as out of range: refused either way.
    assert.throws(() => read(rawRanges([[1n << 60n, 5n]])), DecodeError);
  });

  it('rejects more ranges than allowed before reading them', () => {
    const three = rawRanges([
      [0n, 1n],
      [2n, 3n],
      [4n, 5n],
    ]);
    assert.equal(read(three, 3).length, 3);
    rejects(three, 'TOO_LARGE', 2);
    // A huge count with no bytes behind it is refused on the count alone.
    rejects(new Writer().u16(0xffff).finish(), 'TOO_LARGE');
    assert.throws(
      () => read(new Writer().u32(0xffffffff).finish(), MAX_PAYOUT_RANGES, 4),
      (err: unknown) => err instanceof DecodeError && err.code === 'TOO_LARGE',
    );
  });

  it('rejects every truncation as TRUNCATED', () => {
    fc.assert(
      fc.property(
        canonical.filter((rs) => rs.length > 0),
        fc.nat(),
        (rs, cut) => {
          const bytes = encode(rs);
          rejects(bytes.subarray(0, cut % bytes.length), 'TRUNCATED');
        },
      ),
    );
    // A count that claims more ranges than the bytes hold.
    rejects(rawRanges([[0n, 1n]], 2), 'TRUNCATED');
  });
});
