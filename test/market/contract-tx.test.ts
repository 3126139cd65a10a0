import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getAccount } from '../../src/chain/accounts.ts';
import type { Chain } from '../../src/chain/chain.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { Mempool } from '../../src/chain/mempool.ts';
import { Transaction } from '../../src/chain/transaction.ts';
import {
  decodeContract,
  getContract,
  getPaidRanges,
  STATE_CONTRACT,
  STATUS_CLOSED,
} from '../../src/market/contract-state.ts';
import { contractRules, minimumBudget, payoutFee, payoutRules } from '../../src/market/contract-tx.ts';
import { FIRST_LEASE, nextLeaseSize } from '../../src/market/leases.ts';
import type { Range } from '../../src/market/ranges.ts';
import { startMarket } from '../../src/market/service.ts';
import { nodeRules } from '../../src/node/rules.ts';
import { copyChain, devnet, keypair, mine, nextBlock, openChain, type TestChain } from '../support/chain.ts';
import { closeContract, contractBody, payout, postContract, topup } from '../support/market.ts';
import { quietLogger } from '../support/node.ts';

const MINER = new Uint8Array(20).fill(9);

async function marketChain(t: Parameters<typeof openChain>[0]) {
  const tc = await openChain(t, { rules: nodeRules({ guardWrites: true }) });
  const bidder = keypair();
  await mine(tc, { miner: bidder.address });
  return { tc, bidder, g: tc.chain.genesisHash };
}

/** Every Li is somewhere: balances plus contract escrow and held fees equal what was minted. */
async function assertConserved(chain: Chain) {
  let total = 0n;
  for await (const [key, value] of chain.store.stateEntries()) {
    if (key[0] === 0x01) total += new DataView(value.buffer, value.byteOffset).getBigUint64(0);
    if (key[0] === STATE_CONTRACT) {
      const c = decodeContract(value);
      total += c.escrow + c.heldFees;
    }
  }
  assert.equal(total, BigInt(chain.height) * devnet.subsidy);
}

async function expectInvalid(tc: TestChain, txs: Transaction[], code: string) {
  const height = tc.chain.height;
  await assert.rejects(tc.chain.addBlock(nextBlock(tc, { txs, miner: MINER })), { code });
  assert.equal(tc.chain.height, height);
}

test('a contract locks its budget in escrow, counts as an open problem, and close returns the rest', async (t) => {
  const { tc, bidder, g } = await marketChain(t);
  const post = postContract(bidder, 0n, g);
  await mine(tc, { txs: [post], miner: MINER });
  const id = post.hash();
  const c = getContract(tc.chain.state, id)!;
  assert.equal(c.escrow, 2_000_000n);
  assert.equal(tc.chain.tip.openProblems, 1);
  assert.equal(tc.chain.openProblems(), 1);
  assert.equal(getAccount(tc.chain.state, bidder.address).balance, devnet.subsidy - 2_000_000n - 100_000n);
  await assertConserved(tc.chain);

  await mine(tc, { txs: [topup(bidder, id, 5_000n, 1n, g)], miner: MINER });
  assert.equal(getContract(tc.chain.state, id)!.escrow, 2_005_000n);

  const solver = keypair();
  await mine(tc, { txs: [payout(solver, bidder, id, [{ start: 0, end: 1 }], 0n, g)], miner: MINER });
  const before = getAccount(tc.chain.state, bidder.address).balance;
  await mine(tc, { txs: [closeContract(bidder, id, 2n, g)], miner: MINER });
  const closed = getContract(tc.chain.state, id)!;
  assert.equal(closed.status, STATUS_CLOSED);
  assert.equal(closed.escrow, 0n);
  assert.equal(getAccount(tc.chain.state, bidder.address).balance, before + 2_005_000n - 1_000n - 1_000n - 1_000n);
  // (escrow less one MCU paid and that payout's fee, which escrow pays; less the close fee)
  assert.equal(tc.chain.tip.openProblems, 0);
  await assertConserved(tc.chain);
  await expectInvalid(tc, [payout(solver, bidder, id, [{ start: 5, end: 6 }], 1n, g)], 'CONTRACT_CLOSED');
  await expectInvalid(tc, [topup(bidder, id, 5n, 3n, g)], 'CONTRACT_CLOSED');
});

test('payouts: paid once per index, only by the authority, at the contract price, within escrow', async (t) => {
  const { tc, bidder, g } = await marketChain(t);
  const post = postContract(bidder, 0n, g, contractBody({ budget: 1_010_000n }));
  await mine(tc, { txs: [post], miner: MINER });
  const id = post.hash();
  const solver = keypair();
  const stranger = keypair();

  await mine(tc, {
    txs: [
      payout(solver, bidder, id, [{ start: 0, end: 1 }], 0n, g),
      payout(solver, bidder, id, [{ start: 1, end: 3 }], 1n, g),
    ],
    miner: MINER,
  });
  assert.deepEqual(getPaidRanges(tc.chain.state, id), [{ start: 0, end: 3 }]);
  // 3 MCUs at 1,000 Li; the two payouts' fees come out of escrow, not the Solver's pay.
  assert.equal(getAccount(tc.chain.state, solver.address).balance, 3_000n);
  assert.equal(getContract(tc.chain.state, id)!.escrow, 1_010_000n - 3_000n - 2_000n);

  await expectInvalid(tc, [payout(solver, bidder, id, [{ start: 2, end: 5 }], 2n, g)], 'RANGE_ALREADY_PAID');
  await expectInvalid(tc, [payout(solver, stranger, id, [{ start: 10, end: 11 }], 2n, g)], 'NOT_AUTHORITY');
  await expectInvalid(
    tc,
    [payout(solver, bidder, id, [{ start: 10, end: 11 }], 2n, g, { price: 1_001n })],
    'WRONG_PRICE',
  );
  await expectInvalid(tc, [payout(solver, bidder, id, [{ start: 10, end: 2_000 }], 2n, g)], 'ESCROW_EXHAUSTED');
  await expectInvalid(tc, [closeContract(stranger, id, 0n, g)], 'NOT_BIDDER');

  // An altered payout no longer carries the authority's signature.
  const good = payout(solver, bidder, id, [{ start: 10, end: 11 }], 2n, g);
  const other = payout(solver, bidder, id, [{ start: 20, end: 21 }], 2n, g);
  const body = {
    ...payoutRules.decode(other.payload, devnet),
    authoritySig: payoutRules.decode(good.payload, devnet).authoritySig,
  };
  const forged = Transaction.sign(
    { kind: other.kind, nonce: 2n, fee: 1_000n, cid: other.cid, payload: payoutRules.encode(body) },
    solver.priv,
    g,
  );
  await expectInvalid(tc, [forged], 'BAD_AUTHORITY_SIGNATURE');
  await mine(tc, { txs: [good], miner: MINER });
  await assertConserved(tc.chain);
});

test("a block's payout co-signatures are verified in one batch with every envelope signature", async (t) => {
  const { tc, bidder, g } = await marketChain(t);
  const post = postContract(bidder, 0n, g, contractBody({ budget: 1_100_000n }));
  await mine(tc, { txs: [post], miner: MINER });
  const id = post.hash();
  const solvers = Array.from({ length: 20 }, () => keypair());
  const payouts = solvers.map((s, i) => payout(s, bidder, id, [{ start: i, end: i + 1 }], 0n, g));
  // The 13th co-signature is another payout's: its envelope is fine, its co-signature is not.
  const at = 12;
  const body = payoutRules.decode(payouts[at]!.payload, devnet);
  const stolen = payoutRules.decode(payouts[at + 1]!.payload, devnet).authoritySig;
  payouts[at] = Transaction.sign(
    {
      kind: payouts[at]!.kind,
      nonce: 0n,
      fee: 1_000n,
      cid: payouts[at]!.cid,
      payload: payoutRules.encode({ ...body, authoritySig: stolen }),
    },
    solvers[at]!.priv,
    g,
  );
  const batches: number[] = [];
  const verifier = tc.chain.verifier;
  const begin = verifier.begin.bind(verifier);
  verifier.begin = (items, genesis) => {
    batches.push(items.length);
    return begin(items, genesis);
  };
  await assert.rejects(
    tc.chain.addBlock(nextBlock(tc, { txs: payouts, miner: MINER })),
    (e: Error & { code?: string; meta?: { txIndex?: number } }) => {
      assert.equal(e.code, 'BAD_AUTHORITY_SIGNATURE');
      assert.equal(e.meta?.txIndex, at);
      return true;
    },
  );
  assert.deepEqual(batches, [40], 'one batch: 20 envelopes and 20 co-signatures');
  payouts.splice(at, 1);
  await mine(tc, { txs: payouts, miner: MINER });
  assert.equal(getPaidRanges(tc.chain.state, id).length, 2);
  await assertConserved(tc.chain);
});

test('contracts whose code does not parse, lacks mcu/input, or whose budget is too small never enter a block', async (t) => {
  const { tc, bidder, g } = await marketChain(t);
  await expectInvalid(
    tc,
    [postContract(bidder, 0n, g, contractBody({ code: 'function mcu(x) { return x +; }' }))],
    'COMPILE_ERROR',
  );
  await expectInvalid(
    tc,
    [postContract(bidder, 0n, g, contractBody({ code: 'function mcu(x) { return x; }' }))],
    'MISSING_EXPORT',
  );
  await expectInvalid(tc, [postContract(bidder, 0n, g, contractBody({ budget: 999_999n }))], 'BUDGET_TOO_SMALL');
});

test('the sample rate is part of the contract: 1–1000 per mille, one encoding, kept in the record', async (t) => {
  const { tc, bidder, g } = await marketChain(t);
  const body = contractBody({ sampleRate: 37 });
  const bytes = contractRules.encode(body);
  assert.deepEqual(contractRules.decode(bytes, devnet), body);
  assert.equal(contractRules.toJSON(body, String).sampleRate, 37);
  for (const bad of [0, 1001, 65_535]) {
    assert.throws(() => contractRules.decode(contractRules.encode({ ...body, sampleRate: bad }), devnet), {
      code: 'BAD_VALUE',
      message: /sampleRate must be 1\.\.1000/,
    });
  }
  const post = postContract(bidder, 0n, g, body);
  await mine(tc, { txs: [post], miner: MINER });
  assert.equal(getContract(tc.chain.state, post.hash())!.sampleRate, 37);
});

test("a minimum-budget contract pays its first 1,000 MCUs in full, with its payouts' fees", async (t) => {
  const cases = [
    { price: 10n, growth: 2, maxBatch: 1_048_576, validation: 0, validationFee: 0n }, // the CLI's defaults
    { price: 3n, growth: 3, maxBatch: 50, validation: 0, validationFee: 0n },
    { price: 1n, growth: 1, maxBatch: 1, validation: 1, validationFee: 2n }, // 1,000 payouts of one MCU
  ];
  for (const terms of cases) {
    const { tc, bidder, g } = await marketChain(t);
    const budget = minimumBudget(terms, devnet.minFeePerByte);
    const post = postContract(bidder, 0n, g, contractBody({ ...terms, budget }));
    await mine(tc, { txs: [post], miner: MINER });
    await expectInvalid(
      tc,
      [postContract(bidder, 1n, g, contractBody({ ...terms, budget: budget - 1n }))],
      'BUDGET_TOO_SMALL',
    );
    const id = post.hash();
    const solver = keypair();
    // One Solver's leases: 1, g, g², … up to the maximum batch, each paid at the minimum relay fee.
    const txs: Transaction[] = [];
    for (
      let start = 0, size = FIRST_LEASE;
      start < 1000;
      start += size, size = nextLeaseSize(size, terms.growth, terms.maxBatch)
    ) {
      const ranges: Range[] = [{ start, end: Math.min(1000, start + size) }];
      const cid = new Uint8Array([1, 0x55, 0x12, 0x20, ...new Uint8Array(32).fill(txs.length & 0xff)]);
      const fee = payoutFee(devnet.minFeePerByte, { ranges, cid });
      const tx = payout(solver, bidder, id, ranges, BigInt(txs.length), g, { price: terms.price, cid, fee });
      assert.equal(fee, devnet.minFeePerByte * BigInt(tx.size), 'payoutFee is the relay minimum of the real payout');
      txs.push(tx);
    }
    await mine(tc, { txs, miner: MINER });
    const c = getContract(tc.chain.state, id)!;
    assert.equal(
      c.paidMcus,
      1000n,
      JSON.stringify(terms, (_, v) => (typeof v === 'bigint' ? `${v}` : v)),
    );
    assert.equal(getAccount(tc.chain.state, solver.address).balance, 1000n * terms.price);
    // No Validator is staked on this chain: a delegated contract runs
    // Bidder-validated, its validation fees are never charged and stay in escrow.
    assert.equal(c.heldFees, 0n);
    assert.equal(c.escrow, 1000n * terms.validationFee, 'the minimum is exactly enough');
    await assertConserved(tc.chain);
  }
});

test("the market's mempool policy compiles contract code in the sandbox and returns the error with its line", async (t) => {
  const { tc, bidder, g } = await marketChain(t);
  const mempool = new Mempool(tc.chain);
  // Consensus alone never runs code: a contract that throws at top level is valid in a block.
  const throwsInBlock = postContract(
    bidder,
    0n,
    g,
    contractBody({ code: 'function input(i) { return i; }\nfunction mcu(x) { return x; }\nnull.boom;\n' }),
  );
  await assert.doesNotReject(new Mempool(tc.chain).accept(throwsInBlock));
  // The node's market service registers the policy that does.
  const market = await startMarket({ chain: tc.chain, mempool, logger: quietLogger });
  t.after(() => market.stop());
  for (const [kind, policy] of market.policies) mempool.addPolicy(kind, policy);
  const throwsAtTop = postContract(
    bidder,
    0n,
    g,
    contractBody({ code: 'function input(i) { return i; }\nfunction mcu(x) { return x; }\nnull.boom;\n' }),
  );
  await assert.rejects(mempool.accept(throwsAtTop), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'THROWN');
    assert.match(e.message, /line 3|:3/);
    return true;
  });
  const syntax = postContract(bidder, 0n, g, contractBody({ code: 'function input(i) {\n  return i +;\n}' }));
  await assert.rejects(mempool.accept(syntax), (e: Error & { code?: string; meta?: { line?: number } }) => {
    assert.equal(e.code, 'COMPILE_ERROR');
    assert.equal(e.meta?.line, 2);
    return true;
  });
  assert.equal(mempool.count, 0);
  await mempool.accept(postContract(bidder, 0n, g));
  assert.equal(mempool.count, 1);
});

test('reorgs undo and redo contracts and payouts exactly', async (t) => {
  const { tc, bidder, g } = await marketChain(t);
  const post = postContract(bidder, 0n, g);
  await mine(tc, { txs: [post], miner: MINER });
  const fork = tc.chain.tip;
  const id = post.hash();
  const solver = keypair();
  // Branch A: two payouts and a close.
  const a1 = nextBlock(tc, { txs: [payout(solver, bidder, id, [{ start: 0, end: 4 }], 0n, g)], miner: MINER });
  await tc.chain.addBlock(a1);
  const a2 = nextBlock(tc, { txs: [closeContract(bidder, id, 1n, g)], miner: MINER });
  await tc.chain.addBlock(a2);
  const stateA = await snapshot(tc.chain);

  // Branch B from the fork, longer, with a different payout; it takes over.
  const other = await copyChain(t, tc, fork.height, { rules: nodeRules({ guardWrites: true }) });
  const b: Awaited<ReturnType<typeof mine>>[] = [];
  b.push(await mine(other, { txs: [payout(solver, bidder, id, [{ start: 100, end: 101 }], 0n, g)], miner: MINER }));
  b.push(await mine(other, { miner: MINER }));
  b.push(await mine(other, { miner: MINER }));
  for (const blk of b) await tc.chain.addBlock(blk);
  assert.equal(toHex(tc.chain.tip.hash), toHex(b[2]!.hash()));
  assert.deepEqual(await snapshot(tc.chain), await snapshot(other.chain));
  assert.deepEqual(getPaidRanges(tc.chain.state, id), [{ start: 100, end: 101 }]);
  assert.equal(tc.chain.tip.openProblems, 1);
  await assertConserved(tc.chain);

  // And back: A grows longer again and its state returns exactly.
  const aBack = await copyChain(t, tc, fork.height, { rules: nodeRules({ guardWrites: true }) });
  await aBack.chain.addBlock(a1);
  await aBack.chain.addBlock(a2);
  assert.deepEqual(await snapshot(aBack.chain), stateA);
  const ext = [await mine(aBack, { miner: MINER }), await mine(aBack, { miner: MINER })];
  for (const blk of ext) await tc.chain.addBlock(blk);
  assert.deepEqual(await snapshot(tc.chain), await snapshot(aBack.chain));
  assert.equal(getContract(tc.chain.state, id)!.status, STATUS_CLOSED);
  assert.equal(tc.chain.tip.openProblems, 0);
});

async function snapshot(chain: Chain): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const [k, v] of chain.store.stateEntries()) out.set(toHex(k), toHex(v));
  return out;
}
