import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { encodeHeaders, REQUEST } from '../../src/p2p/messages.ts';
import { openTestChain, startTestNode, until } from '../p2p/net.ts';
import { devnet, ManualClock, mine, mineMany } from '../support/chain.ts';
import { bannedAndGone, blockOn, gossipTo, names, rawPeer, sleep } from './support.ts';

test('future-block and orphan floods with valid proof of work add up to bans while an honest miner is served', async (t) => {
  const clock = new ManualClock();
  const [tcTarget, tcMiner] = await Promise.all([openTestChain(t, clock), openTestChain(t, clock)]);
  for (const b of await mineMany(tcMiner, 3)) await tcTarget.chain.addBlock(b);
  const target = await startTestNode(tcTarget);
  const miner = await startTestNode(tcMiner);
  await miner.net.connect(target.net.addresses()[0]!);
  await until('miner ready', () => target.net.peerCount === 1);

  let mining = true;
  let honest = 0;
  const loop = (async () => {
    while (mining) {
      const b = await mine(tcMiner);
      miner.net.publishBlock(b);
      await until('honest block arrives', () => tcTarget.chain.entry(b.hash()) !== undefined, 10_000);
      honest++;
      await sleep(50);
    }
  })();
  t.after(async () => {
    mining = false;
    await loop.catch(() => undefined);
  });

  await t.test('300 future blocks: one point each, banned at the 100th', async () => {
    const h = await rawPeer(t, target);
    const e = tcTarget.chain.tip;
    const tip = { hash: e.hash, height: e.height, timestamp: e.header.timestamp };
    let sent = 0;
    for (let i = 0; i < 300 && !target.net.isBanned(h.peerId.toString()); i++) {
      const ts = clock.now + devnet.futureLimitMs + 60_000 + i;
      await gossipTo(h, target, names.blocks, blockOn(tip, { timestamp: ts }).toBytes());
      sent++;
      await sleep(2);
    }
    await until('banned', bannedAndGone(target, h), 10_000);
    assert.equal(target.net.bans().find((b) => b.peer === h.peerId.toString())?.reason, 'FUTURE_BLOCK');
    assert.ok(sent >= 100 && sent < 300, `banned after ${sent}`);
    t.diagnostic(`future flood: banned after ${sent} blocks`);
  });

  await t.test('300 orphans on unknown parents: the sender cannot give their ancestors, banned', async () => {
    // It answers every ancestor request with no headers, as it has none.
    const h = await rawPeer(t, target, (req) => (req[0] === REQUEST.getHeaders ? encodeHeaders([]) : undefined));
    let sent = 0;
    for (let i = 0; i < 300 && !target.net.isBanned(h.peerId.toString()); i++) {
      const parent = { hash: new Uint8Array(randomBytes(32)), height: 10 + i, timestamp: clock.now };
      await gossipTo(h, target, names.blocks, blockOn(parent).toBytes());
      sent++;
      await sleep(2);
    }
    await until('banned', bannedAndGone(target, h), 10_000);
    assert.ok(sent < 300, `banned after ${sent}`);
    t.diagnostic(`orphan flood: banned after ${sent} blocks (${target.net.bans().at(-1)?.reason})`);
  });

  const before = honest;
  await until('the honest miner keeps being served', () => honest >= before + 3, 20_000);
  mining = false;
  await loop;
  assert.equal(target.net.isBanned(miner.net.peerId), false);
  assert.equal(Math.round(target.net.book.score(miner.net.peerId)), 0);
});
