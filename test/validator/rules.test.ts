import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getAccount } from '../../src/chain/accounts.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { sha256 } from '../../src/chain/hash.ts';
import { Mempool } from '../../src/chain/mempool.ts';
import { LI_PER_ZI } from '../../src/chain/params.ts';
import type { Transaction } from '../../src/chain/transaction.ts';
import type { BlockContext } from '../../src/chain/tx-rules.ts';
import { getContract, VALIDATION_DELEGATED } from '../../src/market/contract-state.ts';
import { nodeRules } from '../../src/node/rules.ts';
import { assignmentKey, assignmentsPerBlock, chooseValidator } from '../../src/validator/assignment.ts';
import { stakeRequirement, type ValidatorPort, validatorConsensus } from '../../src/validator/rules.ts';
import { addValidator, getReservation, getStake, listValidators, putStake } from '../../src/validator/state.ts';
import {
  copyChain,
  devnet,
  type Keypair,
  keypair,
  mine,
  nextBlock,
  openChain,
  type TestChain,
} from '../support/chain.ts';
import { closeContract, contractBody, payout, postContract, topup } from '../support/market.ts';
import { memoryState } from '../support/memory-state.ts';
import { activeAddress, stake, unstake } from '../support/validator.ts';

const M = devnet.stakeUnit;
const DELEGATED = { validation: VALIDATION_DELEGATED, validationFee: 10n, budget: 2_000_000n };

async function validatorChain(t: Parameters<typeof openChain>[0]) {
  const tc = await openChain(t, { rules: nodeRules({ guardWrites: true }) });
  return { tc, g: tc.chain.genesisHash };
}

async function expectInvalid(tc: TestChain, txs: Transaction[], code: string) {
  const height = tc.chain.height;
  await assert.rejects(tc.chain.addBlock(nextBlock(tc, { txs })), { code });
  assert.equal(tc.chain.height, height);
}

/** A Validator staked with `amount`, matured by the time this returns. */
async function staked(tc: TestChain, amount: bigint): Promise<{ key: Keypair; nonce: bigint }> {
  const key = keypair();
  let nonce = await activeAddress(tc, key);
  await mine(tc, { txs: [stake(key, amount, nonce++, tc.chain.genesisHash)] });
  for (let i = 0; i < devnet.stakeMaturity; i++) await mine(tc);
  return { key, nonce };
}

test('a stake needs an active address and at least R; it is held in the stake record, later stakes add to it', async (t) => {
  const { tc, g } = await validatorChain(t);
  const v = keypair();
  await mine(tc, { miner: v.address });
  await expectInvalid(tc, [stake(v, M, 0n, g)], 'NOT_ACTIVE');
  const w = keypair();
  let n = await activeAddress(tc, w);
  await expectInvalid(tc, [stake(w, M - 1n, n, g)], 'STAKE_TOO_SMALL');
  const before = getAccount(tc.chain.state, w.address).balance;
  const block = await mine(tc, { txs: [stake(w, M, n++, g)] });
  const s = getStake(tc.chain.state, w.address)!;
  assert.equal(s.amount, M);
  assert.equal(toHex(s.txid), toHex(block.txs[0]!.hash()));
  assert.equal(s.height, tc.chain.height);
  assert.equal(getAccount(tc.chain.state, w.address).balance, before - M - 1_000n);
  // A later stake of any size adds to the record; its first txid and height stay.
  await mine(tc, { txs: [stake(w, 5n, n++, g)] });
  assert.equal(getStake(tc.chain.state, w.address)!.amount, M + 5n);
  assert.equal(getStake(tc.chain.state, w.address)!.height, s.height);
  assert.deepEqual(listValidators(tc.chain.state).map(toHex), [toHex(w.address)]);
});

test('R grows with the delegated contracts opened in the window', async (t) => {
  const { tc, g } = await validatorChain(t);
  const bidder = keypair();
  await mine(tc, { miner: bidder.address });
  assert.equal(stakeRequirement(tc.chain.state, tc.chain.tip.header.timestamp, devnet), M);
  await mine(tc, {
    txs: [0n, 1n, 2n].map((n) => postContract(bidder, n, g, contractBody(DELEGATED))),
  });
  assert.equal(stakeRequirement(tc.chain.state, tc.chain.tip.header.timestamp, devnet), 3n * M);
  // Bidder-validated contracts do not count.
  await mine(tc, { txs: [postContract(bidder, 3n, g)] });
  assert.equal(stakeRequirement(tc.chain.state, tc.chain.tip.header.timestamp, devnet), 3n * M);
  const v = keypair();
  const n = await activeAddress(tc, v);
  await expectInvalid(tc, [stake(v, 2n * M, n, g)], 'STAKE_TOO_SMALL');
  await mine(tc, { txs: [stake(v, 3n * M, n, g)] });
  // Thirty days later the window holds none of them.
  const later = stakeRequirement(tc.chain.state, tc.chain.tip.header.timestamp + 31 * 86_400_000, devnet);
  assert.equal(later, M);
});

test('assignment: the matured Validator with the highest fit takes a delegated contract, its budget reserved', async (t) => {
  const { tc, g } = await validatorChain(t);
  const vs = [await staked(tc, 5n * LI_PER_ZI), await staked(tc, 5n * LI_PER_ZI), await staked(tc, 5n * LI_PER_ZI)];
  const young = keypair(); // staked last: not matured when the contract comes
  const yn = await activeAddress(tc, young);
  const bidder = keypair();
  await mine(tc, { miner: bidder.address, txs: [stake(young, 40n * LI_PER_ZI, yn, g)] });
  const post = postContract(bidder, 0n, g, contractBody(DELEGATED));
  const block = await mine(tc, { txs: [post] });
  const id = post.hash();
  const c = getContract(tc.chain.state, id)!;
  // The same choice, from the vectors' function, over the matured three.
  const candidates = vs.map((v) => ({ address: v.key.address, stake: getStake(tc.chain.state, v.key.address)! }));
  const key = assignmentKey(block.hash(), id);
  const expected = chooseValidator(
    candidates.map((x) => ({ ...x, stake: { ...x.stake, reserved: 0n } })),
    key,
    c.escrow,
    block.header.height,
    devnet,
  )!;
  assert.equal(toHex(c.validator), toHex(expected.address));
  assert.deepEqual(getReservation(tc.chain.state, id), { validator: expected.address, amount: DELEGATED.budget });
  const s = getStake(tc.chain.state, expected.address)!;
  assert.equal(s.reserved, DELEGATED.budget);
  assert.equal(s.contracts, 1);
  assert.equal(getStake(tc.chain.state, young.address)!.reserved, 0n, 'the immature stake took no part');
});

test('no eligible Validator: the contract runs Bidder-validated and no validation fee is held', async (t) => {
  const { tc, g } = await validatorChain(t);
  const small = await staked(tc, M); // 1 Zi cannot cover a 2 Zi budget
  const bidder = keypair();
  await mine(tc, { miner: bidder.address });
  const post = postContract(bidder, 0n, g, contractBody({ ...DELEGATED, budget: 2n * LI_PER_ZI }));
  await mine(tc, { txs: [post] });
  const id = post.hash();
  assert.equal(toHex(getContract(tc.chain.state, id)!.validator), toHex(new Uint8Array(20)));
  assert.equal(getStake(tc.chain.state, small.key.address)!.reserved, 0n);
  const solver = keypair();
  await mine(tc, { txs: [payout(solver, bidder, id, [{ start: 0, end: 10 }], 0n, g)] });
  assert.equal(getContract(tc.chain.state, id)!.heldFees, 0n);
});

test('signing, topups and unstake: the Validator and the Bidder may sign; topups stay within the free stake; a reserved stake is locked', async (t) => {
  const { tc, g } = await validatorChain(t);
  const v = await staked(tc, 3n * LI_PER_ZI);
  const bidder = keypair();
  await mine(tc, { miner: bidder.address });
  await mine(tc, { miner: bidder.address });
  const post = postContract(bidder, 0n, g, contractBody({ ...DELEGATED, budget: 2n * LI_PER_ZI }));
  await mine(tc, { txs: [post] });
  const id = post.hash();
  assert.equal(toHex(getContract(tc.chain.state, id)!.validator), toHex(v.key.address));

  const [s1, s2] = [keypair(), keypair()];
  const stranger = keypair();
  await expectInvalid(tc, [payout(s1, stranger, id, [{ start: 0, end: 1 }], 0n, g)], 'NOT_AUTHORITY');
  await mine(tc, {
    txs: [
      payout(s1, v.key, id, [{ start: 0, end: 10 }], 0n, g),
      payout(s2, bidder, id, [{ start: 10, end: 20 }], 0n, g),
    ],
  });
  const c = getContract(tc.chain.state, id)!;
  assert.equal(c.heldFees, 20n * DELEGATED.validationFee, 'validation fees are held in escrow');
  assert.equal(c.validatorPayouts, 1);

  // 1 Zi free: a topup of 1 Zi fits, one more Li does not.
  await expectInvalid(tc, [topup(bidder, id, LI_PER_ZI + 1n, 1n, g)], 'STAKE_EXCEEDED');
  await mine(tc, { txs: [topup(bidder, id, LI_PER_ZI, 1n, g)] });
  assert.equal(getStake(tc.chain.state, v.key.address)!.reserved, 3n * LI_PER_ZI);
  await expectInvalid(tc, [unstake(v.key, v.nonce, g)], 'STAKE_LOCKED');
});

test('a delegated contract closed with nothing its Validator signed releases the reservation, and the stake comes back whole', async (t) => {
  const { tc, g } = await validatorChain(t);
  const v = await staked(tc, 3n * LI_PER_ZI);
  const bidder = keypair();
  await mine(tc, { miner: bidder.address });
  const post = postContract(bidder, 0n, g, contractBody(DELEGATED));
  await mine(tc, { txs: [post] });
  assert.equal(getStake(tc.chain.state, v.key.address)!.reserved, DELEGATED.budget);
  await mine(tc, { txs: [closeContract(bidder, post.hash(), 1n, g)] });
  assert.equal(getStake(tc.chain.state, v.key.address)!.reserved, 0n);
  assert.equal(getReservation(tc.chain.state, post.hash()), undefined);
  const before = getAccount(tc.chain.state, v.key.address).balance;
  await mine(tc, { txs: [unstake(v.key, v.nonce, g)] });
  assert.equal(getStake(tc.chain.state, v.key.address), undefined);
  assert.deepEqual(listValidators(tc.chain.state), []);
  assert.equal(getAccount(tc.chain.state, v.key.address).balance, before + 3n * LI_PER_ZI - 1_000n);
  await expectInvalid(tc, [unstake(v.key, v.nonce + 1n, g)], 'NO_STAKE');
});

test('a reorg across the contract block re-assigns by the new block hash and leaves nothing of the old assignment', async (t) => {
  const { tc, g } = await validatorChain(t);
  const vs = [await staked(tc, 5n * LI_PER_ZI), await staked(tc, 5n * LI_PER_ZI), await staked(tc, 5n * LI_PER_ZI)];
  const bidder = keypair();
  await mine(tc, { miner: bidder.address });
  const fork = tc.chain.height;
  const post = postContract(bidder, 0n, g, contractBody(DELEGATED));
  const id = post.hash();

  // The other branch: the same contract one block later, under another hash.
  const other = await copyChain(t, tc, fork, { rules: nodeRules({ guardWrites: true }) });
  await mine(tc, { txs: [post] });
  const firstChoice = toHex(getContract(tc.chain.state, id)!.validator);
  const branch = [await mine(other), await mine(other, { txs: [post] })];
  for (const b of branch) await tc.chain.addBlock(b);
  assert.equal(toHex(tc.chain.tip.hash), toHex(branch[1]!.hash()));

  const stakes = vs.map((v) => ({ address: v.key.address, stake: { ...getStake(tc.chain.state, v.key.address)! } }));
  for (const s of stakes)
    if (toHex(s.address) === toHex(getContract(tc.chain.state, id)!.validator)) s.stake.reserved = 0n;
  const expected = chooseValidator(stakes, assignmentKey(branch[1]!.hash(), id), DELEGATED.budget, fork + 2, devnet)!;
  assert.equal(toHex(getContract(tc.chain.state, id)!.validator), toHex(expected.address));
  const dump = async (c: TestChain) => {
    const out: string[] = [];
    for await (const [k, v] of c.chain.store.stateEntries()) out.push(`${toHex(k)}=${toHex(v)}`);
    return out;
  };
  assert.deepEqual(await dump(tc), await dump(other), 'the state is exactly the other branch’s');
  t.diagnostic(`first branch chose ${firstChoice.slice(0, 8)}, the heavier one ${toHex(expected.address).slice(0, 8)}`);
});

/** `n` matured Validators of 1,000 Zi each, straight into a state: the scale tests' starting point. */
function manyValidators(n: number) {
  const mem = memoryState();
  const port = validatorConsensus.ports!((s) => s).validator as ValidatorPort;
  const addresses: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const a = sha256(new Uint8Array(new Uint32Array([i]).buffer)).subarray(0, 20);
    putStake(mem.state, a, {
      amount: 1000n * LI_PER_ZI,
      reserved: 0n,
      txid: sha256(a),
      height: 1,
      position: i,
      contracts: 0,
      flags: 0,
    });
    addValidator(mem.state, a);
    addresses.push(a);
  }
  const ctx = (height: number, i: number) =>
    ({
      params: devnet,
      height,
      timestamp: devnet.genesisTimestamp + height * 1000,
      position: i,
      hash: sha256(new Uint8Array([height, i])),
    }) as BlockContext;
  return { ...mem, port, addresses, ctx };
}

test('a block opens at most assignmentChecksPerBlock ÷ Validators delegated contracts: templates leave the rest for the next block, a block with more is invalid', async (t) => {
  // Two Validators and room for four fits: two delegated contracts a block.
  const params = { ...devnet, assignmentChecksPerBlock: 4 };
  const tc = await openChain(t, { rules: nodeRules({ guardWrites: true }), params });
  const g = tc.chain.genesisHash;
  await staked(tc, 5n * LI_PER_ZI);
  await staked(tc, 5n * LI_PER_ZI);
  assert.equal(assignmentsPerBlock(2, params), 2);
  const bidders = [keypair(), keypair(), keypair()];
  for (const b of bidders) await mine(tc, { miner: b.address });
  const posts = bidders.map((b) => postContract(b, 0n, g, contractBody(DELEGATED)));
  await expectInvalid(tc, posts, 'ASSIGNMENTS_FULL');
  // Nor may a new Validator join a block whose delegated contracts already weigh every Validator.
  const late = keypair();
  const n = await activeAddress(tc, late);
  await expectInvalid(tc, [posts[0]!, posts[1]!, stake(late, 5n * LI_PER_ZI, n, g)], 'ASSIGNMENTS_FULL');
  await expectInvalid(tc, [stake(late, 5n * LI_PER_ZI, n, g), posts[0]!, posts[1]!], 'ASSIGNMENTS_FULL');

  const mempool = new Mempool(tc.chain);
  tc.chain.on('tip', (c) => mempool.onTip(c));
  for (const p of posts) mempool.add(p);
  // One sender's third in the same block is refused at once, with what to do.
  mempool.add(postContract(bidders[0]!, 1n, g, contractBody(DELEGATED)));
  assert.throws(() => mempool.add(postContract(bidders[0]!, 2n, g, contractBody(DELEGATED))), {
    code: 'ASSIGNMENTS_FULL',
    message: /post it again after the next block/,
  });
  const first = await mine(tc, { mempool });
  assert.equal(first.txs.length, 2, 'the template took two of the four');
  const second = await mine(tc, { mempool });
  assert.equal(second.txs.length, 2);
  assert.equal(mempool.count, 0);
  for (const tx of [...first.txs, ...second.txs]) {
    assert.notEqual(toHex(getContract(tc.chain.state, tx.hash())!.validator), toHex(new Uint8Array(20)));
  }
  // However many Validators there are, a block opens at least one.
  assert.equal(assignmentsPerBlock(10 * devnet.assignmentChecksPerBlock, devnet), 1);
});

test("a Validator's reservations and the Validator set change by a page each, however many they hold", () => {
  const v = manyValidators(5_000);
  const ids = Array.from({ length: 3_000 }, (_, i) => sha256(new Uint8Array(new Uint32Array([i, 7]).buffer)));
  // One Validator only, so every contract lands with it.
  const one = manyValidators(1);
  for (const [i, id] of ids.entries()) one.port.assign(one.state, id, 1n, one.ctx(100 + Math.floor(i / 1000), i));
  assert.equal(one.port.reservedFor(one.state, one.addresses[0]!).length, 3_000);
  let before = one.written();
  one.port.release(one.state, ids[17]!);
  // As one record, each release rewrote the whole list (96 KB here).
  assert.ok(one.written() - before < 8_192, `a release wrote ${one.written() - before} bytes`);
  assert.equal(one.port.reservedFor(one.state, one.addresses[0]!).length, 2_999);
  // A forfeit releases each of them: linear, not quadratic, in what it held
  before = one.written();
  one.port.forfeit(one.state, one.addresses[0]!);
  // (as one record: 144 MB for these 3,000; a page each is at most 4 KB).
  assert.ok(one.written() - before < 3_000 * 4_400, `a forfeit wrote ${one.written() - before} bytes`);
  assert.deepEqual(one.port.reservedFor(one.state, one.addresses[0]!), []);
  assert.deepEqual(listValidators(one.state), []);

  before = v.written();
  v.port.forfeit(v.state, v.addresses[4_321]!);
  assert.ok(v.written() - before < 8_192, `leaving a set of 5,000 wrote ${v.written() - before} bytes`);
  assert.equal(listValidators(v.state).length, 4_999);
  assert.ok(!listValidators(v.state).some((a) => toHex(a) === toHex(v.addresses[4_321]!)));
});
