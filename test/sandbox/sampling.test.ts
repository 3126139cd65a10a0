import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import ivm from 'isolated-vm';
import {
  MAX_SAMPLE_RATE,
  SAMPLING_SOURCE,
  sampleIndices,
  sampleSize,
  samplingSha256,
} from '../../src/sandbox/sampling.ts';

/** Seed number i: fixed, so every run measures the same trials. */
function seedOf(i: number, tag = 'seed'): Uint8Array {
  return createHash('sha256').update(`${tag}/${i}`).digest();
}

/** A small seeded generator for the Solver's own choices (independent of the sampling seed). */
function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** C(n − m, k) / C(n, k): a sample of k from n misses all m faked indices. */
function passProbability(n: number, m: number, k: number): number {
  let log = 0;
  for (let i = 0; i < k; i++) log += Math.log((n - m - i) / (n - i));
  return k > n - m ? 0 : Math.exp(log);
}

/** Passes out of `trials` when a Solver fakes `m` indices of [0, n), chosen before each seed is drawn. */
function measurePasses(n: number, m: number, rate: number, trials: number): number {
  let passes = 0;
  for (let trial = 0; trial < trials; trial++) {
    const random = mulberry32(trial + 1);
    const fake = new Uint8Array(n);
    for (let placed = 0; placed < m; ) {
      const i = Math.floor(random() * n);
      if (!fake[i]) {
        fake[i] = 1;
        placed++;
      }
    }
    if (!sampleIndices(seedOf(trial, `trial/${rate}`), 0, n, rate).some((i) => fake[i])) passes++;
  }
  return passes;
}

/** A two-sided bound on a binomial count, 4.5 standard deviations wide (plus one for small counts). */
function assertBinomial(observed: number, trials: number, p: number, what: string) {
  const mean = trials * p;
  const bound = 4.5 * Math.sqrt(trials * p * (1 - p)) + 1;
  assert.ok(
    Math.abs(observed - mean) <= bound,
    `${what}: ${observed} of ${trials}, expected ${mean.toFixed(1)} ± ${bound.toFixed(1)}`,
  );
}

describe('the sampling hash', () => {
  it('is SHA-256: agrees with node:crypto on every padding boundary and on random inputs', () => {
    for (let n = 0; n <= 200; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff);
      assert.deepEqual(samplingSha256(bytes), new Uint8Array(createHash('sha256').update(bytes).digest()), `${n}`);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1000 }), (bytes) => {
        assert.deepEqual(samplingSha256(bytes), new Uint8Array(createHash('sha256').update(bytes).digest()));
      }),
      { numRuns: 500 },
    );
  });
});

describe('sampleIndices', () => {
  it('takes max(1, ⌈count · rate / 1000⌉) indices, all of a batch that small', () => {
    assert.equal(sampleSize(1, 10), 1);
    assert.equal(sampleSize(2, 10), 1);
    assert.equal(sampleSize(100, 10), 1);
    assert.equal(sampleSize(101, 10), 2);
    assert.equal(sampleSize(65_536, 10), 656);
    assert.equal(sampleSize(65_536, 1), 66);
    assert.equal(sampleSize(7, MAX_SAMPLE_RATE), 7);
    assert.throws(() => sampleSize(7, MAX_SAMPLE_RATE + 1), RangeError);
    assert.equal(sampleSize(0, 10), 0);
    assert.equal(sampleSize(2 ** 32, 1), 4_294_968);
    const seed = seedOf(0);
    assert.deepEqual(sampleIndices(seed, 40, 1, 10), [40]);
    assert.deepEqual(sampleIndices(seed, 40, 5, 1000), [40, 41, 42, 43, 44]);
    assert.deepEqual(sampleIndices(seed, 40, 0, 10), []);
  });

  it('returns distinct, ascending indices of the range, the same for the same seed', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 0, max: 2 ** 53 - 200_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 1, max: 1000 }),
        (seed, from, count, rate) => {
          const s = sampleIndices(seed, from, count, rate);
          assert.equal(s.length, sampleSize(count, rate));
          for (let i = 0; i < s.length; i++) {
            assert.ok(Number.isSafeInteger(s[i]) && s[i]! >= from && s[i]! < from + count, `${s[i]} out of range`);
            if (i > 0) assert.ok(s[i]! > s[i - 1]!, 'ascending and distinct');
          }
          assert.deepEqual(sampleIndices(seed.slice(), from, count, rate), s);
          // The sample is of offsets: moving the range moves it.
          assert.deepEqual(
            sampleIndices(seed, 0, count, rate),
            s.map((i) => i - from),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives different samples for different seeds', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) seen.add(sampleIndices(seedOf(i), 0, 65_536, 10).join());
    assert.equal(seen.size, 500);
    // One bit of the seed changes the sample.
    const a = seedOf(1);
    const b = Uint8Array.from(a);
    b[31] = b[31]! ^ 1;
    assert.notDeepEqual(sampleIndices(a, 0, 1000, 10), sampleIndices(b, 0, 1000, 10));
  });

  it('picks every index equally often (chi-square over 20,000 seeds)', () => {
    // 10 of 100 per seed: each index is expected 2,000 times.
    const n = 100;
    const seeds = 20_000;
    const hits = new Array(n).fill(0);
    for (let i = 0; i < seeds; i++) for (const j of sampleIndices(seedOf(i, 'uniform'), 0, n, 100)) hits[j]++;
    const expected = (seeds * 10) / n;
    const chi2 = hits.reduce((s, h) => s + (h - expected) ** 2 / expected, 0);
    // 99 degrees of freedom: mean 99, sd 14; the 10^-6 tail starts near 180.
    assert.ok(chi2 < 180, `chi-square ${chi2.toFixed(1)} over ${n - 1} degrees of freedom`);
    // And not every seed picks the lowest index: the smallest pick spreads like the minimum of 10 of 100.
    const firsts = new Array(n).fill(0);
    for (let i = 0; i < 2000; i++) firsts[sampleIndices(seedOf(i, 'first'), 0, n, 100)[0]!]++;
    assertBinomial(firsts[0], 2000, 10 / n, 'index 0 is the smallest pick');
  });

  it('works for a batch of 2^32 MCUs ending at 2^53', () => {
    const from = 2 ** 53 - 2 ** 32;
    const s = sampleIndices(seedOf(7), from, 2 ** 32, 1);
    assert.equal(s.length, 4_294_968);
    assert.ok(s[0]! >= from && s.at(-1)! < 2 ** 53);
    for (let i = 1; i < s.length; i++) if (!(s[i]! > s[i - 1]!)) assert.fail(`not ascending at ${i}`);
    // Both halves of the range are reached (words above 2^31 are drawn too).
    assert.ok(s.filter((i) => i - from >= 2 ** 31).length > 2_000_000);
  });

  it('refuses bad arguments with a TypeError or RangeError', () => {
    const seed = seedOf(0);
    assert.throws(() => sampleIndices([...seed] as unknown as Uint8Array, 0, 10, 10), TypeError);
    assert.throws(() => sampleIndices(seed.subarray(0, 31), 0, 10, 10), RangeError);
    assert.throws(() => sampleIndices(seed, '0' as unknown as number, 10, 10), TypeError);
    assert.throws(() => sampleIndices(seed, -1, 10, 10), RangeError);
    assert.throws(() => sampleIndices(seed, 0.5, 10, 10), RangeError);
    assert.throws(() => sampleIndices(seed, 2 ** 53, 1, 10), RangeError);
    assert.throws(() => sampleIndices(seed, 0, 2 ** 32 + 1, 10), RangeError);
    assert.throws(() => sampleIndices(seed, 0, 10, 0), RangeError);
    assert.throws(() => sampleIndices(seed, 0, 10, 1001), RangeError);
    assert.throws(() => sampleIndices(seed, 0, 10, 2.5), RangeError);
    assert.throws(() => sampleSize(Number.NaN, 10), RangeError);
  });

  it('runs from its own source in an isolated-vm sandbox and gives the same samples', async (t) => {
    const isolate = new ivm.Isolate({ memoryLimit: 64 });
    t.after(() => isolate.dispose());
    const context = await isolate.createContext();
    await (await isolate.compileScript(SAMPLING_SOURCE)).run(context);
    for (const [i, from, count, rate] of [
      [0, 0, 65_536, 10],
      [1, 12_345, 1000, 1],
      [2, 2 ** 40, 3, 500],
      [3, 0, 50, 1000],
    ] as const) {
      const seed = [...seedOf(i)];
      const inside = await context.eval(
        `JSON.stringify(sampleIndices(new Uint8Array(${JSON.stringify(seed)}), ${from}, ${count}, ${rate}))`,
        { timeout: 5_000 },
      );
      assert.deepEqual(JSON.parse(inside as string), sampleIndices(Uint8Array.from(seed), from, count, rate));
    }
  });
});

describe('a Solver that fakes part of a batch', () => {
  const n = 65_536;
  const m = Math.round(n * 0.01); // 655 faked MCUs, 1 %

  it('faking 1 % of 65,536 MCUs is caught as often as C(n−m,k)/C(n,k) says, at 10 ‰ and at 1 ‰', () => {
    for (const [rate, trials] of [
      [10, 3000],
      [1, 4000],
    ] as const) {
      const k = sampleSize(n, rate);
      const pass = passProbability(n, m, k);
      const passes = measurePasses(n, m, rate, trials);
      assertBinomial(passes, trials, pass, `passes at ${rate} ‰ (k = ${k})`);
    }
    // The table in docs/PROTOCOL.md: at 10 ‰, the 1 % faker passes 1 in ~750 batches.
    assert.ok(passProbability(n, m, sampleSize(n, 10)) < 0.0015);
  });

  it('computing only the indices ≡ 0 mod 100 is caught on its first batch of more than one MCU', () => {
    const honest = (i: number) => i % 100 === 0;
    /** Of n MCUs from `from`, the honest ones: at most k = ⌈n/100⌉, so a pass needs the sample to be exactly them. */
    const passChance = (from: number, size: number) => {
      const h = Math.floor((from + size - 1) / 100) - Math.floor((from - 1) / 100);
      const k = sampleSize(size, 10);
      return h === k ? passProbability(size, size - k, k) : 0;
    };
    // Leases 1, 2, 4, … from index 0: [0, 1) is honest; [1, 3) to [31, 63) hold no honest index.
    let start = 1;
    for (let size = 2; size <= n; size *= 2) {
      let passes = 0;
      for (let s = 0; s < 500; s++) {
        if (sampleIndices(seedOf(s, `mod100/${size}`), start, size, 10).every(honest)) passes++;
      }
      if (size <= 32) assert.equal(passes, 0, `batch [${start}, ${start + size})`);
      assertBinomial(passes, 500, passChance(start, size), `batch [${start}, ${start + size})`);
      start += size;
    }
    // Any batch of n > 1 MCUs: it passes with probability at most 1/C(n, k) ≤ 1/n.
    const random = mulberry32(99);
    let passes = 0;
    let expected = 0;
    for (let w = 0; w < 2000; w++) {
      const size = 2 + Math.floor(random() * (n - 1));
      const from = Math.floor(random() * 1_000_000);
      expected += passChance(from, size);
      if (sampleIndices(seedOf(w, 'window'), from, size, 10).every(honest)) passes++;
    }
    assertBinomial(passes, 2000, expected / 2000, 'random batches');
  });
});
