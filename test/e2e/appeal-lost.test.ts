import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VOTE_FEE_MCUS } from '../../src/audit/rules.ts';
import { fundBalance, getAudit, STATUS_APPEALING, STATUS_FINAL, STATUS_INVALID } from '../../src/audit/state.ts';
import { getAccount } from '../../src/chain/accounts.ts';
import { formatAddress } from '../../src/chain/address.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import { FLAG_BANNED, getStake } from '../../src/validator/state.ts';
import { AUDIT_FEE, auditedContract, earnedBeyondRewards, voteFrom } from '../support/audit.ts';
import { auditCli, row, validatorWallet, z } from '../support/audit-cli.ts';
import { until } from '../support/node.ts';

const hrp = NETWORKS.devnet.hrp;

test('zi validator appeal lost: a lying Validator banned by three honest miners appeals; nine fresh miners confirm Invalid, and its stake and what is left of the payment go to the fund', async (t) => {
  const w = await validatorWallet(t);
  const s = await auditedContract(t, { v: w.v, lying: true });
  const { chain, id, v, bidder, held } = s;
  const zi = auditCli(s, w);
  for (let i = 0; i < 3; i++) await voteFrom(t, s);
  assert.equal(getAudit(chain.state, id)!.status, STATUS_INVALID, "the honest miners' samples catch it");
  const stake = getStake(chain.state, v.address)!;
  assert.ok(stake.flags & FLAG_BANNED, 'banned at once');
  const before = getAccount(chain.state, v.address).balance;
  const bidderBefore = getAccount(chain.state, bidder.address).balance;

  const sent = zi.appeal('--wait');
  await until('the appeal is pending', () => s.node.mempool.count > 0, 30_000);
  const voters = [await voteFrom(t, s)];
  const out = await sent;
  assert.equal(out.code, 0, out.stderr);
  const a = getAudit(chain.state, id)!;
  assert.equal(a.status, STATUS_APPEALING);
  const price = a.appealPayment;
  const fee = before - getAccount(chain.state, v.address).balance - price;
  assert.ok(fee > 0n && fee < 100_000n, `the appeal's own fee (${fee} Li)`);

  // Honest miners all: the lie is in the outputs, and every sample finds it again.
  for (let i = 1; i < 9; i++) voters.push(await voteFrom(t, s));
  const final = getAudit(chain.state, id)!;
  assert.equal(final.status, STATUS_FINAL);
  assert.equal(final.round, 3);
  const cap = VOTE_FEE_MCUS * AUDIT_FEE;
  const each = price / 9n < cap ? price / 9n : cap;
  assert.equal(final.votes.filter((x) => x.round === 3).length, 9, 'nine appeal votes, all Invalid');
  const paid = each * 9n;
  assert.equal(getStake(chain.state, v.address), undefined, 'the stake is gone');
  assert.equal(fundBalance(chain.state), stake.amount + price - paid, 'the stake and the rest of the payment');
  assert.equal(getAccount(chain.state, v.address).balance, before - fee - price, 'nothing comes back');
  assert.equal(getAccount(chain.state, bidder.address).balance, bidderBefore + held, 'the held fees to the Bidder');
  let earned = 0n;
  for (const m of voters) earned += await earnedBeyondRewards(chain, m.address);
  assert.equal(earned, paid, 'the appeal voters were paid out of the payment, no more');

  const shown = await zi.status();
  assert.match(shown, row('status', 'final'));
  assert.match(shown, row('verdict', 'invalid'));
  assert.match(shown, row('appeal', `${z(price)} paid, lost: `));
  assert.match(shown, new RegExp(`^ {2}stake +${z(stake.amount)} to the shared fund$`, 'm'));
  assert.match(
    shown,
    new RegExp(`^ {2}held fees +${z(held)} to the Bidder ${formatAddress(bidder.address, hrp)}$`, 'm'),
  );
  await s.supply();
});
