import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Mempool } from '../../src/chain/mempool.ts';
import { Miner } from '../../src/miner/miner.ts';
import { openTestChain, startTestNode, testLogger, until } from '../p2p/net.ts';
import { keypair, mineMany } from '../support/chain.ts';

test('the miner mines nothing while its node is not caught up, and starts once it is', async (t) => {
  const tc = await openTestChain(t);
  let ready = false;
  const miner = new Miner({
    chain: tc.chain,
    mempool: new Mempool(tc.chain),
    address: keypair().address,
    threads: 1,
    logger: testLogger,
    ready: () => ready,
  });
  t.after(() => miner.stop());
  tc.clock.now = Date.now();
  miner.start();
  await sleep(1_500);
  assert.equal(tc.chain.height, 0, 'no block on a chain its peers have not shown yet');
  ready = true;
  await until('it mines', () => tc.chain.height >= 1, 20_000);
});

test('a node given peers is not caught up until one has told it its chain, nor while a peer has more work', async (t) => {
  const a = await startTestNode(await openTestChain(t));
  await mineMany(a, 5);
  const tb = await openTestChain(t, a.clock);
  const b = await startTestNode(tb, { peers: [a.net.addresses()[0]!], statusIntervalMs: 600_000 });
  assert.equal(b.net.caughtUp(), false, 'no peer has answered yet');
  await until('b synced', () => b.chain.height === 5);
  await until('b is caught up', () => b.net.caughtUp());
  const alone = await startTestNode(await openTestChain(t));
  assert.equal(alone.net.caughtUp(), true, 'a node without peers mines its own chain');
});
