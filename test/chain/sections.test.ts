import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toHex } from '../../src/chain/encoding.ts';
import { StateGuardError } from '../../src/chain/state-guard.ts';
import { dbKey } from '../../src/chain/store/layout.ts';
import { type ConsensusDomain, coreRules } from '../../src/chain/tx-rules.ts';
import { buildTemplate } from '../../src/miner/template.ts';
import { keypair, mine, nextBlock, openChain, solve, type TestChain } from '../support/chain.ts';
import { fakeVotes, hookRecord, voteFor, voteRecord, votesRules } from '../support/votes.ts';

async function stateOf(tc: TestChain): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of tc.chain.store.stateEntries()) out.push(`${toHex(k)}=${toHex(v)}`);
  return out;
}

test("a template carries the domains' votes; connecting it applies each vote and tells hooks the block, its hash and miner", async (t) => {
  const tc = await openChain(t, { rules: votesRules() });
  const miner = keypair().address;
  const votes = [voteFor(1, miner), voteFor(1, new Uint8Array(20).fill(3))];
  const ts = tc.chain.earliestNext();
  tc.clock.now = ts;
  const block = solve(buildTemplate(tc.chain, undefined, miner, ts, [], votes));
  assert.deepEqual(block.votes, votes);
  assert.equal(await tc.chain.addBlock(block), 'connected');
  assert.deepEqual(voteRecord(tc.chain.state, votes[1]!), { height: 1, miner: toHex(miner) });
  assert.deepEqual(hookRecord(tc.chain.state, 1), {
    hash: toHex(block.hash()),
    timestamp: block.header.timestamp,
    miner: toHex(miner),
    votes: 2,
  });
  // The stored block reads back with its votes.
  assert.deepEqual((await tc.chain.getBlock(block.hash()))!.votes, votes);
});

test('a block whose votes break the section rules is invalid and changes nothing', async (t) => {
  const tc = await openChain(t, { rules: votesRules() });
  const miner = keypair().address;
  const first = voteFor(1, miner);
  await mine(tc, { miner, votes: [first] });
  const before = await stateOf(tc);
  const cases: [Uint8Array[], string, number][] = [
    [[voteFor(2, miner), new Uint8Array([0xff, 1])], 'BAD_VOTE', 1],
    [[voteFor(2, miner), voteFor(2, miner)], 'DUPLICATE_VOTE', 1],
    [[first], 'VOTED_BEFORE', 0],
  ];
  for (const [votes, code, voteIndex] of cases) {
    await assert.rejects(
      tc.chain.addBlock(nextBlock(tc, { miner, votes })),
      (e: Error & { code?: string; meta?: object }) => {
        assert.equal(e.code, code);
        assert.equal((e.meta as { voteIndex?: number }).voteIndex, voteIndex);
        return true;
      },
    );
    assert.equal(tc.chain.height, 1);
    assert.deepEqual(await stateOf(tc), before);
  }
});

test('a network whose rules register no votes section refuses a block with votes', async (t) => {
  const tc = await openChain(t);
  await assert.rejects(tc.chain.addBlock(nextBlock(tc, { votes: [new Uint8Array([1])] })), {
    code: 'SECTION_NOT_ACTIVE',
  });
  assert.equal(tc.chain.height, 0);
  await mine(tc);
  assert.equal(tc.chain.height, 1);
});

test('the guarded writer stops a domain that writes state it does not own', async (t) => {
  const rogue: ConsensusDomain = {
    name: 'rogue',
    owns: [0x20, 0x2f],
    // A hook that writes into the market's prefix (0x10–0x1f).
    hooks: [{ afterBlock: (state) => state.put(dbKey(0x10, new Uint8Array([1])), new Uint8Array([1])) }],
  };
  const tc = await openChain(t, { rules: coreRules({ guardWrites: true }).registerDomain(rogue) });
  await assert.rejects(tc.chain.addBlock(nextBlock(tc)), StateGuardError);
  assert.equal(tc.chain.height, 0);
  // Two domains cannot claim the same prefix.
  assert.throws(
    () =>
      coreRules()
        .registerDomain(fakeVotes)
        .registerDomain({ ...fakeVotes, name: 'twin' }),
    /overlapping/,
  );
  assert.throws(() => coreRules().registerDomain({ name: 'core-squatter', owns: [0x01, 0x01] }), /overlapping/);
});
