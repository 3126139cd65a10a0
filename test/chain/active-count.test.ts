import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeAccount } from '../../src/chain/accounts.ts';
import { activeCount } from '../../src/chain/active-count.ts';
import { activityOf } from '../../src/chain/activity.ts';
import type { Chain } from '../../src/chain/chain.ts';
import type { NetworkParams } from '../../src/chain/params.ts';
import { STATE_ACCOUNT } from '../../src/chain/store/layout.ts';
import { buildTemplate } from '../../src/miner/template.ts';
import {
  copyChain,
  devnet,
  keypair,
  mainBlocks,
  openChain,
  solve,
  type TestChain,
  transfer,
} from '../support/chain.ts';
import { assertSupply } from '../support/supply.ts';

/** Three transactions in 20 s make an address active: blocks a few seconds apart cross its end often. */
const params: NetworkParams = { ...devnet, activeTxCount: 3, activeWindowMs: 20_000 };

/** The count the hard way: every account, checked on its own. */
async function bruteForce(chain: Chain): Promise<number> {
  let n = 0;
  const now = chain.tip.header.timestamp;
  for await (const [, value] of chain.store.stateEntries(new Uint8Array([STATE_ACCOUNT]))) {
    if (activityOf(decodeAccount(value).activity, now, params).active) n++;
  }
  return n;
}

/** A small seeded generator, so a failure replays. */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

/** Rewards to a rich address, then a seeded walk of transfers among six users with 0.5–9 s between blocks. */
async function walk(tc: TestChain, blocks: number, seed: number, check: () => Promise<void>) {
  const rich = keypair();
  const users = Array.from({ length: 6 }, keypair);
  const g = tc.chain.genesisHash;
  const nonces = new Map<Uint8Array, bigint>([[rich.address, 0n], ...users.map((u) => [u.address, 0n] as const)]);
  const send = (from: (typeof users)[0], to: Uint8Array, amount: bigint) => {
    const n = nonces.get(from.address)!;
    nonces.set(from.address, n + 1n);
    return transfer(from, to, amount, n, g);
  };
  for (let i = 0; i < 3; i++) await mineAt(tc, 1000, [], rich.address);
  const funding = users.map((u) => send(rich, u.address, 1_000_000_000n));
  await mineAt(tc, 1000, funding);
  const random = seeded(seed);
  const pick = () => users[Math.floor(random() * users.length)]!;
  for (let b = 0; b < blocks; b++) {
    const txs = [];
    for (let k = Math.floor(random() * 4); k > 0; k--) {
      const [from, to] = [pick(), pick()];
      if (from !== to) txs.push(send(from, to.address, 1n));
    }
    await mineAt(tc, 500 + Math.floor(random() * 8_500), txs);
    await check();
  }
}

async function mineAt(tc: TestChain, gapMs: number, txs: ReturnType<typeof transfer>[], miner?: Uint8Array) {
  const timestamp = Math.max(tc.chain.earliestNext(), tc.chain.tip.header.timestamp + gapMs);
  tc.clock.now = Math.max(tc.clock.now, timestamp);
  const block = solve(buildTemplate(tc.chain, undefined, miner ?? new Uint8Array(20).fill(9), timestamp, txs));
  await tc.chain.addBlock(block);
  await assertSupply(tc.chain);
  return block;
}

const counted = (chain: Chain) => activeCount(chain.state, chain.tip.header.timestamp, params);

test('|active| matches a count over every account after every block, as addresses start and stop being active', async (t) => {
  const tc = await openChain(t, { params });
  const seen: number[] = [];
  await walk(tc, 80, 7, async () => {
    const n = counted(tc.chain);
    assert.equal(n, await bruteForce(tc.chain), `at height ${tc.chain.height}`);
    seen.push(n);
  });
  assert.ok(Math.max(...seen) >= 3, 'several addresses were active at once');
  assert.ok(
    seen.some((n, i) => i > 0 && n < seen[i - 1]!),
    'and some stopped being active',
  );
});

test('a reorg puts |active| back exactly, and the other branch counts its own', async (t) => {
  const tc = await openChain(t, { params });
  await walk(tc, 30, 11, async () => {});
  const other = await copyChain(t, tc, tc.chain.height, { params });
  const atFork = counted(tc.chain);
  const fork = tc.chain.height;
  // One branch goes on with transfers; a heavier one without them replaces it.
  await walk(tc, 5, 12, async () => {});
  for (let i = 0; i < 12; i++) await mineAt(other, 3_000, []);
  for (const block of await mainBlocks(other.chain, fork + 1)) await tc.chain.addBlock(block);
  assert.deepEqual(tc.chain.tip.hash, other.chain.tip.hash);
  assert.equal(counted(tc.chain), await bruteForce(tc.chain));
  assert.equal(counted(tc.chain), counted(other.chain));
  assert.ok(atFork > counted(tc.chain), 'the quiet branch let addresses lapse');
});

test('an address counts up to the millisecond before its activity ends, not at it', async (t) => {
  const tc = await openChain(t, { params });
  const alice = keypair();
  const bob = keypair();
  const g = tc.chain.genesisHash;
  for (let i = 0; i < 2; i++) await mineAt(tc, 1000, [], alice.address);
  const first = await mineAt(tc, 1000, [transfer(alice, bob.address, 1n, 0n, g)]);
  await mineAt(tc, 1000, [transfer(alice, bob.address, 1n, 1n, g)]);
  await mineAt(tc, 1000, [transfer(alice, bob.address, 1n, 2n, g)]);
  assert.equal(counted(tc.chain), 2, 'alice and bob, three transactions each');
  const other = await copyChain(t, tc, tc.chain.height, { params });
  // Two children of the same tip: one stamped a millisecond before the end, one at it.
  const end = first.header.timestamp + params.activeWindowMs;
  await mineAt(tc, end - 1 - tc.chain.tip.header.timestamp, []);
  assert.equal(tc.chain.tip.header.timestamp, end - 1);
  assert.equal(counted(tc.chain), 2);
  await mineAt(other, end - other.chain.tip.header.timestamp, []);
  assert.equal(other.chain.tip.header.timestamp, end);
  assert.equal(counted(other.chain), 0);
});
