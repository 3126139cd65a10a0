import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getAccount } from '../../src/chain/accounts.ts';
import type { Address } from '../../src/chain/address.ts';
import type { Chain } from '../../src/chain/chain.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { LIMITS } from '../../src/p2p/messages.ts';
import { keypair, mine, mineMany, type TestChain, transfer } from '../support/chain.ts';
import { voteFor, voteRecord, votesRules } from '../support/votes.ts';
import { openTestChain, startTestNode, until } from './net.ts';

/** A chain of `n` blocks whose every tenth block moves coins, so state is more than rewards. */
async function buildHistory(tc: TestChain, n: number): Promise<Address[]> {
  const rich = keypair();
  const others = [keypair().address, keypair().address, keypair().address];
  await mine(tc, { miner: rich.address });
  let nonce = 0n;
  for (let h = 2; h <= n; h++) {
    const txs =
      h % 10 === 0
        ? others.map((to, i) => transfer(rich, to, BigInt(1000 + i + h), nonce++, tc.chain.genesisHash))
        : [];
    await mine(tc, { miner: rich.address, txs });
  }
  return [rich.address, ...others];
}

function balances(chain: Chain, addrs: Address[]): string[] {
  return addrs.map((a) => {
    const acct = getAccount(chain.state, a);
    return `${acct.balance}/${acct.nonce}`;
  });
}

test('a fresh node syncs a 2,000-block chain from a peer: same tip, same state, bounded buffers', async (t) => {
  const a = await openTestChain(t);
  const addrs = await buildHistory(a, 2000);
  const b = await openTestChain(t);
  b.clock.now = a.clock.now;
  const window = 64;
  const na = await startTestNode(a);
  const nb = await startTestNode(b, { sync: { window, batch: 16 } });

  let maxBuffered = 0;
  let maxHeaders = 0;
  const watch = setInterval(() => {
    const st = nb.net.syncStatus();
    maxBuffered = Math.max(maxBuffered, st.bufferedBlocks);
    maxHeaders = Math.max(maxHeaders, st.pendingHeaders);
  }, 2);
  t.after(() => clearInterval(watch));

  await nb.net.connect(na.net.addresses()[0]!);
  await until('b synced to 2000', () => b.chain.height === 2000, 60_000);
  clearInterval(watch);

  assert.equal(toHex(b.chain.tip.hash), toHex(a.chain.tip.hash));
  assert.equal(b.chain.tip.chainwork, a.chain.tip.chainwork);
  assert.deepEqual(balances(b.chain, addrs), balances(a.chain, addrs));
  assert.ok(BigInt(balances(b.chain, addrs)[1]!.split('/')[0]!) > 0n, 'transfers were applied');
  // Blocks not yet connected stay within the download window; headers within two batches ahead.
  assert.ok(maxBuffered <= window, `buffered ${maxBuffered} blocks, window ${window}`);
  assert.ok(maxHeaders <= 3 * LIMITS.headers, `held ${maxHeaders} headers`);
  assert.equal(nb.net.syncStatus().syncing, false);
});

test('bodies come from several peers in parallel', async (t) => {
  const a = await openTestChain(t);
  await mineMany(a, 600);
  const b = await openTestChain(t);
  const c = await openTestChain(t);
  b.clock.now = c.clock.now = a.clock.now;
  const na = await startTestNode(a);
  const nb = await startTestNode(b);
  await nb.net.connect(na.net.addresses()[0]!);
  await until('b synced', () => b.chain.height === 600);

  const nc = await startTestNode(c, { sync: { batch: 8, perPeer: 1 } });
  await Promise.all([nc.net.connect(na.net.addresses()[0]!), nc.net.connect(nb.net.addresses()[0]!)]);
  await until('c synced', () => c.chain.height === 600);
  assert.equal(toHex(c.chain.tip.hash), toHex(a.chain.tip.hash));
  const from = nc.net.syncStatus().downloaded;
  assert.ok((from[na.net.peerId] ?? 0) > 0, `from a: ${JSON.stringify(from)}`);
  assert.ok((from[nb.net.peerId] ?? 0) > 0, `from b: ${JSON.stringify(from)}`);
});

test('a gossiped block with an unknown parent makes the node fetch its ancestors from the sender', async (t) => {
  const a = await openTestChain(t);
  const b = await openTestChain(t);
  await mineMany(a, 3);
  b.clock.now = a.clock.now;
  // Status is not polled during the test: only the orphan can tell b that a moved on.
  const na = await startTestNode(a, { statusIntervalMs: 600_000 });
  const nb = await startTestNode(b, { statusIntervalMs: 600_000 });
  await nb.net.connect(na.net.addresses()[0]!);
  await until('b caught up at connect', () => b.chain.height === 3);
  await until('gossip mesh', () => na.net.host.services.pubsub.getSubscribers(na.net.names.blocks).length > 0);

  await mineMany(a, 4); // not announced
  const block = await mine(a);
  na.net.publishBlock(block);
  await until('b fetched the ancestors', () => b.chain.height === 8, 15_000);
  assert.equal(toHex(b.chain.tip.hash), toHex(block.hash()));
});

test('blocks that hold votes sync and gossip: a fresh node ends with every vote and the same state', async (t) => {
  const a = await openTestChain(t, undefined, votesRules());
  const miner = keypair().address;
  for (let h = 1; h <= 300; h++) await mine(a, { miner, votes: [voteFor(h, miner)] });
  const b = await openTestChain(t, undefined, votesRules());
  b.clock.now = a.clock.now;
  const na = await startTestNode(a);
  const nb = await startTestNode(b, { sync: { window: 32, batch: 16 } });
  await nb.net.connect(na.net.addresses()[0]!);
  await until('b synced to 300', () => b.chain.height === 300, 60_000);
  await until('gossip mesh', () => na.net.host.services.pubsub.getSubscribers(na.net.names.blocks).length > 0);
  const block = await mine(a, { miner, votes: [voteFor(301, miner), voteFor(301, new Uint8Array(20))] });
  na.net.publishBlock(block);
  await until('b has the gossiped block', () => b.chain.height === 301, 15_000);
  assert.equal(voteRecord(b.chain.state, block.votes[1]!)?.height, 301);
  const dump = async (c: Chain) => {
    const out: string[] = [];
    for await (const [k, v] of c.store.stateEntries()) out.push(`${toHex(k)}=${toHex(v)}`);
    return out;
  };
  assert.deepEqual(await dump(b.chain), await dump(a.chain));
});
