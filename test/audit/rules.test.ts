import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditOutcome, type Move } from '../../src/audit/moves.ts';
import { appealRules, auditConsensus, VOTE_FEE_MCUS } from '../../src/audit/rules.ts';
import {
  addPending,
  fundBalance,
  getAudit,
  INVALID,
  mintedByAudits,
  pendingAudits,
  pendingVerdict,
  putAudit,
  queueWindow,
  STATUS_APPEALING,
  STATUS_FINAL,
  STATUS_INVALID,
  STATUS_OPEN,
  VALID,
} from '../../src/audit/state.ts';
import { encodeVote } from '../../src/audit/votes.ts';
import { getAccount } from '../../src/chain/accounts.ts';
import type { Address } from '../../src/chain/address.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { sha256 } from '../../src/chain/hash.ts';
import { LI_PER_ZI } from '../../src/chain/params.ts';
import { Transaction, TX_KINDS } from '../../src/chain/transaction.ts';
import type { BlockContext } from '../../src/chain/tx-rules.ts';
import { getContract } from '../../src/market/contract-state.ts';
import { buildTemplate } from '../../src/miner/template.ts';
import { nodeRules } from '../../src/node/rules.ts';
import { FLAG_BANNED, getStake } from '../../src/validator/state.ts';
import { copyChain, devnet, type Keypair, keypair, mine, nextBlock, solve, type TestChain } from '../support/chain.ts';
import { closeContract, payout } from '../support/market.ts';
import { memoryState } from '../support/memory-state.ts';
import { assertSupply } from '../support/supply.ts';
import { unstake } from '../support/validator.ts';
import { audited, FEE, HELD, MCUS } from './fixture.ts';

const DAY = 86_400_000;

const vote = (contract: Uint8Array, round: number, verdict: number) => encodeVote({ contract, round, verdict });

async function voteWith(tc: TestChain, miner: Keypair, v: Uint8Array) {
  return mine(tc, { miner: miner.address, votes: [v] });
}

async function expectInvalid(tc: TestChain, opts: Parameters<typeof nextBlock>[1], code: string) {
  const height = tc.chain.height;
  await assert.rejects(tc.chain.addBlock(nextBlock(tc, opts)), { code });
  assert.equal(tc.chain.height, height);
}

async function mineAt(tc: TestChain, timestamp: number, txs: Transaction[] = []) {
  tc.clock.now = Math.max(tc.clock.now, timestamp);
  await tc.chain.addBlock(solve(buildTemplate(tc.chain, undefined, new Uint8Array(20).fill(9), timestamp, txs)));
  await assertSupply(tc.chain);
}

const fee = (li: bigint, to: Address, what: Move['what'] = 'vote fee'): Move => ({
  what,
  li,
  to,
  minted: what === 'vote fee',
});
const moves = (what: Move['what'], li: bigint, to: Address | 'fund'): Move => ({ what, li, to, minted: false });

/** What getaudit reports as moved, told from the record, is what the test saw move. */
function assertMoved(tc: TestChain, id: Uint8Array, expected: Move[]) {
  const key = (m: Move) => `${m.what} ${m.li} ${m.to === 'fund' ? 'fund' : toHex(m.to)} ${m.minted}`;
  const { moved } = auditOutcome(getAudit(tc.chain.state, id)!);
  assert.deepEqual(moved.map(key).sort(), expected.map(key).sort());
}

function appeal(v: Keypair, contract: Uint8Array, nonce: bigint, g: Uint8Array, maxPayment = 100n * LI_PER_ZI) {
  return Transaction.sign(
    { kind: TX_KINDS.appeal, nonce, fee: 1_000n, payload: appealRules.encode({ contract, maxPayment }) },
    v.priv,
    g,
  );
}

test('an honest Validator: three Valid votes pay it the held fees, release its reservation, and mint each voter its share', async (t) => {
  const { tc, v, id } = await audited(t);
  const miners = [keypair(), keypair(), keypair()];
  const before = getAccount(tc.chain.state, v.address).balance;
  await voteWith(tc, miners[0]!, vote(id, 1, VALID));
  await expectInvalid(tc, { miner: miners[0]!.address, votes: [vote(id, 1, VALID)] }, 'ALREADY_VOTED');
  await expectInvalid(tc, { miner: miners[1]!.address, votes: [vote(id, 2, VALID)] }, 'WRONG_ROUND');
  await expectInvalid(
    tc,
    { miner: miners[1]!.address, votes: [vote(new Uint8Array(32), 1, VALID)] },
    'NOT_UNDER_AUDIT',
  );
  await expectInvalid(
    tc,
    { miner: miners[1]!.address, votes: [vote(id, 1, VALID), vote(id, 1, INVALID)] },
    'DUPLICATE_VOTE',
  );
  await voteWith(tc, miners[1]!, vote(id, 1, VALID));
  await voteWith(tc, miners[2]!, vote(id, 1, VALID));
  const a = getAudit(tc.chain.state, id)!;
  assert.equal(a.status, STATUS_FINAL);
  assert.equal(a.verdict, VALID);
  assert.equal(getAccount(tc.chain.state, v.address).balance, before + HELD, 'the held fees go to the Validator');
  assert.equal(getContract(tc.chain.state, id)!.heldFees, 0n);
  const each = HELD / 3n < VOTE_FEE_MCUS * FEE ? HELD / 3n : VOTE_FEE_MCUS * FEE;
  for (const m of miners) assert.equal(getAccount(tc.chain.state, m.address).balance, devnet.subsidy + each);
  assert.equal(mintedByAudits(tc.chain.state), 3n * each);
  assert.ok(mintedByAudits(tc.chain.state) <= HELD, 'an audit never mints more than the fees its contract paid');
  assert.equal(getStake(tc.chain.state, v.address)!.contracts, 1, 'only the other contract is still reserved');
  assertMoved(tc, id, [...miners.map((m) => fee(each, m.address)), moves('held fees', HELD, v.address)]);
  assert.deepEqual(auditOutcome(a).held, []);
  await expectInvalid(tc, { miner: keypair().address, votes: [vote(id, 1, VALID)] }, 'AUDIT_CLOSED');
});

test('a lying Validator: banned at once, its other contract falls back to the Bidder, and after the window its stake is in the fund', async (t) => {
  const { tc, v, bidder, id, other } = await audited(t);
  const miners = [keypair(), keypair(), keypair()];
  const bidderBefore = getAccount(tc.chain.state, bidder.address).balance;
  for (const m of miners) await voteWith(tc, m, vote(id, 1, INVALID));
  const a = getAudit(tc.chain.state, id)!;
  assert.equal(a.status, STATUS_INVALID);
  const each = HELD / 3n;
  assertMoved(
    tc,
    id,
    miners.map((m) => fee(each, m.address)),
  );
  assert.deepEqual(auditOutcome(a).held, [{ what: 'held fees', li: HELD }, { what: 'stake' }]);
  const s = getStake(tc.chain.state, v.address)!;
  assert.ok(s.flags & FLAG_BANNED, 'banned at once');
  assert.equal(
    toHex(getContract(tc.chain.state, other)!.validator),
    toHex(new Uint8Array(20)),
    'the other contract falls back',
  );
  assert.equal(s.contracts, 1, "only the audited contract's reservation stays");
  await expectInvalid(tc, { txs: [unstake(v, v.nonce, tc.chain.genesisHash)] }, 'STAKE_LOCKED');
  // The window closes: stake to the fund, fees to the Bidder.
  await mineAt(tc, a.verdictTime + devnet.appealWindowMs);
  assert.equal(getAudit(tc.chain.state, id)!.status, STATUS_FINAL);
  assert.equal(fundBalance(tc.chain.state), 10n * LI_PER_ZI);
  assert.equal(getStake(tc.chain.state, v.address), undefined);
  assert.equal(getAccount(tc.chain.state, bidder.address).balance, bidderBefore + HELD);
  assertMoved(tc, id, [
    ...miners.map((m) => fee(each, m.address)),
    moves('held fees', HELD, bidder.address),
    moves('stake', 10n * LI_PER_ZI, 'fund'),
  ]);
  // Once the window has closed, an appeal is refused for that reason, whether or not a block has settled it.
  await expectInvalid(tc, { txs: [appeal(v, id, v.nonce, tc.chain.genesisHash)] }, 'APPEAL_WINDOW_CLOSED');
});

test('a split first round goes to nine fresh votes; the majority decides, and only the deciding votes on its side are paid', async (t) => {
  const { tc, v, id } = await audited(t);
  const liar = keypair();
  const honest = [keypair(), keypair()];
  await voteWith(tc, honest[0]!, vote(id, 1, VALID));
  await voteWith(tc, liar, vote(id, 1, INVALID));
  await voteWith(tc, honest[1]!, vote(id, 1, VALID));
  assert.equal(getAudit(tc.chain.state, id)!.round, 2);
  await expectInvalid(tc, { miner: liar.address, votes: [vote(id, 2, INVALID)] }, 'ALREADY_VOTED');
  const round2 = Array.from({ length: 9 }, () => keypair());
  for (const [i, m] of round2.entries()) await voteWith(tc, m, vote(id, 2, i < 6 ? VALID : INVALID));
  const a = getAudit(tc.chain.state, id)!;
  assert.equal(a.verdict, VALID);
  const each = HELD / 9n;
  for (const [i, m] of round2.entries()) {
    assert.equal(getAccount(tc.chain.state, m.address).balance, devnet.subsidy + (i < 6 ? each : 0n));
  }
  assert.equal(
    getAccount(tc.chain.state, liar.address).balance,
    devnet.subsidy,
    "the lying miner's vote earns nothing",
  );
  for (const m of honest) assert.equal(getAccount(tc.chain.state, m.address).balance, devnet.subsidy, 'nor round 1');
  assert.equal(mintedByAudits(tc.chain.state), 6n * each);
  assert.equal(getStake(tc.chain.state, v.address)!.flags & FLAG_BANNED, 0);
  assertMoved(tc, id, [...round2.slice(0, 6).map((m) => fee(each, m.address)), moves('held fees', HELD, v.address)]);
  assert.deepEqual(auditOutcome(a).paid, [0n, 0n, 0n, ...round2.map((_, i) => (i < 6 ? each : 0n))]);
});

test('appeals: won restores the stake and returns the rest of the payment; lost sends both to the fund; late or foreign ones are refused', async (t) => {
  for (const won of [true, false]) {
    const { tc, v, bidder, id } = await audited(t);
    const g = tc.chain.genesisHash;
    for (const m of [keypair(), keypair(), keypair()]) await voteWith(tc, m, vote(id, 1, INVALID));
    await expectInvalid(tc, { txs: [appeal(bidder, id, 3n, g)] }, 'NOT_VALIDATOR');
    await expectInvalid(tc, { txs: [appeal(v, id, v.nonce, g, 1n)] }, 'APPEAL_UNDERPAID');
    const before = getAccount(tc.chain.state, v.address).balance;
    const bidderBefore = getAccount(tc.chain.state, bidder.address).balance;
    const round1 = getAudit(tc.chain.state, id)!.votes.map((x) => x.voter);
    await mine(tc, { txs: [appeal(v, id, v.nonce, g)] });
    const a = getAudit(tc.chain.state, id)!;
    assert.equal(a.status, STATUS_APPEALING);
    const price = a.appealPayment;
    assert.ok(price >= devnet.stakeUnit);
    assert.deepEqual(auditOutcome(a).held, [
      { what: 'held fees', li: HELD },
      { what: 'stake' },
      { what: 'appeal payment', li: price },
    ]);
    const voters = Array.from({ length: 9 }, () => keypair());
    // Five of nine decide: the first five vote Valid when the appeal is won, Invalid when it is lost.
    const winning = (i: number) => i < 5;
    for (const [i, m] of voters.entries()) await voteWith(tc, m, vote(id, 3, winning(i) === won ? VALID : INVALID));
    const each = price / 9n < VOTE_FEE_MCUS * FEE ? price / 9n : VOTE_FEE_MCUS * FEE;
    const paid = each * 5n;
    const final = getAudit(tc.chain.state, id)!;
    assert.equal(final.status, STATUS_FINAL);
    assert.equal(final.appealPayment, price, 'the record keeps what the appeal paid');
    for (const [i, m] of voters.entries()) {
      const earned = getAccount(tc.chain.state, m.address).balance - devnet.subsidy;
      assert.equal(earned, winning(i) ? each : 0n, 'only the deciding side is paid, out of the payment');
    }
    const round1Fees = round1.map((m) => fee(HELD / 3n, m));
    const appealFees = voters.slice(0, 5).map((m) => fee(each, m.address, 'appeal vote fee'));
    if (won) {
      const s = getStake(tc.chain.state, v.address)!;
      assert.equal(s.flags & FLAG_BANNED, 0, 'the ban is lifted');
      assert.equal(s.amount, 10n * LI_PER_ZI, 'the stake is whole');
      assert.equal(s.contracts, 0, "the audited contract's reservation is released (the other fell back at the ban)");
      assert.equal(s.reserved, 0n);
      assert.equal(getAccount(tc.chain.state, v.address).balance, before - 1_000n - price + (price - paid) + HELD);
      assert.equal(getAccount(tc.chain.state, bidder.address).balance, bidderBefore);
      assert.equal(fundBalance(tc.chain.state), 0n);
      assertMoved(tc, id, [
        ...round1Fees,
        ...appealFees,
        moves('held fees', HELD, v.address),
        moves('appeal payment', price - paid, v.address),
      ]);
    } else {
      assert.equal(getStake(tc.chain.state, v.address), undefined);
      assert.equal(getAccount(tc.chain.state, v.address).balance, before - 1_000n - price);
      assert.equal(
        getAccount(tc.chain.state, bidder.address).balance,
        bidderBefore + HELD,
        'the fees go to the Bidder',
      );
      assert.equal(fundBalance(tc.chain.state), 10n * LI_PER_ZI + price - paid);
      assertMoved(tc, id, [
        ...round1Fees,
        ...appealFees,
        moves('held fees', HELD, bidder.address),
        moves('stake', 10n * LI_PER_ZI, 'fund'),
        moves('appeal payment', price - paid, 'fund'),
      ]);
    }
    await expectInvalid(tc, { txs: [appeal(v, id, v.nonce + 1n, g)] }, 'NOT_APPEALABLE');
    assert.equal(
      mintedByAudits(tc.chain.state),
      3n * (HELD / 3n),
      'appeal voters are paid from the payment: only round 1 minted',
    );
  }
  const { tc, v, id } = await audited(t);
  for (const m of [keypair(), keypair(), keypair()]) await voteWith(tc, m, vote(id, 1, INVALID));
  const a = getAudit(tc.chain.state, id)!;
  const late = solve(
    buildTemplate(tc.chain, undefined, new Uint8Array(20).fill(9), a.verdictTime + 31 * DAY, [
      appeal(v, id, v.nonce, tc.chain.genesisHash),
    ]),
  );
  tc.clock.now = late.header.timestamp;
  await assert.rejects(tc.chain.addBlock(late), { code: 'APPEAL_WINDOW_CLOSED' });
});

test('a reorg that removes the verdict block brings the audit back to its open round; the same votes again give the same effects', async (t) => {
  const { tc, id } = await audited(t);
  const miners = [keypair(), keypair(), keypair()];
  const other = await copyChain(t, tc, tc.chain.height, { rules: nodeRules({ guardWrites: true }) });
  for (const m of miners.slice(0, 2)) await voteWith(tc, m, vote(id, 1, VALID));
  await voteWith(tc, miners[2]!, vote(id, 1, VALID));
  assert.equal(getAudit(tc.chain.state, id)!.status, STATUS_FINAL);
  // The other branch: the first two votes, then two empty blocks (more work), no verdict yet.
  for (const m of miners.slice(0, 2)) await voteWith(other, m, vote(id, 1, VALID));
  const branch = [await mine(other), await mine(other)];
  for (const b of branch) await tc.chain.addBlock(b);
  assert.equal(toHex(tc.chain.tip.hash), toHex(branch[1]!.hash()));
  const back = getAudit(tc.chain.state, id)!;
  assert.equal(back.round, 1);
  assert.equal(back.votes.length, 2);
  assert.equal(mintedByAudits(tc.chain.state), 0n);
  await assertSupply(tc.chain);
  // The third vote again: the same verdict and payments as before.
  await voteWith(tc, miners[2]!, vote(id, 1, VALID));
  assert.equal(getAudit(tc.chain.state, id)!.status, STATUS_FINAL);
  assert.equal(mintedByAudits(tc.chain.state), 3n * (HELD / 3n));
});

test('a ban keeps the reservation of its other closed contract under audit: winning one appeal does not let the Validator unstake before the other audit ends', async (t) => {
  const { tc, v, bidder, id, other } = await audited(t);
  const g = tc.chain.genesisHash;
  // The second contract is closed too, with a payout its Validator co-signed: under audit as well.
  await mine(tc, { txs: [payout(keypair(), v, other, [{ start: 0, end: MCUS }], 0n, g)] });
  await mine(tc, { txs: [closeContract(bidder, other, 3n, g)] });
  assert.equal(getAudit(tc.chain.state, other)?.status, STATUS_OPEN);
  for (const m of [keypair(), keypair(), keypair()]) await voteWith(tc, m, vote(id, 1, INVALID));
  assert.equal(getStake(tc.chain.state, v.address)!.contracts, 2, 'both audited contracts stay reserved');
  await mine(tc, { txs: [appeal(v, id, v.nonce, g)] });
  for (const m of Array.from({ length: 9 }, () => keypair())) await voteWith(tc, m, vote(id, 3, VALID));
  const s = getStake(tc.chain.state, v.address)!;
  assert.equal(s.flags & FLAG_BANNED, 0, 'the appeal is won');
  assert.equal(s.contracts, 1, 'the other audit still holds its reservation');
  await expectInvalid(tc, { txs: [unstake(v, v.nonce + 1n, g)] }, 'STAKE_LOCKED');
  // Its own audit then finds it lying: the stake is still there to forfeit.
  for (const m of [keypair(), keypair(), keypair()]) await voteWith(tc, m, vote(other, 1, INVALID));
  const a = getAudit(tc.chain.state, other)!;
  await mineAt(tc, a.verdictTime + devnet.appealWindowMs);
  assert.equal(getStake(tc.chain.state, v.address), undefined);
  assert.equal(fundBalance(tc.chain.state), 10n * LI_PER_ZI);
});

test('a block looks only at the appeal windows that close first, not at every audit pending', () => {
  const { state, reads } = memoryState();
  const record = (status: number, verdictTime: number) => ({
    validator: new Uint8Array(20).fill(1),
    bidder: new Uint8Array(20).fill(2),
    validationFee: 1n,
    heldFees: 0n,
    closedHeight: 1,
    round: 1,
    status,
    verdict: status === STATUS_INVALID ? INVALID : pendingVerdict,
    verdictTime,
    appealPayment: 0n,
    forfeited: 0n,
    votes: [],
  });
  const id = (i: number) => sha256(new Uint8Array(new Uint32Array([i]).buffer));
  for (let i = 0; i < 10_000; i++) {
    putAudit(state, id(i), record(STATUS_OPEN, 0));
    addPending(state, id(i));
  }
  // One Invalid verdict whose window is still open.
  putAudit(state, id(10_000), record(STATUS_INVALID, devnet.genesisTimestamp));
  addPending(state, id(10_000));
  queueWindow(state, id(10_000));
  const finality = auditConsensus.hooks![0]!;
  const at = reads();
  finality.afterBlock!(state, { params: devnet, height: 2, timestamp: devnet.genesisTimestamp + DAY } as BlockContext);
  // It scanned all 10,001 before (an audit record each, every block).
  assert.ok(reads() - at < 10, `${reads() - at} reads`);
  assert.equal(getAudit(state, id(10_000))!.status, STATUS_INVALID, 'not final inside its window');
  assert.equal(pendingAudits(state).length, 10_001);
});
