import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getAccount } from '../../src/chain/accounts.ts';
import type { Address } from '../../src/chain/address.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { keypair, ManualClock, mine, transfer } from '../support/chain.ts';
import { openTestChain, startTestNode, type TestNode, until } from './net.ts';

test('partition and heal: both sides mine apart, then all end on the most-work chain with one state and one mempool', async (t) => {
  const clock = new ManualClock();
  const nodes: TestNode[] = [];
  for (let i = 0; i < 4; i++) nodes.push(await startTestNode(await openTestChain(t, clock)));
  const [a, b, c, d] = nodes as [TestNode, TestNode, TestNode, TestNode];
  const link = (x: TestNode, y: TestNode) => x.net.connect(y.net.addresses()[0]!);
  await Promise.all([link(a, b), link(b, c), link(c, d)]);
  const sameTip = () => nodes.every((n) => toHex(n.chain.tip.hash) === toHex(a.chain.tip.hash));
  const genesis = a.chain.genesisHash;

  // Common history: rich mines, then funds a second spender.
  const rich = keypair();
  const other = keypair();
  await mine(a, { miner: rich.address });
  a.net.publishBlock(await mine(a, { miner: rich.address }));
  a.net.publishBlock(await mine(a, { txs: [transfer(rich, other.address, 10_000_000n, 0n, genesis)] }));
  await until('common history everywhere', () => sameTip() && d.chain.height === 3);

  // Partition {a, b} | {c, d}.
  await b.net.disconnect(c.net.peerId);
  await until('partitioned', () => b.net.peers().every((p) => p.id !== c.net.peerId));

  const [x, y, z] = [keypair().address, keypair().address, keypair().address];
  const tx1 = transfer(rich, x, 111n, 1n, genesis); // mined only on the losing side, then conflicts
  const tx2 = transfer(rich, y, 222n, 1n, genesis); // same nonce, mined on the winning side
  const tx3 = transfer(rich, z, 333n, 2n, genesis); // pending on the winning side
  const tx4 = transfer(other, x, 444n, 0n, genesis); // mined only on the losing side, still valid after

  a.net.publishBlock(await mine(a, { txs: [tx1, tx4] }));
  a.net.publishBlock(await mine(a));
  for (let i = 0; i < 4; i++) c.net.publishBlock(await mine(c, { txs: i === 0 ? [tx2] : [] }));
  await d.mempool.accept(tx3);
  await until('each side agrees within itself', () => {
    const ab = toHex(a.chain.tip.hash) === toHex(b.chain.tip.hash) && b.chain.height === 5;
    const cd = toHex(c.chain.tip.hash) === toHex(d.chain.tip.hash) && d.chain.height === 7;
    return ab && cd && c.mempool.has(tx3.hash());
  });
  assert.notEqual(toHex(a.chain.tip.hash), toHex(c.chain.tip.hash));
  const winner = toHex(c.chain.tip.hash);

  // Heal.
  await link(b, c);
  await until('one chain everywhere', () => sameTip(), 30_000);
  assert.equal(toHex(a.chain.tip.hash), winner, 'the side with more work wins');

  const addrs: Address[] = [rich.address, other.address, x, y, z];
  const state = (n: TestNode) =>
    addrs.map((ad) => `${getAccount(n.chain.state, ad).balance}/${getAccount(n.chain.state, ad).nonce}`);
  for (const n of nodes) assert.deepEqual(state(n), state(c));
  assert.equal(getAccount(c.chain.state, y).balance, 222n);
  assert.equal(getAccount(c.chain.state, x).balance, 0n, 'tx1 and tx4 were on the losing side');

  // tx1 conflicts with tx2 and is gone; tx3 and the resurrected tx4 are pending everywhere.
  const pending = (n: TestNode) =>
    n.mempool
      .entries()
      .map((e) => e.id)
      .sort();
  const expected = [toHex(tx3.hash()), toHex(tx4.hash())].sort();
  await until('one mempool everywhere', () =>
    nodes.every((n) => JSON.stringify(pending(n)) === JSON.stringify(expected)),
  );

  // The next block, mined on the old losing side, carries both and settles everything.
  a.net.publishBlock(await mine(a, { mempool: a.mempool }));
  await until('settled', () => sameTip() && nodes.every((n) => n.mempool.count === 0));
  for (const n of nodes) assert.deepEqual(state(n), state(a));
  assert.equal(getAccount(b.chain.state, x).balance, 444n);
  assert.equal(getAccount(d.chain.state, z).balance, 333n);
});
