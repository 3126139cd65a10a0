import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contractStatusView, type StatusReport } from '../../src/cli/contract-status.ts';

function report(payouts: number, paidMcus: number): StatusReport {
  return {
    id: 'ab'.repeat(32),
    bidder: 'zid1bidder',
    status: 'open',
    price: '10',
    validation: 'bidder',
    validationFee: '0',
    escrow: '1000000',
    paidMcus: String(paidMcus),
    budget: '2000000',
    paidToSolvers: String(paidMcus * 10),
    paidRanges: [[0, paidMcus]],
    payouts,
    size: 100_000,
    rate: { mcusPerSecond: 100, windowMcus: paidMcus, windowPayouts: payouts, windowSeconds: 10 },
    authority: { role: 'bidder', address: 'zid1bidder', servedHere: false, lastPayoutHeight: 3, lastPayoutTime: null },
  };
}

const eta = (view: string) => /^ETA\s+(.*)$/m.exec(view)?.[1];

test("the ETA says when the pace is still an early one: a contract's first batches are small", () => {
  // Seven payouts of 1, 2, 4, … MCUs: the next batches are far larger.
  assert.equal(
    eta(contractStatusView(report(7, 127))),
    'about 17 min at this pace (early: batches still double, so it should be sooner)',
  );
  assert.equal(eta(contractStatusView(report(40, 50_000))), 'about 8 min at this pace');
});
