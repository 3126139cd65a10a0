import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Mempool } from '../../src/chain/mempool.ts';
import { loadMempool, saveMempool } from '../../src/chain/mempool-file.ts';
import { devnet, keypair, mine, transfer } from '../support/chain.ts';
import { openTestChain, startTestNode, until } from './net.ts';

test("pending transactions (mempool.dat's too) reach a peer that was behind when it connected, once it has caught up, at no cost to the sender", async (t) => {
  const alice = keypair();
  const a = await openTestChain(t);
  await mine(a, { miner: alice.address });
  // Written at the last shutdown, read back at this start.
  const file = join(a.dir, 'mempool.dat');
  const before = new Mempool(a.chain);
  const tx = transfer(alice, keypair().address, 5_000n, 0n, a.chain.genesisHash);
  await before.accept(tx);
  await saveMempool(file, before, a.chain.genesisHash);
  const node = await startTestNode(a);
  assert.deepEqual(await loadMempool(file, node.mempool, a.chain.genesisHash, devnet.maxTxBytes), {
    loaded: 1,
    dropped: 0,
  });

  // A peer without the block that funds alice: it refuses the push on connect.
  const peer = await startTestNode(await openTestChain(t, a.clock));
  await peer.net.connect(node.net.addresses()[0]!);
  await until('the peer synced', () => peer.chain.height === 1, 10_000);
  await until('the peer holds the transaction', () => peer.mempool.has(tx.hash()), 10_000);
  assert.equal(peer.net.book.score(node.net.peerId), 0, 'nothing it could not check was pushed to it');
});

test('a peer that was behind gets the pending transactions as soon as it has caught up, not at the next status round', async (t) => {
  const alice = keypair();
  const a = await openTestChain(t);
  await mine(a, { miner: alice.address });
  // Status rounds a minute apart: only catching up can bring the push forward.
  const node = await startTestNode(a, { statusIntervalMs: 60_000 });
  const tx = transfer(alice, keypair().address, 5_000n, 0n, a.chain.genesisHash);
  await node.mempool.accept(tx);
  const peer = await startTestNode(await openTestChain(t, a.clock), { statusIntervalMs: 60_000 });
  await peer.net.connect(node.net.addresses()[0]!);
  await until('the peer synced', () => peer.chain.height === 1, 10_000);
  await until('the peer holds the transaction', () => peer.mempool.has(tx.hash()), 5_000);
});
