import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Block } from '../../src/chain/block.ts';
import { checkHeader } from '../../src/chain/checks.ts';
import { openTestChain, startTestNode, until } from '../p2p/net.ts';
import { devnet, ManualClock, mine, mineMany, nextBlock } from '../support/chain.ts';
import { bannedAndGone, gossipTo, names, rawPeer } from './support.ts';

test('20 peers behind one IP: a bad-PoW sender is still banned and honest blocks still arrive by gossip', async (t) => {
  const clock = new ManualClock();
  const [tcTarget, tcMiner] = await Promise.all([openTestChain(t, clock), openTestChain(t, clock)]);
  for (const b of await mineMany(tcMiner, 3)) await tcTarget.chain.addBlock(b);
  // Status polls far apart: whatever arrives in the test came by gossip.
  const target = await startTestNode(tcTarget, { statusIntervalMs: 600_000 });
  const miner = await startTestNode(tcMiner, { statusIntervalMs: 600_000 });
  // 20 peer ids from 127.0.0.1, as behind a NAT, all subscribed to the block topic.
  const crowd = await Promise.all(Array.from({ length: 20 }, () => rawPeer(t, target)));
  for (const h of crowd) h.services.pubsub.subscribe(names.blocks);
  await miner.net.connect(target.net.addresses()[0]!);
  await until('all peers ready', () => target.net.peerCount === 21, 20_000);
  // Let gossipsub's heartbeat (500 ms) score the crowd.
  await new Promise((r) => setTimeout(r, 1500));

  const good = nextBlock(tcTarget);
  let header = good.header;
  for (let n = 1n; ; n++) {
    header = good.header.withNonce(good.header.nonce + n);
    try {
      checkHeader(header, devnet);
    } catch {
      break;
    }
  }
  const bad = Block.create(header, good.txs);
  await gossipTo(crowd[0]!, target, names.blocks, bad.toBytes());
  await until('the bad-PoW sender is banned', bannedAndGone(target, crowd[0]!), 5000);

  for (let i = 0; i < 3; i++) {
    const b = await mine(tcMiner);
    miner.net.publishBlock(b);
    await until(`honest block ${i + 1} arrives by gossip`, () => tcTarget.chain.entry(b.hash()) !== undefined, 5000);
  }
  assert.equal(target.net.isBanned(miner.net.peerId), false);
  assert.equal(target.net.bans().length, 1);
});
