import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextDifficulty, targetFromDifficulty, workFromTarget } from '../../src/chain/difficulty.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import vectors from '../fixtures/difficulty.json' with { type: 'json' };

test('every difficulty vector is reproduced (Dq and target)', () => {
  assert.ok(vectors.vectors.length >= 100);
  for (const v of vectors.vectors) {
    const p = NETWORKS[v.network as keyof typeof NETWORKS];
    const dq = nextDifficulty(p, v.parentHeight, v.openProblems);
    assert.equal(dq, v.difficultyQ16, `${v.network} h=${v.parentHeight} Po=${v.openProblems}`);
    assert.equal(`0x${targetFromDifficulty(dq).toString(16).padStart(64, '0')}`, v.target);
  }
});

test('network parameters match the vectors file', () => {
  for (const [name, p] of Object.entries(vectors.params)) {
    const ours = NETWORKS[name as keyof typeof NETWORKS];
    for (const k of ['C1', 'C2', 'C3', 'Ct', 'Tsec', 'Dmin', 'Dmax'] as const)
      assert.equal(ours[k], p[k], `${name}.${k}`);
  }
});

test('more open problems never make blocks harder; more height never easier', () => {
  const p = NETWORKS.mainnet;
  for (const h of [10, 1000, 1_000_000]) {
    assert.ok(nextDifficulty(p, h, 1000) <= nextDifficulty(p, h, 0));
    assert.ok(nextDifficulty(p, h * 10, 0) >= nextDifficulty(p, h, 0));
  }
});

test('work is floor(2^256 / (target + 1)): doubles when the target halves', () => {
  // target = 2^236 exactly, so the +1 takes the result just under 2^20.
  assert.equal(workFromTarget(targetFromDifficulty(20 * 65536)), (1n << 20n) - 1n);
  assert.equal(workFromTarget(targetFromDifficulty(21 * 65536)), (1n << 21n) - 1n);
  assert.throws(() => targetFromDifficulty(-1), RangeError);
  assert.throws(() => targetFromDifficulty(257 * 65536), RangeError);
});
