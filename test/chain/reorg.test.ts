import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Block } from '../../src/chain/block.ts';
import type { Chain } from '../../src/chain/chain.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { Mempool } from '../../src/chain/mempool.ts';
import type { Transaction } from '../../src/chain/transaction.ts';
import { devnet, keypair, mine, mineMany, nextBlock, openChain, type TestChain, transfer } from '../support/chain.ts';
import { hookRecord, voteFor, voteRecord, votesRules } from '../support/votes.ts';

async function stateOf(chain: Chain): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const [k, v] of chain.store.stateEntries()) out.set(toHex(k), toHex(v));
  return out;
}

function ids(m: Mempool): string[] {
  return m
    .entries()
    .map((e) => e.id)
    .sort();
}

/** Feeds blocks to a fresh chain in order: "as if mined directly". */
async function replay(t: Parameters<typeof openChain>[0], blocks: Block[], submitted: Transaction[]) {
  const direct = await openChain(t, { rules: votesRules() });
  const mempool = new Mempool(direct.chain);
  direct.chain.on('tip', (c) => mempool.onTip(c));
  for (const b of blocks) {
    direct.clock.now = Math.max(direct.clock.now, b.header.timestamp);
    await direct.chain.addBlock(b);
  }
  for (const tx of submitted) {
    try {
      mempool.add(tx);
    } catch {}
  }
  return { direct, mempool };
}

test('a heavier 100-block side branch with votes replaces the tip, and switching back works too', async (t) => {
  // Every block carries a (fake) vote, so the votes section and the block hooks are undone and redone too.
  const tc: TestChain = await openChain(t, { rules: votesRules() });
  const voted = (c: TestChain, miner: Uint8Array) => ({ miner, votes: [voteFor(c.chain.height + 1, miner)] });
  const mempool = new Mempool(tc.chain);
  tc.chain.on('tip', (c) => mempool.onTip(c));
  const [alice, bob, carol, dave, erin] = [keypair(), keypair(), keypair(), keypair(), keypair()];
  const g = tc.chain.genesisHash;

  const common = [...(await mineMany(tc, 3, alice.address)), ...(await mineMany(tc, 2, dave.address))];
  const fork = tc.chain.tip;

  // Branch A (50 blocks): alice pays bob, dave pays erin.
  const aTxs: Transaction[] = [];
  const branchA: Block[] = [];
  for (let i = 0; i < 50; i++) {
    const txs = i < 10 ? [transfer(alice, bob.address, 1_000n + BigInt(i), BigInt(i), g)] : [];
    if (i >= 20 && i < 25) txs.push(transfer(dave, erin.address, 500n, BigInt(i - 20), g));
    for (const tx of txs) mempool.add(tx);
    aTxs.push(...txs);
    branchA.push(await mine(tc, { mempool, ...voted(tc, bob.address) }));
  }
  assert.equal(mempool.count, 0);
  // Two transactions still pending on A, one of them conflicts with branch B.
  const pendingAlice = transfer(alice, bob.address, 77n, 10n, g);
  const pendingDave = transfer(dave, erin.address, 88n, 5n, g);
  mempool.add(pendingAlice);
  mempool.add(pendingDave);
  const tipA = tc.chain.tip;

  // Branch B (100 blocks) is built on another chain from the same fork,
  // then delivered to this node one block at a time.
  const other = await openChain(t, { rules: votesRules() });
  for (const b of common) await other.chain.addBlock(b);
  const branchB: Block[] = [];
  for (let i = 0; i < 100; i++) {
    const txs = i < 12 ? [transfer(alice, carol.address, 2_000n + BigInt(i), BigInt(i), g)] : [];
    branchB.push(await mine(other, { txs, ...voted(other, carol.address) }));
  }
  const reorgs: { disconnected: number; forkParent: string }[] = [];
  tc.chain.on('tip', (c) => {
    if (c.disconnected.length > 0) {
      reorgs.push({ disconnected: c.disconnected.length, forkParent: toHex(c.disconnected.at(-1)!.header.parent) });
    }
  });
  for (const b of branchB) {
    tc.clock.now = Math.max(tc.clock.now, b.header.timestamp);
    await tc.chain.addBlock(b);
  }
  assert.deepEqual(reorgs, [{ disconnected: 50, forkParent: toHex(fork.hash) }]);
  assert.equal(toHex(tc.chain.tip.hash), toHex(branchB.at(-1)!.hash()));
  assert.equal(voteRecord(tc.chain.state, branchA[0]!.votes[0]!), undefined, "A's votes are undone");
  assert.equal(voteRecord(tc.chain.state, branchB[0]!.votes[0]!)?.miner, toHex(carol.address));
  assert.equal(hookRecord(tc.chain.state, fork.height + 1)?.hash, toHex(branchB[0]!.hash()));

  const submitted = [...aTxs, pendingAlice, pendingDave];
  const { direct, mempool: directPool } = await replay(t, [...common, ...branchB], submitted);
  assert.deepEqual(await stateOf(tc.chain), await stateOf(direct.chain));
  assert.deepEqual(ids(mempool), ids(directPool));
  // dave's 5 transfers from A plus the pending one are back; alice's conflict with B's nonces.
  assert.equal(mempool.count, 6);
  assert.ok(mempool.has(pendingDave.hash()) && !mempool.has(pendingAlice.hash()));

  // Switching back: branch A grows past B and takes the tip again.
  const back = await openChain(t, { rules: votesRules() });
  for (const b of [...common, ...branchA]) {
    back.clock.now = Math.max(back.clock.now, b.header.timestamp);
    await back.chain.addBlock(b);
  }
  assert.equal(toHex(back.chain.tip.hash), toHex(tipA.hash));
  const extension: Block[] = [];
  for (let i = 0; i < 51; i++) extension.push(await mine(back, voted(back, erin.address)));
  for (const b of extension) {
    tc.clock.now = Math.max(tc.clock.now, b.header.timestamp);
    await tc.chain.addBlock(b);
  }
  assert.deepEqual(reorgs[1], { disconnected: 100, forkParent: toHex(fork.hash) });
  assert.equal(toHex(tc.chain.tip.hash), toHex(extension.at(-1)!.hash()));
  // pendingAlice was rightly forgotten when B took its nonce, so the node that
  // saw that history knows every transaction except it.
  const known = [...aTxs, pendingDave, ...branchB.flatMap((b) => b.txs)];
  const again = await replay(t, [...common, ...branchA, ...extension], known);
  assert.deepEqual(await stateOf(tc.chain), await stateOf(again.direct.chain));
  assert.deepEqual(ids(mempool), ids(again.mempool));
});

test('a heavier branch with an invalid block is abandoned: the node returns to the chain it had, and the branch stays refused', async (t) => {
  const tc = await openChain(t);
  const [alice, bob] = [keypair(), keypair()];
  const g = tc.chain.genesisHash;
  const common = await mineMany(tc, 2, alice.address);
  // Chain A: two more blocks, with a payment.
  const a = [await mine(tc, { txs: [transfer(alice, bob.address, 5n, 0n, g)] }), await mine(tc)];
  const before = await stateOf(tc.chain);
  const tipA = toHex(tc.chain.tip.hash);

  // Branch B from the same fork: two valid blocks, then one that spends more than alice has.
  const other = await openChain(t);
  for (const blk of common) await other.chain.addBlock(blk);
  const b = [await mine(other), await mine(other)];
  const overspend = transfer(alice, bob.address, 100n * devnet.subsidy, 0n, g);
  const bad = nextBlock(other, { txs: [overspend] });

  for (const blk of b) {
    tc.clock.now = Math.max(tc.clock.now, blk.header.timestamp);
    assert.equal(await tc.chain.addBlock(blk), 'side');
  }
  tc.clock.now = Math.max(tc.clock.now, bad.header.timestamp);
  await assert.rejects(tc.chain.addBlock(bad), { code: 'INSUFFICIENT_FUNDS' });
  // B1–B2 have as much work as A, but A was seen first: the node is back on A, state unchanged.
  assert.equal(toHex(tc.chain.tip.hash), tipA);
  assert.deepEqual(await stateOf(tc.chain), before);
  assert.equal(toHex(tc.chain.entryAtHeight(3)!.hash), toHex(a[0]!.hash()));
  await assert.rejects(tc.chain.addBlock(bad), { code: 'KNOWN_INVALID' });
  // And it keeps going on A.
  await mine(tc);
  assert.equal(tc.chain.height, 5);
});
