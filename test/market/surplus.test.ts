import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { fundBalance } from '../../src/audit/state.ts';
import { getAccount } from '../../src/chain/accounts.ts';
import { Mempool } from '../../src/chain/mempool.ts';
import type { SolverProgress } from '../../src/market/solver.ts';
import { GIFT_FEE_MULTIPLE, SurplusToFund, surplusOf } from '../../src/market/surplus.ts';
import { nodeRules } from '../../src/node/rules.ts';
import { keypair, mine, openChain } from '../support/chain.ts';

test('surplus: what a batch earns above the stated cost, never below zero', () => {
  assert.equal(surplusOf(1_500n, 100, 10n), 500n);
  assert.equal(surplusOf(900n, 100, 10n), 0n);
  assert.equal(surplusOf(1_000n, 100, 10n), 0n);
});

test('a bootstrap Solver gives its surplus to the shared fund once it is worth the fee, and keeps it owed while it cannot pay', async (t) => {
  const tc = await openChain(t, { rules: nodeRules({ guardWrites: true }) });
  const mempool = new Mempool(tc.chain);
  const solver = keypair();
  // Stands in for the Solver's `progress` events (paid batches); the gift goes through the real mempool and chain.
  const events = new EventEmitter<{ progress: [SolverProgress] }>();
  const surplus = new SurplusToFund({
    solver: events,
    mempool,
    key: solver.priv,
    address: solver.address,
    genesisHash: tc.chain.genesisHash,
    minFeePerByte: tc.chain.params.minFeePerByte,
    costPerMcu: 10n,
    logger: { info: () => {}, warn: () => {}, debug: () => {} },
  });
  const progress = (earned: bigint, batch: number) =>
    events.emit('progress', { contract: 'c', mcus: 0, batch, earned, rate: 1, payouts: 1 });

  // 100 MCUs at 12 Li: 200 Li over cost, less than twenty fees — it waits.
  progress(1_200n, 100);
  await surplus.flush();
  assert.equal(surplus.owed, 200n);
  assert.equal(mempool.count, 0);
  // 1,000 more MCUs at 50 Li: 40,000 Li over cost, but the Solver holds nothing yet: still owed.
  progress(1_200n + 50_000n, 1_000);
  await surplus.flush();
  assert.equal(surplus.owed, 40_200n);
  assert.equal(surplus.gifts, 0);
  // Its earnings land (a reward here), and the next batch sends everything owed.
  await mine(tc, { miner: solver.address });
  progress(1_200n + 50_000n + 110n, 10);
  await surplus.flush();
  assert.equal(surplus.gifts, 1);
  const fee = 40_210n - surplus.given;
  assert.ok(fee > 0n && fee * GIFT_FEE_MULTIPLE <= 40_210n);
  assert.equal(surplus.owed, 0n);
  await mine(tc, { mempool });
  assert.equal(fundBalance(tc.chain.state), surplus.given, 'the surplus is in the fund, its fee paid by the Solver');
  assert.equal(getAccount(tc.chain.state, solver.address).balance, tc.chain.params.subsidy - 40_210n);
});
