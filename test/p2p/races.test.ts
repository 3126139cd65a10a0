import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Block } from '../../src/chain/block.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { keypair, ManualClock, mine, nextBlock } from '../support/chain.ts';
import { assertSupply } from '../support/supply.ts';
import { openTestChain, startTestNode, type TestNode, until } from './net.ts';

/** What `of` has cost its standing at `at` (0 when connected and blameless). */
const score = (at: TestNode, of: TestNode) => at.net.peers().find((p) => p.id === of.net.peerId)?.score;

test('two honest miners racing block for block are never penalized for it, and end on one chain', async (t) => {
  // Devnet's 1 s minimum interval makes every miner find the next block at
  // about the same moment: races at every height, ~10 s of them banned an
  // honest peer (an orphan cost a point each).
  const clock = new ManualClock();
  const a = await startTestNode(await openTestChain(t, clock));
  const b = await startTestNode(await openTestChain(t, clock));
  await a.net.connect(b.net.addresses()[0]!);
  const [minerA, minerB] = [keypair().address, keypair().address];
  a.net.publishBlock(await mine(a, { miner: minerA }));
  await until('common history', () => b.chain.height === 1);
  for (let round = 0; round < 12; round++) {
    // Both find a block at the same height at once: each keeps the one it saw first, its own.
    const [own, rival] = [nextBlock(a, { miner: minerA }), nextBlock(b, { miner: minerB })];
    await a.chain.addBlock(own);
    await b.chain.addBlock(rival);
    a.net.publishBlock(own);
    b.net.publishBlock(rival);
    // b finds the next one first: a gets a block whose parent it refused, fetches it and follows b.
    const next = await mine(b, { miner: minerB });
    b.net.publishBlock(next);
    await until(`a follows b in round ${round}`, () => toHex(a.chain.tip.hash) === toHex(next.hash()));
  }
  assert.equal(a.chain.height, 25);
  await assertSupply(a.chain);
  assert.equal(score(a, b), 0, "the race winner's blocks cost it nothing");
  assert.equal(score(b, a), 0, "the loser's blocks cost it nothing");
});

for (const depth of [1, 4]) {
  test(`two tips of equal work, ${depth} block(s) past where they fork: the miner whose tip hash is higher stops until the other pulls ahead, then both follow it`, async (t) => {
    const clock = new ManualClock();
    const a = await startTestNode(await openTestChain(t, clock));
    const b = await startTestNode(await openTestChain(t, clock));
    await a.net.connect(b.net.addresses()[0]!);
    a.net.publishBlock(await mine(a));
    await until('common history', () => b.chain.height === 1 && a.net.caughtUp() && b.net.caughtUp());
    // Each mines its own branch, then shows the other its tip: a tie neither gossip nor sync settles
    // (past one block, the tip is an orphan whose ancestors sync fetches and finds no heavier).
    const [minerA, minerB] = [keypair().address, keypair().address];
    const branches: [Block[], Block[]] = [[], []];
    for (let i = 0; i < depth; i++) {
      branches[0].push(nextBlock(a, { miner: minerA }));
      branches[1].push(nextBlock(b, { miner: minerB }));
      await a.chain.addBlock(branches[0].at(-1)!);
      await b.chain.addBlock(branches[1].at(-1)!);
    }
    const [own, rival] = [branches[0].at(-1)!, branches[1].at(-1)!];
    a.net.publishBlock(own);
    b.net.publishBlock(rival);
    const [high, low] = toHex(own.hash()) > toHex(rival.hash()) ? [a, b] : [b, a];
    await until('the higher tip yields', () => !high.net.caughtUp());
    assert.equal(low.net.caughtUp(), true, 'the lower tip mines on');
    // The lower side's next block settles it: the yielding node follows.
    const next = await mine(low);
    low.net.publishBlock(next);
    await until('one chain', () => toHex(high.chain.tip.hash) === toHex(next.hash()));
    await until('it mines again', () => high.net.caughtUp(), 5_000);
  });
}

test('a peer that shows a winning tie and never builds on it holds our miner back two seconds at most', async (t) => {
  const clock = new ManualClock();
  const a = await startTestNode(await openTestChain(t, clock));
  const b = await startTestNode(await openTestChain(t, clock));
  await a.net.connect(b.net.addresses()[0]!);
  a.net.publishBlock(await mine(a));
  await until('common history', () => b.chain.height === 1 && a.net.caughtUp() && b.net.caughtUp());
  const [own, rival] = [nextBlock(a, { miner: keypair().address }), nextBlock(b, { miner: keypair().address })];
  await a.chain.addBlock(own);
  await b.chain.addBlock(rival);
  a.net.publishBlock(own);
  b.net.publishBlock(rival);
  const high = toHex(own.hash()) > toHex(rival.hash()) ? a : b;
  await until('the higher tip yields', () => !high.net.caughtUp());
  const since = performance.now();
  // The other side mines nothing more: the pause ends by itself.
  await until('it mines again', () => high.net.caughtUp(), 5_000);
  assert.ok(performance.now() - since < 3_000, `held back ${Math.round(performance.now() - since)} ms`);
});
