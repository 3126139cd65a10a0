import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_BLOCK_VOTES, votesSize } from '../../src/chain/block.ts';
import { buildTemplate, completeBlock, votesThatFit } from '../../src/miner/template.ts';
import { openChain } from '../support/chain.ts';

const votes = (n: number, size: number) =>
  Array.from({ length: n }, (_, i) => {
    const v = new Uint8Array(size);
    new DataView(v.buffer).setUint32(0, i);
    return v;
  });

test('a miner with more votes than a block holds still builds blocks: the first that fit go in, the rest wait', async (t) => {
  const tc = await openChain(t);
  const miner = new Uint8Array(20).fill(3);
  // More than a u16 count: Block.create threw, and the miner made no block at all.
  const many = votes(MAX_BLOCK_VOTES + 10, 8);
  const tpl = buildTemplate(tc.chain, undefined, miner, undefined, [], many);
  assert.equal(tpl.votes.length, MAX_BLOCK_VOTES);
  assert.deepEqual(tpl.votes[0], many[0]);
  assert.equal(completeBlock(tpl, 0n).votes.length, MAX_BLOCK_VOTES);
  // Large votes stop at a quarter of the block's bytes, leaving room for transactions.
  const big = votesThatFit(votes(2_000, 1_000), tc.chain.params.maxBlockBytes);
  assert.ok(votesSize(big) <= tc.chain.params.maxBlockBytes / 4);
  assert.ok(votesSize(big) > tc.chain.params.maxBlockBytes / 4 - 1_002);
  assert.deepEqual(votesThatFit(votes(3, 40), tc.chain.params.maxBlockBytes).length, 3);
});
