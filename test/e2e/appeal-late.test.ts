import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fundBalance, getAudit, STATUS_FINAL } from '../../src/audit/state.ts';
import { getAccount } from '../../src/chain/accounts.ts';
import { formatAddress } from '../../src/chain/address.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import { getStake } from '../../src/validator/state.ts';
import { auditedContract, voteFrom } from '../support/audit.ts';
import { auditCli, row, validatorWallet, z } from '../support/audit-cli.ts';
import { until } from '../support/node.ts';

const hrp = NETWORKS.devnet.hrp;

test('zi validator appeal after the window: refused in one line (APPEAL_WINDOW_CLOSED); the stake went to the fund, the held fees to the Bidder', async (t) => {
  const w = await validatorWallet(t);
  const s = await auditedContract(t, { v: w.v, params: { appealWindowMs: 1_500 } });
  const { chain, id, v, bidder, held } = s;
  const zi = auditCli(s, w);
  const stake = getStake(chain.state, v.address)!.amount;
  const bidderBefore = getAccount(chain.state, bidder.address).balance;
  // The last lying miner keeps mining: its blocks' time passes the window's end, which settles the audit.
  for (let i = 0; i < 3; i++) await voteFrom(t, s, { lie: true, keepMining: i === 2 });
  const verdictTime = getAudit(chain.state, id)!.verdictTime;
  await until('the window has closed', () => getAudit(chain.state, id)!.status === STATUS_FINAL, 30_000);
  assert.equal(getStake(chain.state, v.address), undefined, 'the stake is gone');
  assert.equal(fundBalance(chain.state), stake, 'to the shared fund');
  assert.equal(getAccount(chain.state, bidder.address).balance, bidderBefore + held, 'the held fees to the Bidder');

  const balance = getAccount(chain.state, v.address).balance;
  const late = await zi.appeal();
  assert.equal(late.code, 1);
  const closes = new Date(verdictTime + 1_500).toISOString();
  assert.equal(
    late.stderr,
    `error [APPEAL_WINDOW_CLOSED]: the appeal window closed at ${closes} (block time)\n`,
    'one line: why, and when it closed',
  );
  assert.equal(late.stdout, '');
  assert.equal(getAccount(chain.state, v.address).balance, balance, 'nothing was paid');
  const shown = await zi.status();
  assert.match(shown, row('status', 'final'));
  assert.match(shown, row('verdict', 'invalid'));
  assert.match(shown, row('appeal window', `closed at ${closes.replace(/\./g, '\\.')}, not appealed`));
  assert.match(shown, new RegExp(`^ {2}stake +${z(stake)} to the shared fund$`, 'm'));
  assert.match(
    shown,
    new RegExp(`^ {2}held fees +${z(held)} to the Bidder ${formatAddress(bidder.address, hrp)}$`, 'm'),
  );
  await s.supply();
});
