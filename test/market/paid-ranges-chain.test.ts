import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Chain } from '../../src/chain/chain.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { StateOverlay } from '../../src/chain/state.ts';
import type { Transaction } from '../../src/chain/transaction.ts';
import {
  getPaidRanges,
  PaidRanges,
  putPaidRanges,
  STATE_PAID_RANGE_PAGE,
  STATE_PAID_RANGES,
} from '../../src/market/paid-ranges.ts';
import type { Range } from '../../src/market/ranges.ts';
import { nodeRules } from '../../src/node/rules.ts';
import { copyChain, keypair, mine, nextBlock, openChain, type TestChain } from '../support/chain.ts';
import { payout, postContract } from '../support/market.ts';
import { assertSupply } from '../support/supply.ts';

const MINER = new Uint8Array(20).fill(9);
/** Escrow pays a payout's fee; this covers the largest payout here (100 ranges) at devnet's 1 Li per byte. */
const FEE = 5_000n;

/** 100 ranges [8k + from, 8k + from + 2): 200 boundaries, more than a leaf holds, so level-2 pages of 256 indices. */
const comb = (from: number): Range[] =>
  Array.from({ length: 100 }, (_, k) => ({ start: 8 * k + from, end: 8 * k + from + 2 }));

async function marketChain(t: Parameters<typeof openChain>[0]) {
  const tc = await openChain(t, { rules: nodeRules({ guardWrites: true }) });
  const bidder = keypair();
  await mine(tc, { miner: bidder.address });
  const g = tc.chain.genesisHash;
  const post = postContract(bidder, 0n, g);
  await mine(tc, { txs: [post], miner: MINER });
  return { tc, bidder, g, id: post.hash(), solver: keypair() };
}

async function snapshot(chain: Chain, prefix = new Uint8Array()): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const [k, v] of chain.store.stateEntries(prefix)) out.set(toHex(k), toHex(v));
  return out;
}

/** The contract's paid-range records: its root and its pages. */
async function trieRecords(chain: Chain, id: Uint8Array): Promise<Map<string, string>> {
  return new Map([
    ...(await snapshot(chain, new Uint8Array([STATE_PAID_RANGES, ...id]))),
    ...(await snapshot(chain, new Uint8Array([STATE_PAID_RANGE_PAGE, ...id]))),
  ]);
}

/** The records a fresh build of the chain's paid set would write: the canonical ones. */
function canonicalRecords(chain: Chain, id: Uint8Array): Map<string, string> {
  const fresh = new StateOverlay({ get: () => undefined });
  putPaidRanges(fresh, id, getPaidRanges(chain.state, id));
  return new Map(fresh.changes().map((c) => [toHex(c.key), toHex(c.value!)]));
}

async function expectInvalid(tc: TestChain, txs: Transaction[], code: string) {
  const height = tc.chain.height;
  await assert.rejects(tc.chain.addBlock(nextBlock(tc, { txs, miner: MINER })), { code });
  assert.equal(tc.chain.height, height);
}

test('a payout overlapping a range paid in another page is refused; one joining ranges across a page boundary is paid', async (t) => {
  const { tc, bidder, g, id, solver } = await marketChain(t);
  await mine(tc, { txs: [payout(solver, bidder, id, comb(0), 0n, g, { fee: FEE })], miner: MINER });
  const pages = await snapshot(tc.chain, new Uint8Array([STATE_PAID_RANGE_PAGE, ...id]));
  assert.ok(pages.size >= 4, `${pages.size} pages: the set spans several`);
  const before = await trieRecords(tc.chain, id);

  // 704 is paid, in the page of 512–767; [2, 8) is free, in the page of 0–255.
  await expectInvalid(tc, [payout(solver, bidder, id, [{ start: 700, end: 705 }], 1n, g)], 'RANGE_ALREADY_PAID');
  await expectInvalid(
    tc,
    [
      payout(
        solver,
        bidder,
        id,
        [
          { start: 2, end: 8 },
          { start: 703, end: 705 },
        ],
        1n,
        g,
      ),
    ],
    'RANGE_ALREADY_PAID',
  );
  assert.deepEqual(await trieRecords(tc.chain, id), before);

  // [250, 256) joins [248, 250), in the page of 0–255, and [256, 258), in the page of 256–511.
  await mine(tc, { txs: [payout(solver, bidder, id, [{ start: 250, end: 256 }], 1n, g)], miner: MINER });
  const paid = getPaidRanges(tc.chain.state, id);
  assert.equal(paid.length, 99);
  assert.deepEqual(
    paid.find((r) => r.start === 248),
    { start: 248, end: 258 },
  );
  assert.deepEqual(await trieRecords(tc.chain, id), canonicalRecords(tc.chain, id));
  for (const r of [
    { start: 255, end: 256 },
    { start: 256, end: 257 },
    { start: 249, end: 251 },
  ])
    await expectInvalid(tc, [payout(solver, bidder, id, [r], 2n, g)], 'RANGE_ALREADY_PAID');
  const set = PaidRanges.open(tc.chain.state, id);
  assert.ok(set.isFree({ start: 258, end: 264 }) && !set.isFree({ start: 258, end: 265 }));
});

test('a reorg undoes payouts that paged, merged and collapsed the trie, restoring its exact records', async (t) => {
  const { tc, bidder, g, id, solver } = await marketChain(t);
  const fork = tc.chain.tip;
  const atFork = await snapshot(tc.chain);

  // Branch A: the set is paged (100 ranges), joined across a page boundary, then
  // most gaps are paid, so the pages collapse back into a root leaf.
  const gaps = Array.from({ length: 80 }, (_, k) => ({ start: 8 * k + 2, end: 8 * k + 8 })).filter(
    (r) => r.start !== 250,
  );
  const a1 = nextBlock(tc, { txs: [payout(solver, bidder, id, comb(0), 0n, g, { fee: FEE })], miner: MINER });
  await tc.chain.addBlock(a1);
  const paged = await trieRecords(tc.chain, id);
  assert.ok(paged.size > 1);
  const a2 = nextBlock(tc, {
    txs: [
      payout(solver, bidder, id, [{ start: 250, end: 256 }], 1n, g),
      payout(solver, bidder, id, gaps, 2n, g, { fee: FEE }),
    ],
    miner: MINER,
  });
  await tc.chain.addBlock(a2);
  await assertSupply(tc.chain);
  const collapsed = await trieRecords(tc.chain, id);
  assert.equal(collapsed.size, 1, 'one root leaf');
  assert.deepEqual(getPaidRanges(tc.chain.state, id)[0], { start: 0, end: 8 * 79 + 8 + 2 });
  const stateA = await snapshot(tc.chain);

  // Branch B from the fork, longer, paging the set its own way; it takes over.
  const other = await copyChain(t, tc, fork.height, { rules: nodeRules({ guardWrites: true }) });
  assert.deepEqual(await snapshot(other.chain), atFork);
  const b = [await mine(other, { txs: [payout(solver, bidder, id, comb(4), 0n, g, { fee: FEE })], miner: MINER })];
  for (let i = 0; i < 3; i++) b.push(await mine(other, { miner: MINER }));
  for (const blk of b) await tc.chain.addBlock(blk);
  assert.equal(toHex(tc.chain.tip.hash), toHex(b.at(-1)!.hash()));
  assert.deepEqual(await snapshot(tc.chain), await snapshot(other.chain));
  assert.deepEqual(getPaidRanges(tc.chain.state, id), comb(4));
  assert.deepEqual(await trieRecords(tc.chain, id), canonicalRecords(tc.chain, id));
  await assertSupply(tc.chain);

  // And back: A grows longer again, its records return byte for byte.
  const aBack = await copyChain(t, tc, fork.height, { rules: nodeRules({ guardWrites: true }) });
  await aBack.chain.addBlock(a1);
  await aBack.chain.addBlock(a2);
  assert.deepEqual(await snapshot(aBack.chain), stateA);
  const ext: Awaited<ReturnType<typeof mine>>[] = [];
  for (let i = 0; i < 3; i++) ext.push(await mine(aBack, { miner: MINER }));
  for (const blk of ext) await tc.chain.addBlock(blk);
  assert.deepEqual(await snapshot(tc.chain), await snapshot(aBack.chain));
  assert.deepEqual(await trieRecords(tc.chain, id), collapsed);
  await assertSupply(tc.chain);
});
