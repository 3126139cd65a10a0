import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Ballot, distribute, fundVoters, getPayout, payoutHeights, putFundVote } from '../../src/audit/fund.ts';
import { fundOutlook, fundVoteRules } from '../../src/audit/fund-rules.ts';
import { fundBalance } from '../../src/audit/state.ts';
import { getAccount } from '../../src/chain/accounts.ts';
import { RESERVED_ADDRESS } from '../../src/chain/address.ts';
import { keyId, toHex } from '../../src/chain/encoding.ts';
import { LI_PER_ZI, type NetworkParams } from '../../src/chain/params.ts';
import type { StateWriter } from '../../src/chain/state.ts';
import { PAGE_ITEMS } from '../../src/chain/state-list.ts';
import { Transaction, TX_KINDS } from '../../src/chain/transaction.ts';
import { buildTemplate } from '../../src/miner/template.ts';
import { nodeRules } from '../../src/node/rules.ts';
import {
  copyChain,
  devnet,
  type Keypair,
  keypair,
  nextBlock,
  openChain,
  solve,
  type TestChain,
  transfer,
} from '../support/chain.ts';
import { assertSupply } from '../support/supply.ts';

/** Activity lasts a minute here, so a test can let a voter lapse. */
const params: NetworkParams = { ...devnet, activeWindowMs: 60_000 };

type User = Keypair & { nonce: bigint };
const user = (): User => ({ ...keypair(), nonce: 0n });

function fundVote(from: User, payee: Uint8Array, g: Uint8Array): Transaction {
  return Transaction.sign(
    { kind: TX_KINDS.fundvote, nonce: from.nonce++, fee: 1_000n, payload: fundVoteRules.encode({ payee }) },
    from.priv,
    g,
  );
}

const send = (from: User, to: Uint8Array, amount: bigint, g: Uint8Array) => transfer(from, to, amount, from.nonce++, g);

/** A block `gapMs` after the tip (at least the earliest allowed), checked against the supply invariant. */
async function mineAfter(tc: TestChain, gapMs: number, txs: Transaction[] = [], miner?: Uint8Array) {
  const timestamp = Math.max(tc.chain.earliestNext(), tc.chain.tip.header.timestamp + gapMs);
  tc.clock.now = Math.max(tc.clock.now, timestamp);
  const block = solve(buildTemplate(tc.chain, undefined, miner ?? new Uint8Array(20).fill(9), timestamp, txs));
  await tc.chain.addBlock(block);
  assert.equal(tc.chain.tip.height, block.header.height, `block ${block.header.height} connected`);
  await assertSupply(tc.chain);
  return block;
}

/** Ten transactions to itself in one block: active for the next minute. */
const activate = (u: User, g: Uint8Array) =>
  Array.from({ length: params.activeTxCount }, () => send(u, u.address, 1n, g));

const balance = (tc: TestChain, a: Uint8Array) => getAccount(tc.chain.state, a).balance;

interface Voters {
  tc: TestChain;
  rich: User;
  voters: Record<'a' | 'b' | 'c' | 'd' | 'e', User>;
  payees: Uint8Array[];
}

/**
 * Five voters with odd balances. d votes, then lapses; a, b, c, e renew
 * their activity and vote: a → P1, b → P2, c → P2 then P1, e → P2, d → P3.
 */
async function fiveVoters(t: Parameters<typeof openChain>[0]): Promise<Voters> {
  const tc = await openChain(t, { rules: nodeRules({ guardWrites: true }), params });
  const g = tc.chain.genesisHash;
  const rich = user();
  for (let i = 0; i < 4; i++) await mineAfter(tc, 1000, [], rich.address);
  const voters = { a: user(), b: user(), c: user(), d: user(), e: user() };
  const odd = [3_000_000_007n, 1_234_567_891n, 5_555_555_557n, 2_000_000_003n, 999_999_937n];
  await mineAfter(
    tc,
    1000,
    Object.values(voters).map((v, i) => send(rich, v.address, odd[i]!, g)),
  );
  const payees = [keypair().address, keypair().address, keypair().address];
  const { a, b, c, d, e } = voters;
  await mineAfter(tc, 1000, activate(d, g));
  await mineAfter(tc, 1000, [fundVote(d, payees[2]!, g)]);
  // A minute later d has lapsed; the others are active again and vote.
  await mineAfter(
    tc,
    61_000,
    [a, b, c, e].flatMap((v) => activate(v, g)),
  );
  await mineAfter(tc, 1000, [
    fundVote(a, payees[0]!, g),
    fundVote(b, payees[1]!, g),
    fundVote(c, payees[1]!, g),
    fundVote(e, payees[1]!, g),
  ]);
  await mineAfter(tc, 1000, [fundVote(c, payees[0]!, g)]);
  return { tc, rich, voters, payees };
}

test('the fund pays out once it holds 1 Zi per active address: by payee, weighted by the balances of its active voters, the remainder kept', async (t) => {
  const { tc, rich, voters, payees } = await fiveVoters(t);
  const g = tc.chain.genesisHash;
  const { a, b, c, d, e } = voters;
  const o = fundOutlook(tc.chain.state, tc.chain.tip.header.timestamp, params);
  assert.equal(o.active, 4, 'a, b, c and e are active; d has lapsed; rewards and payees are not activity');
  assert.equal(o.threshold, 4n * LI_PER_ZI);
  assert.equal(fundVoters(tc.chain.state).length, 5, 'every voter is kept until the payout');

  // A gift below the threshold waits in the fund...
  await mineAfter(tc, 1000, [send(rich, RESERVED_ADDRESS, 3n * LI_PER_ZI, g)]);
  assert.equal(fundBalance(tc.chain.state), 3n * LI_PER_ZI);
  assert.equal(getAccount(tc.chain.state, RESERVED_ADDRESS).balance, 0n, 'a gift to 000 is not an account balance');
  assert.deepEqual(payoutHeights(tc.chain.state, 10), []);
  // ...and the one that crosses it pays out in its block.
  const gift = LI_PER_ZI + 12_345n;
  const block = await mineAfter(tc, 1000, [send(rich, RESERVED_ADDRESS, gift, g)]);
  const F = 3n * LI_PER_ZI + gift;
  // Balances in the payout block: the voters sent nothing in it.
  const w1 = balance(tc, a.address) + balance(tc, c.address);
  const w2 = balance(tc, b.address) + balance(tc, e.address);
  const p1 = (F * w1) / (w1 + w2);
  const p2 = (F * w2) / (w1 + w2);
  assert.equal(balance(tc, payees[0]!), p1, 'P1: a, and c whose latest vote moved to P1');
  assert.equal(balance(tc, payees[1]!), p2, 'P2: b and e');
  assert.equal(balance(tc, payees[2]!), 0n, 'P3: only d, who is no longer active');
  assert.equal(fundBalance(tc.chain.state), F - p1 - p2, 'rounding leaves the remainder in the fund');
  assert.ok(F - p1 - p2 < 2n);
  assert.deepEqual(fundVoters(tc.chain.state), [], 'all votes are cleared, d’s too');
  const payout = getPayout(tc.chain.state, block.header.height)!;
  assert.equal(payout.paid, p1 + p2);
  assert.deepEqual(
    payout.shares.map((s) => [toHex(s.payee), s.amount]),
    [
      [toHex(payees[0]!), p1],
      [toHex(payees[1]!), p2],
    ],
  );
  assert.ok(balance(tc, d.address) > 0n, 'd kept its coins, only its vote lapsed');
});

test('a voter who empties its account before the payout block weighs nothing: weight is the balance at the payout, not at the vote', async (t) => {
  const { tc, rich, voters, payees } = await fiveVoters(t);
  const g = tc.chain.genesisHash;
  const { a, b, c, e } = voters;
  const stash = keypair().address;
  // In the payout block a moves everything but the fee to an address that never voted.
  const empty = send(a, stash, balance(tc, a.address) - 1_000n, g);
  const gift = 5n * LI_PER_ZI;
  const block = await mineAfter(tc, 1000, [empty, send(rich, RESERVED_ADDRESS, gift, g)]);
  assert.equal(balance(tc, a.address), 0n);
  const w1 = balance(tc, c.address);
  const w2 = balance(tc, b.address) + balance(tc, e.address);
  assert.equal(balance(tc, payees[0]!), (gift * w1) / (w1 + w2), 'P1 has only c behind it now');
  assert.equal(balance(tc, payees[1]!), (gift * w2) / (w1 + w2));
  const paidTo = getPayout(tc.chain.state, block.header.height)!.shares.map((x) => toHex(x.payee));
  assert.deepEqual(paidTo.sort(), [toHex(payees[0]!), toHex(payees[1]!)].sort(), 'nothing goes to the stash');
});

test('a payout with no vote that counts waits: the fund keeps growing and the votes stay', async (t) => {
  const tc = await openChain(t, { rules: nodeRules({ guardWrites: true }), params });
  const g = tc.chain.genesisHash;
  const rich = user();
  const voter = user();
  for (let i = 0; i < 3; i++) await mineAfter(tc, 1000, [], rich.address);
  await mineAfter(tc, 1000, [send(rich, voter.address, 2n * LI_PER_ZI, g), ...activate(rich, g)]);
  await mineAfter(tc, 1000, [...activate(voter, g)]);
  await mineAfter(tc, 1000, [fundVote(voter, keypair().address, g)]);
  // The voter lapses; rich stays active, and gives more than the threshold.
  await mineAfter(tc, 61_000, activate(rich, g));
  await mineAfter(tc, 1000, [send(rich, RESERVED_ADDRESS, 5n * LI_PER_ZI, g)]);
  assert.equal(fundOutlook(tc.chain.state, tc.chain.tip.header.timestamp, params).active, 1);
  assert.equal(fundBalance(tc.chain.state), 5n * LI_PER_ZI);
  assert.equal(fundVoters(tc.chain.state).length, 1);
});

test('a vote from an address that is not active, or for 000, is refused', async (t) => {
  const tc = await openChain(t, { rules: nodeRules({ guardWrites: true }), params });
  const g = tc.chain.genesisHash;
  const v = user();
  await mineAfter(tc, 1000, [], v.address);
  await assert.rejects(tc.chain.addBlock(nextBlock(tc, { txs: [fundVote(v, keypair().address, g)] })), {
    code: 'NOT_ACTIVE',
    message: /only active addresses vote/,
  });
  v.nonce = 0n;
  assert.throws(() => fundVoteRules.decode(RESERVED_ADDRESS, params), { code: 'BAD_VALUE', message: /000/ });
});

test('a reorg across the payout block undoes it exactly, and the payout comes back with its branch', async (t) => {
  const { tc, rich } = await fiveVoters(t);
  const g = tc.chain.genesisHash;
  const copy = (upTo: number) => copyChain(t, tc, upTo, { rules: nodeRules({ guardWrites: true }), params });
  const fork = tc.chain.height;
  const quiet = await copy(fork);
  const before = fundState(await stateOf(tc));
  const payoutBlock = await mineAfter(tc, 1000, [send(rich, RESERVED_ADDRESS, 9n * LI_PER_ZI, g)]);
  assert.deepEqual(payoutHeights(tc.chain.state, 10), [payoutBlock.header.height]);
  const paid = await stateOf(tc);
  const loud = await copy(fork + 1);

  // A heavier branch without the gift: everything the payout did is undone.
  for (const b of [await mineAfter(quiet, 1000), await mineAfter(quiet, 1000)]) await tc.chain.addBlock(b);
  assert.deepEqual(tc.chain.tip.hash, quiet.chain.tip.hash);
  await assertSupply(tc.chain);
  assert.deepEqual(fundState(await stateOf(tc)), before, 'the fund, votes and payouts as at the fork');
  for (const p of getPayoutShares(paid)) assert.equal(balance(tc, p), 0n, 'the payees have nothing');

  // The payout's branch comes back heavier: the same payout, to the Li.
  for (const b of [await mineAfter(loud, 1000), await mineAfter(loud, 1000)]) await tc.chain.addBlock(b);
  assert.deepEqual(tc.chain.tip.hash, loud.chain.tip.hash);
  await assertSupply(tc.chain);
  assert.deepEqual(fundState(await stateOf(tc)), fundState(paid));
  assert.deepEqual(getPayout(tc.chain.state, payoutBlock.header.height)!.shares.length, 2);
});

/** The audit domain's state, the fund's with it (keys 0x30–0x3f). */
function fundState(state: Map<string, string>): Map<string, string> {
  return new Map([...state].filter(([k]) => k.startsWith('3')));
}

/** The payees of the payout a state records (from its 0x34 record). */
function getPayoutShares(state: Map<string, string>): Uint8Array[] {
  const [raw] = [...state].filter(([k]) => k.startsWith('34')).map(([, v]) => Buffer.from(v, 'hex'));
  const out: Uint8Array[] = [];
  for (let at = 8; at < raw!.length; at += 28) out.push(new Uint8Array(raw!.subarray(at, at + 20)));
  return out;
}

/** The ledger state as hex key → hex value. */
async function stateOf(tc: TestChain): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for await (const [k, v] of tc.chain.store.stateEntries()) m.set(toHex(k), toHex(v));
  return m;
}

test('splitting coins over many addresses never gets a holder more of the fund (property)', () => {
  const address = (i: number) => new Uint8Array(20).fill(i + 1);
  fc.assert(
    fc.property(
      fc.bigInt({ min: 1n, max: 10n ** 15n }),
      // Others' ballots: a payee among three, a weight.
      fc.array(fc.tuple(fc.nat(2), fc.bigInt({ min: 0n, max: 10n ** 12n })), { maxLength: 8 }),
      fc.bigInt({ min: 1n, max: 10n ** 12n }),
      // The holder's split: parts of its balance, each to one of its own payees or a shared one.
      fc.array(fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.nat(3)), { minLength: 1, maxLength: 12 }),
      (fund, others, holding, parts) => {
        const otherBallots: Ballot[] = others.map(([p, w], i) => ({
          voter: address(100 + i),
          payee: address(p),
          weight: w,
        }));
        // Its own payees are 10..13; payee 3 stands for voting with the others' payee 0.
        const own = (k: number) => (k === 3 ? address(0) : address(10 + k));
        const gain = (ballots: Ballot[]) =>
          distribute(fund, ballots)
            .filter((s) => s.payee[0]! >= 11)
            .reduce((n, s) => n + s.amount, 0n);
        const total = parts.reduce((n, [w]) => n + BigInt(w), 0n);
        // The holder's coins split in proportion to `parts`, the rounding in the first.
        const weights = parts.map(([w]) => (holding * BigInt(w)) / total);
        weights[0]! += holding - weights.reduce((n, w) => n + w, 0n);
        const split = parts.map(([, k], i) => ({ voter: address(200 + i), payee: own(k), weight: weights[i]! }));
        const unsplit = [{ voter: address(200), payee: address(11), weight: holding }];
        assert.ok(gain([...otherBallots, ...split]) <= gain([...otherBallots, ...unsplit]));
        // And whatever the split, nothing is paid beyond the fund.
        const paid = distribute(fund, [...otherBallots, ...split]).reduce((n, s) => n + s.amount, 0n);
        assert.ok(paid <= fund);
      },
    ),
    { numRuns: 500, seed: 42 },
  );
});

test('each new voter costs its vote one page of the voters list, not the whole list (was quadratic)', () => {
  const map = new Map<string, Uint8Array>();
  let written = 0;
  const state: StateWriter = {
    get: (key) => map.get(keyId(key)),
    put: (key, value) => {
      written += value.length;
      map.set(keyId(key), value);
    },
    del: (key) => void map.delete(keyId(key)),
  };
  const n = 3000;
  const voter = (i: number) => new Uint8Array(20).map((_, j) => (j < 4 ? (i >>> (8 * j)) & 0xff : 7));
  for (let i = 0; i < n; i++) putFundVote(state, voter(i), RESERVED_ADDRESS);
  assert.equal(fundVoters(state).length, n);
  assert.deepEqual(fundVoters(state)[n - 1], voter(n - 1));
  // As one record, the n votes wrote n²/2 addresses (90 MB here).
  assert.ok(written < n * (PAGE_ITEMS * 20 + 100), `${written} bytes written`);
});
