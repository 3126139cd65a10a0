import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getAccount } from '../../src/chain/accounts.ts';
import { activityOf, isActive } from '../../src/chain/activity.ts';
import type { Address } from '../../src/chain/address.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { buildTemplate } from '../../src/miner/template.ts';
import { copyChain, devnet, keypair, mine, openChain, solve, type TestChain, transfer } from '../support/chain.ts';

const DAY = 86_400_000;

function active(tc: TestChain, a: Address): boolean {
  return isActive(tc.chain.state, a, tc.chain.tip.header.timestamp, devnet);
}

/** A block stamped at `timestamp` (the clock follows), so tests can cross the 30-day window. */
async function mineAt(tc: TestChain, timestamp: number, txs = [] as ReturnType<typeof transfer>[]) {
  tc.clock.now = Math.max(tc.clock.now, timestamp);
  const block = solve(buildTemplate(tc.chain, undefined, new Uint8Array(20).fill(9), timestamp, txs));
  await tc.chain.addBlock(block);
  return block;
}

test('an address is active after 10 transactions in 30 days of block time, as sender or receiver; rewards do not count', async (t) => {
  const tc = await openChain(t);
  const alice = keypair();
  const bob = keypair();
  const g = tc.chain.genesisHash;
  for (let i = 0; i < 12; i++) await mine(tc, { miner: alice.address });
  assert.equal(active(tc, alice.address), false, '12 rewards are not transactions');
  for (let n = 0; n < 10; n++) {
    assert.equal(active(tc, alice.address), false, `${n} transactions`);
    await mine(tc, { txs: [transfer(alice, bob.address, 1_000n, BigInt(n), g)] });
  }
  assert.equal(active(tc, alice.address), true);
  assert.equal(active(tc, bob.address), true, 'the receiver of 10 transactions is active too');
  const act = activityOf(getAccount(tc.chain.state, bob.address).activity, tc.chain.tip.header.timestamp, devnet);
  assert.equal(act.recent, 10);
  const firstTx = tc.chain.entryAtHeight(13)!.header.timestamp;
  assert.equal(act.activeUntil, firstTx + 30 * DAY);

  // Thirty days after the first of them only 9 are in the window...
  const at30 = firstTx + 30 * DAY;
  const aliceAct = getAccount(tc.chain.state, alice.address).activity;
  assert.deepEqual(activityOf(aliceAct, at30, devnet), { active: false, recent: 9, lastTx: aliceAct.at(-1) });
  // ...so she is inactive, and a new transaction a second later still leaves 9 (the second aged out).
  await mineAt(tc, at30);
  assert.equal(active(tc, alice.address), false);
  await mineAt(tc, at30 + 1000, [transfer(alice, bob.address, 1_000n, 10n, g)]);
  assert.equal(active(tc, alice.address), false);
  assert.equal(
    activityOf(getAccount(tc.chain.state, alice.address).activity, tc.chain.tip.header.timestamp, devnet).recent,
    9,
  );
});

test('activity is consensus state: a reorg that takes transactions away takes their activity with them', async (t) => {
  const tc = await openChain(t);
  const alice = keypair();
  const bob = keypair();
  const g = tc.chain.genesisHash;
  await mine(tc, { miner: alice.address });
  for (let n = 0; n < 9; n++) await mine(tc, { txs: [transfer(alice, bob.address, 1_000n, BigInt(n), g)] });
  const fork = tc.chain.tip;
  const record = toHex(tc.chain.state.get(new Uint8Array([0x01, ...alice.address]))!);

  // This chain's tenth transaction makes alice active...
  const other = await copyChain(t, tc, fork.height);
  await mine(tc, { txs: [transfer(alice, bob.address, 1_000n, 9n, g)] });
  assert.equal(active(tc, alice.address), true);
  // ...until a heavier branch without it arrives.
  const branch = [await mine(other), await mine(other)];
  for (const b of branch) await tc.chain.addBlock(b);
  assert.equal(toHex(tc.chain.tip.hash), toHex(branch[1]!.hash()));
  assert.equal(active(tc, alice.address), false);
  assert.equal(toHex(tc.chain.state.get(new Uint8Array([0x01, ...alice.address]))!), record);
});
