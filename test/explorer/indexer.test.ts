import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  encodeAudit,
  INVALID,
  STATE_AUDIT,
  STATUS_FINAL,
  STATUS_INVALID,
  STATUS_OPEN,
  VALID,
} from '../../src/audit/state.ts';
import { accountKey, encodeAccount } from '../../src/chain/accounts.ts';
import { Chain } from '../../src/chain/chain.ts';
import { keyId, toHex } from '../../src/chain/encoding.ts';
import { genesisBlock } from '../../src/chain/genesis.ts';
import type { IndexedBlock } from '../../src/chain/indexer.ts';
import { reindex } from '../../src/chain/reindex.ts';
import { type StateChange, StateOverlay } from '../../src/chain/state.ts';
import {
  dbKey,
  INDEX_AUDIT_FINAL,
  INDEX_BALANCE_CHANGE,
  INDEX_SOLVER_RANK,
  stateKey,
  u32be,
} from '../../src/chain/store/layout.ts';
import {
  contractSolverKey,
  decodeAuditFinal,
  decodeAuditTally,
  decodeBalanceChange,
  decodeSolverTotals,
  decodeTotals,
  EXPLORER_INDEXER,
  explorerIndexer,
  solverKey,
  validatorAuditsKey,
} from '../../src/explorer/indexer.ts';
import { nodeRules } from '../../src/node/rules.ts';
import { devnet, keypair, mine, mineMany, openChain, type TestChain } from '../support/chain.ts';
import { payout, postContract } from '../support/market.ts';

/**
 * The explorer's indexes live in the block's batch: a reorg undoes them
 * exactly, a reindex rebuilds the same bytes, and a store that was never
 * indexed is not half-indexed.
 */

const rules = () => nodeRules({ guardWrites: true });

async function indexOf(chain: Chain): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const [k, v] of chain.store.indexEntries(new Uint8Array())) out.set(toHex(k), toHex(v));
  return out;
}

test('a reorg undoes the payouts it takes off the chain; a reindex rebuilds the same index', async (t) => {
  const bidder = keypair();
  const [s1, s2] = [keypair(), keypair()];
  const tc: TestChain = await openChain(t, { rules: rules(), indexers: [explorerIndexer] });
  const g = tc.chain.genesisHash;
  const common = await mineMany(tc, 2, bidder.address);
  const post = postContract(bidder, 0n, g);
  common.push(await mine(tc, { txs: [post] }));
  const id = post.hash();
  const before = await indexOf(tc.chain);

  // Branch A: s1 is paid twice.
  await mine(tc, { txs: [payout(s1, bidder, id, [{ start: 0, end: 5 }], 0n, g)] });
  await mine(tc, { txs: [payout(s1, bidder, id, [{ start: 5, end: 12 }], 1n, g)] });
  const s1Totals = decodeSolverTotals(tc.chain.store.index.get(solverKey(s1.address)));
  assert.equal(s1Totals.mcus, 12n);
  assert.equal(s1Totals.payouts, 2);
  assert.equal(s1Totals.li, 12_000n);

  // Branch B, longer, built elsewhere: s2 is paid instead.
  const other = await openChain(t, { rules: rules(), indexers: [explorerIndexer] });
  for (const b of common) {
    other.clock.now = Math.max(other.clock.now, b.header.timestamp);
    await other.chain.addBlock(b);
  }
  const branchB = [await mine(other, { txs: [payout(s2, bidder, id, [{ start: 0, end: 3 }], 0n, g)] })];
  branchB.push(...(await mineMany(other, 3)));
  for (const b of branchB) {
    tc.clock.now = Math.max(tc.clock.now, b.header.timestamp);
    await tc.chain.addBlock(b);
  }
  assert.equal(toHex(tc.chain.tip.hash), toHex(other.chain.tip.hash), 'branch B is the main chain');
  assert.equal(tc.chain.store.index.get(solverKey(s1.address)), undefined, "s1's payouts are gone with branch A");
  assert.deepEqual(decodeTotals(tc.chain.store.index.get(contractSolverKey(id, s2.address))), {
    mcus: 3n,
    li: 3_000n,
    payouts: 1,
  });
  const afterReorg = await indexOf(tc.chain);
  assert.deepEqual(afterReorg, await indexOf(other.chain), 'as if branch B had been mined here directly');
  assert.ok(afterReorg.size > before.size);

  // --reindex drops the index with the state and rebuilds it, byte for byte.
  await tc.chain.close();
  const opts = { path: join(tc.dir, 'chain'), params: devnet, rules: rules(), indexers: [explorerIndexer] };
  await reindex({ ...opts, clock: tc.clock.fn });
  const again = await Chain.open({ ...opts, clock: tc.clock.fn });
  t.after(() => again.close());
  assert.ok(again.indexing(EXPLORER_INDEXER));
  assert.deepEqual(await indexOf(again), afterReorg);
});

test('the Solvers rank by what they earned: one rank entry each, moved when a payout overtakes (a reorg undoes it with the rest: the test above)', async (t) => {
  const bidder = keypair();
  const [s1, s2] = [keypair(), keypair()];
  const tc: TestChain = await openChain(t, { rules: rules(), indexers: [explorerIndexer] });
  const g = tc.chain.genesisHash;
  await mineMany(tc, 2, bidder.address);
  const post = postContract(bidder, 0n, g);
  await mine(tc, { txs: [post] });
  const id = post.hash();
  const ranking = async () => {
    const out: string[] = [];
    for await (const [k] of tc.chain.store.indexEntries(new Uint8Array([INDEX_SOLVER_RANK]), { reverse: true })) {
      out.push(toHex(k.subarray(9)));
    }
    return out;
  };
  await mine(tc, {
    txs: [payout(s1, bidder, id, [{ start: 0, end: 5 }], 0n, g), payout(s2, bidder, id, [{ start: 5, end: 8 }], 0n, g)],
  });
  const first = [toHex(s1.address), toHex(s2.address)];
  assert.deepEqual(await ranking(), first, '5 MCUs before 3');
  await mine(tc, { txs: [payout(s2, bidder, id, [{ start: 8, end: 12 }], 1n, g)] });
  assert.deepEqual(await ranking(), [toHex(s2.address), toHex(s1.address)], '7 MCUs before 5, and s2 once');
});

test('a store kept without the indexer is not indexed until a reindex', async (t) => {
  const tc = await openChain(t, { rules: rules() });
  await mineMany(tc, 3, keypair().address);
  await tc.chain.close();
  const opts = { path: join(tc.dir, 'chain'), params: devnet, rules: rules(), indexers: [explorerIndexer] };
  const stale = await Chain.open({ ...opts, clock: tc.clock.fn });
  assert.equal(stale.indexing(EXPLORER_INDEXER), false, 'three blocks were never indexed');
  assert.equal((await indexOf(stale)).size, 0);
  await stale.close();
  await reindex({ ...opts, clock: tc.clock.fn });
  const rebuilt = await Chain.open({ ...opts, clock: tc.clock.fn });
  t.after(() => rebuilt.close());
  assert.ok(rebuilt.indexing(EXPLORER_INDEXER));
  // The miner's reward changed its balance in each block: one balance change per block, marker aside.
  assert.equal((await indexOf(rebuilt)).size, 1 + 3);
});

test('an index kept, then a run without it, is no longer whole: the next run that wants it asks for a reindex', async (t) => {
  const tc = await openChain(t, { rules: rules(), indexers: [explorerIndexer] });
  await mineMany(tc, 2, keypair().address);
  assert.ok(tc.chain.indexing(EXPLORER_INDEXER), 'kept from genesis');
  await tc.chain.close();
  const opts = { path: join(tc.dir, 'chain'), params: devnet, rules: rules(), clock: tc.clock.fn };
  // A node without --explorer: it mines on and writes no index.
  const without = await Chain.open(opts);
  const gap = { ...tc, chain: without };
  await mineMany(gap, 2, keypair().address);
  await without.close();
  const back = await Chain.open({ ...opts, indexers: [explorerIndexer] });
  assert.equal(back.indexing(EXPLORER_INDEXER), false, 'two blocks were never indexed: not whole');
  await back.close();
  await reindex({ ...opts, indexers: [explorerIndexer] });
  const rebuilt = await Chain.open({ ...opts, indexers: [explorerIndexer] });
  t.after(() => rebuilt.close());
  assert.ok(rebuilt.indexing(EXPLORER_INDEXER));
  assert.equal((await indexOf(rebuilt)).size, 1 + 4, 'the marker and one balance change per block');
});

test('final verdicts count once per audit, for its Validator; balance changes keep their sign', () => {
  const validator = keypair().address;
  const [passed, failed] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
  const audit = (status: number, verdict: number) =>
    encodeAudit({
      validator,
      bidder: keypair().address,
      validationFee: 1n,
      heldFees: 10n,
      closedHeight: 5,
      round: 1,
      status,
      verdict,
      verdictTime: 0,
      appealPayment: 0n,
      forfeited: 0n,
      votes: [],
    });
  const rich = keypair().address;
  const poor = keypair().address;
  const account = (balance: bigint) => encodeAccount({ balance, nonce: 0n, activity: [] });
  const block = (height: number, changes: Omit<StateChange, 'id'>[]): IndexedBlock => ({
    block: genesisBlock(devnet),
    hash: new Uint8Array(32),
    height,
    timestamp: 0,
    changes: changes.map((c) => ({ ...c, id: keyId(c.key) })),
    state: new StateOverlay({ get: () => undefined }),
    rules: rules(),
    params: devnet,
  });
  const index = new StateOverlay({ get: () => undefined });
  explorerIndexer.connect(
    index,
    block(7, [
      { key: stateKey(STATE_AUDIT, passed), previous: audit(STATUS_OPEN, 0xff), value: audit(STATUS_FINAL, VALID) },
      { key: stateKey(STATE_AUDIT, failed), previous: audit(STATUS_OPEN, 0xff), value: audit(STATUS_INVALID, INVALID) },
      { key: accountKey(rich), previous: account(5n), value: account(12n) },
      { key: accountKey(poor), previous: account(12n), value: undefined },
    ]),
  );
  explorerIndexer.connect(
    index,
    block(8, [
      // The Valid one is touched again (final already), the Invalid one's window closes.
      { key: stateKey(STATE_AUDIT, passed), previous: audit(STATUS_FINAL, VALID), value: audit(STATUS_FINAL, VALID) },
      {
        key: stateKey(STATE_AUDIT, failed),
        previous: audit(STATUS_INVALID, INVALID),
        value: audit(STATUS_FINAL, INVALID),
      },
    ]),
  );
  assert.deepEqual(decodeAuditTally(index.get(validatorAuditsKey(validator))), { passed: 1, failed: 1 });
  const change = (a: Uint8Array, h: number) => {
    const k = dbKey(INDEX_BALANCE_CHANGE, a, u32be(h));
    return decodeBalanceChange(k, index.get(k)!).li;
  };
  assert.equal(change(rich, 7), 7n);
  assert.equal(change(poor, 7), -12n);
  const finals = index
    .changes()
    .filter((c) => c.key[0] === INDEX_AUDIT_FINAL)
    .map((c) => decodeAuditFinal(c.key, c.value!));
  assert.deepEqual(
    finals.map((f) => [f.height, toHex(f.contract), f.valid]),
    [
      [7, toHex(passed), true],
      [8, toHex(failed), false],
    ],
  );
});
