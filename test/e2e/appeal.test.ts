import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VOTE_FEE_MCUS } from '../../src/audit/rules.ts';
import {
  fundBalance,
  getAudit,
  mintedByAudits,
  STATUS_APPEALING,
  STATUS_FINAL,
  STATUS_INVALID,
  VALID,
} from '../../src/audit/state.ts';
import { getAccount } from '../../src/chain/accounts.ts';
import { formatAddress } from '../../src/chain/address.ts';
import { equalBytes, toHex } from '../../src/chain/encoding.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import { getContract } from '../../src/market/contract-state.ts';
import { FLAG_BANNED, getStake } from '../../src/validator/state.ts';
import { AUDIT_FEE, auditedContract, earnedBeyondRewards, voteFrom } from '../support/audit.ts';
import { auditCli, row, validatorWallet, z } from '../support/audit-cli.ts';
import { until } from '../support/node.ts';

const hrp = NETWORKS.devnet.hrp;

test('zi validator appeal: an honest Validator banned by three --audit-lie miners appeals; nine fresh miners win it back its stake, the held fees and the rest of the payment', async (t) => {
  const w = await validatorWallet(t);
  const s = await auditedContract(t, { v: w.v });
  const { chain, id, v, held } = s;
  const zi = auditCli(s, w);
  const round1 = [];
  for (let i = 0; i < 3; i++) round1.push(await voteFrom(t, s, { lie: true }));
  assert.equal(getAudit(chain.state, id)!.status, STATUS_INVALID, 'three lying votes agree: Invalid');
  const banned = getStake(chain.state, v.address)!;
  assert.ok(banned.flags & FLAG_BANNED, 'banned at once');
  const shown = await zi.status();
  assert.match(shown, row('status', 'invalid \\(appeal window\\)'));
  assert.match(shown, row('verdict', 'invalid'));
  assert.match(shown, row('appeal window', 'open until \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(block time\\)'));
  assert.match(
    shown,
    row('held', `held fees ${z(held)}, the Validator's stake \\(${z(banned.amount)}\\) until the appeal window ends`),
  );
  assert.match(await zi.list(), new RegExp(`^${toHex(id)} +invalid \\(appeal window\\) +invalid$`, 'm'));
  for (const m of round1)
    assert.match(shown, new RegExp(`round 1 .* invalid +${formatAddress(m.address, hrp)} +earned ${z(held / 3n)}`));

  // The appeal, signed and sent by the CLI; a fresh honest miner mines it, then votes first of the nine.
  const before = getAccount(chain.state, v.address).balance;
  const sent = zi.appeal('--wait');
  await until('the appeal is pending', () => s.node.mempool.count > 0, 30_000);
  const round3 = [await voteFrom(t, s)];
  const out = await sent;
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, row('pays at most', z(chain.params.stakeUnit)));
  const height = Number(/confirmed in block (\d+)/.exec(out.stdout)?.[1]);
  const appealTx = (await chain.getBlock(chain.entryAtHeight(height)!.hash))!.txs.find((tx) =>
    equalBytes(tx.from, v.address),
  )!;
  let a = getAudit(chain.state, id)!;
  assert.equal(a.status, STATUS_APPEALING);
  assert.equal(a.round, 3);
  const price = a.appealPayment;
  assert.equal(price, chain.params.stakeUnit, 'it paid R: 1 Zi for one delegated contract in the window');
  const appealing = await zi.status();
  assert.match(appealing, row('appeal', `${z(price)} paid, nine votes deciding`));
  assert.match(
    appealing,
    row(
      'held',
      `held fees ${z(held)}, the Validator's stake \\(${z(banned.amount)}\\), appeal payment ${z(price)} until the appeal is decided`,
    ),
  );

  // Eight more fresh miners, one of them lying: eight of nine say Valid.
  for (let i = 1; i < 9; i++) round3.push(await voteFrom(t, s, { lie: i === 3 }));
  a = getAudit(chain.state, id)!;
  assert.equal(a.status, STATUS_FINAL);
  assert.equal(a.verdict, VALID, 'the appeal is won');
  const cap = VOTE_FEE_MCUS * AUDIT_FEE;
  const each = price / 9n < cap ? price / 9n : cap;
  const rest = price - 8n * each;
  const s2 = getStake(chain.state, v.address)!;
  assert.equal(s2.flags & FLAG_BANNED, 0, 'the ban is lifted');
  assert.equal(s2.amount, banned.amount, 'the stake is whole');
  assert.equal(s2.contracts, 0, 'its reservation is released');
  assert.equal(
    getAccount(chain.state, v.address).balance,
    before - appealTx.fee - price + rest + held,
    'the held fees and the rest of the payment are back',
  );
  assert.equal(getContract(chain.state, id)!.heldFees, 0n);
  for (const [i, m] of round3.entries()) {
    assert.equal(
      await earnedBeyondRewards(chain, m.address),
      i === 3 ? 0n : each,
      `appeal vote ${i + 1}, out of the payment`,
    );
  }
  assert.equal(mintedByAudits(chain.state), held, 'only round 1 minted (a third of the held fees each)');
  assert.equal(fundBalance(chain.state), 0n);

  const final = await zi.status();
  assert.match(final, row('status', 'final'));
  assert.match(final, row('round', '3'));
  assert.match(final, row('verdict', 'valid'));
  assert.match(final, row('appeal', `${z(price)} paid, won: the ban is lifted, the stake stays with the Validator`));
  assert.match(final, row('appeal window', 'appealed inside it'));
  assert.doesNotMatch(final, /^held/m, 'nothing is held any more');
  assert.equal(final.match(/^ {2}appeal +block/gm)?.length, 9, 'the nine appeal votes');
  assert.match(
    final,
    new RegExp(`appeal +block \\d+ +invalid +${formatAddress(round3[3]!.address, hrp)} +earned nothing`),
  );
  const vText = formatAddress(v.address, hrp);
  assert.match(
    final,
    new RegExp(
      `^ {2}appeal vote fees +${z(8n * each)} out of the appeal payment, ${z(each)} to each of 8 voters$`,
      'm',
    ),
  );
  assert.match(final, new RegExp(`^ {2}held fees +${z(held)} to the Validator ${vText}$`, 'm'));
  assert.match(
    final,
    new RegExp(`^ {2}appeal payment +${z(rest)} to the Validator ${vText} \\(the rest, returned\\)$`, 'm'),
  );
  await s.supply();
});
