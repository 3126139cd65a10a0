import assert from 'node:assert/strict';
import { test } from 'node:test';
import { difficultyFloor, nextDifficulty, targetFromDifficulty, workFromTarget } from '../../src/chain/difficulty.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import { blockOn } from '../adversarial/support.ts';
import vectors from '../fixtures/difficulty.json' with { type: 'json' };
import { mineMany, openChain } from '../support/chain.ts';

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

test('the difficulty floor is below D for every |Po| up to its bound, on every network', () => {
  for (const p of Object.values(NETWORKS)) {
    for (const h of [0, 1, 2, 30, 5000, 1_000_000]) {
      for (const bound of [0, 1, 3, 50, 10_000]) {
        const floor = difficultyFloor(p, h, bound);
        for (let po = 0; po <= Math.min(bound, 200); po++) assert.ok(nextDifficulty(p, h, po) >= floor);
      }
    }
  }
});

test('a side block claiming less than its chain allows is invalid, whatever its parent', async (t) => {
  // Dmin 1, so D = ln(height) is above the clamp and the floor bites.
  const params = { ...NETWORKS.devnet, Dmin: 1 };
  const tc = await openChain(t, { params });
  const blocks = await mineMany(tc, 30);
  const fork = blocks[19]!;
  const at = (b: { hash(): Uint8Array; header: { height: number; timestamp: number } }) => ({
    hash: b.hash(),
    height: b.header.height,
    timestamp: b.header.timestamp,
  });
  const exact = tc.chain.difficultyAfter(tc.chain.entry(fork.hash())!);
  assert.ok(exact > 65536);
  // Child of a connected block: exactly D, as before.
  await assert.rejects(tc.chain.addBlock(blockOn(at(fork), { params, difficulty: 65536 })), {
    code: 'DIFFICULTY_TOO_LOW',
  });
  const side1 = blockOn(at(fork), { params, difficulty: exact });
  assert.equal(await tc.chain.addBlock(side1), 'side');
  // Grandchild: its parent was never connected, yet transfers cannot lower |Po|'s bound, so the floor holds.
  const floor = tc.chain.lowestDifficultyAfter(tc.chain.entry(side1.hash())!);
  assert.equal(floor, difficultyFloor(params, 21, 0));
  await assert.rejects(tc.chain.addBlock(blockOn(at(side1), { params, difficulty: floor - 1 })), {
    code: 'DIFFICULTY_TOO_LOW',
  });
  assert.equal(await tc.chain.addBlock(blockOn(at(side1), { params, difficulty: floor })), 'side');
});
