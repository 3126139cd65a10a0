import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openTestChain, startTestNode, until } from '../p2p/net.ts';
import { ManualClock, mineMany } from '../support/chain.ts';
import { bannedAndGone, blockOn, chainOn, sleep, unfundedTransfers } from './support.ts';

test('a low-work side chain forked at genesis is neither stored nor relayed, and its sender is banned', async (t) => {
  const clock = new ManualClock();
  const [tcTarget, tcObserver, tcAttacker] = await Promise.all([
    openTestChain(t, clock),
    openTestChain(t, clock),
    openTestChain(t, clock),
  ]);
  const main = await mineMany(tcTarget, 70);
  for (const b of main) {
    await tcObserver.chain.addBlock(b);
    await tcAttacker.chain.addBlock(b);
  }
  // 60 blocks (2 points each) at the lowest difficulty, forked at genesis, full of validly signed transfers from unfunded keys.
  const g = tcTarget.chain.genesis;
  const junk = unfundedTransfers(60, g.hash());
  const fork = chainOn({ hash: g.hash(), height: 0, timestamp: g.header.timestamp }, 60, (p) =>
    blockOn(p, { txs: junk }),
  );
  // The attacker holds them (as side blocks), so it can serve their headers and bodies when asked.
  for (const b of fork) assert.equal(await tcAttacker.chain.addBlock(b), 'side');

  const target = await startTestNode(tcTarget);
  const observer = await startTestNode(tcObserver);
  const attacker = await startTestNode(tcAttacker);
  await observer.net.connect(target.net.addresses()[0]!);
  await attacker.net.connect(target.net.addresses()[0]!);
  await until('peers ready', () => target.net.peerCount === 2);

  let published = 0;
  for (const b of fork) {
    if (target.net.isBanned(attacker.net.peerId)) break;
    published++;
    attacker.net.publishBlock(b);
    await sleep(20);
  }
  await until('the attacker is banned', bannedAndGone(target, attacker.net.peerId), 10_000);
  await sleep(300);
  const storedAt = (c: typeof tcTarget) => fork.filter((b) => c.chain.entry(b.hash()) !== undefined).length;
  assert.equal(storedAt(tcTarget), 0, 'stored at the target');
  assert.equal(storedAt(tcObserver), 0, 'relayed to the observer');
  // The last straw is a low-work block, or one whose low-work parent was not stored (an orphan then).
  const reason = target.net.bans().find((b) => b.peer === attacker.net.peerId)?.reason;
  assert.ok(reason === 'LOW_WORK' || reason === 'UNKNOWN_PARENT', `banned for ${reason}`);
  t.diagnostic(`banned after ${published} of ${fork.length} blocks (${fork.reduce((n, b) => n + b.size, 0)} bytes)`);
  // The honest observer is untouched.
  assert.equal(target.net.isBanned(observer.net.peerId), false);
  assert.equal(target.net.book.score(observer.net.peerId), 0);
});
