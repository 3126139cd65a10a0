import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  backoffMs,
  changeEnds,
  DEFAULT_BACKOFF,
  describeSetback,
  earnableRate,
  type Offer,
  payableMcus,
  RANK_HORIZON_S,
  type RecordMark,
  Setbacks,
  UNPROVEN_WEIGHT,
} from '../../src/market/ranking.ts';

const offer = (o: Partial<Offer> = {}): Offer => ({
  price: 1_000n,
  validationFee: 0n,
  escrow: 1_000_000_000n,
  payoutFee: 320n,
  remaining: null,
  rate: 100,
  provenPayer: true,
  ...o,
});

/** A hand-driven clock, so backoffs are exact and tests never sleep. */
function clock(start = 1_000_000) {
  const c = { now: start, read: () => c.now };
  return c;
}

const mark = (m: Partial<RecordMark> = {}): RecordMark => ({
  escrow: 5_000n,
  lastPayoutHeight: 10,
  validator: '00'.repeat(20),
  ...m,
});

describe('what a contract can still pay', () => {
  test('the escrow after one payout fee, at price plus validation fee, and no more indices than are left', () => {
    assert.equal(payableMcus(offer({ escrow: 10_320n })), 10);
    assert.equal(payableMcus(offer({ escrow: 10_319n })), 9);
    assert.equal(payableMcus(offer({ escrow: 10_320n, validationFee: 24n })), 9, '1,024 Li per MCU');
    assert.equal(payableMcus(offer({ remaining: 3 })), 3);
    assert.equal(payableMcus(offer({ remaining: 0 })), 0);
    // An escrow that covers the fee but not one MCU, or not even the fee: spent.
    assert.equal(payableMcus(offer({ escrow: 1_319n })), 0);
    assert.equal(payableMcus(offer({ escrow: 320n })), 0);
    assert.equal(payableMcus(offer({ escrow: 0n })), 0);
  });

  test('Li per second: price × rate while the contract can pay for the horizon, less when it cannot', () => {
    assert.equal(earnableRate(offer()), 100_000);
    // Enough left for 30 of the 60 seconds the ranking looks ahead: half the rate counts.
    const half = (100 * RANK_HORIZON_S) / 2;
    assert.equal(earnableRate(offer({ remaining: half })), 50_000);
    assert.equal(earnableRate(offer({ escrow: BigInt(half) * 1_000n + 320n })), 50_000);
    assert.equal(earnableRate(offer({ remaining: 0 })), 0);
    assert.equal(earnableRate(offer({ escrow: 1_000n })), 0);
    assert.equal(earnableRate(offer({ rate: 0 })), 0);
    assert.equal(earnableRate(offer({ provenPayer: false })), 100_000 * UNPROVEN_WEIGHT);
  });

  test('a funded contract beats one that pays more per MCU but is nearly spent or nearly done', () => {
    const funded = earnableRate(offer({ price: 100n }));
    assert.ok(funded > earnableRate(offer({ price: 1_000n, escrow: 5_320n })), 'five MCUs of escrow left');
    assert.ok(funded > earnableRate(offer({ price: 1_000n, remaining: 5 })), 'five indices left');
    assert.ok(earnableRate(offer({ price: 1_000n })) > funded, 'a funded one that pays more wins');
  });
});

describe('backing off', () => {
  test('each setback in a row doubles the wait up to the maximum; breaches and refusals wait the maximum at once', () => {
    const p = { baseMs: 1_000, maxMs: 10_000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 60].map((n) => backoffMs('silent', n, p)),
      [1_000, 2_000, 4_000, 8_000, 10_000, 10_000],
    );
    assert.equal(backoffMs('unpaid', 2, p), 2_000);
    assert.equal(backoffMs('breach', 1, p), 10_000);
    assert.equal(backoffMs('refused', 1, p), 10_000);
    assert.equal(backoffMs('interrupted', 1, p), 250);
    assert.equal(backoffMs('silent', 1), DEFAULT_BACKOFF.baseMs);
  });

  test('a setback keeps its key out until the wait runs out; a success forgets it', () => {
    const c = clock();
    const s = new Setbacks({ baseMs: 1_000, maxMs: 60_000 }, c.read);
    assert.equal(s.standing('k'), undefined);
    assert.deepEqual(s.note('k', 'unpaid'), { reason: 'unpaid', failures: 1, waitMs: 1_000, until: c.now + 1_000 });
    assert.equal(s.standing('k')?.reason, 'unpaid');
    assert.equal(s.nextExpiry(), c.now + 1_000);
    c.now += 999;
    assert.ok(s.standing('k'));
    c.now += 1;
    assert.equal(s.standing('k'), undefined, 'tried again when the wait is over');
    assert.equal(s.nextExpiry(), undefined);
    // Remembered: the next setback in a row waits twice as long.
    assert.equal(s.note('k', 'unpaid').waitMs, 2_000);
    assert.equal(s.note('k', 'silent').waitMs, 4_000);
    s.forgive('k');
    assert.equal(s.standing('k'), undefined);
    assert.equal(s.note('k', 'silent').waitMs, 1_000, 'forgiven: counted from one again');
    assert.equal(s.standing('other'), undefined, 'per key');
  });

  test('the chain ends a wait early only with the change it waits for', () => {
    // A topup: spent escrow, or a silent authority's Bidder about.
    assert.ok(changeEnds('exhausted', mark(), mark({ escrow: 5_001n })));
    assert.ok(!changeEnds('exhausted', mark(), mark({ escrow: 4_000n, lastPayoutHeight: 11 })));
    assert.ok(changeEnds('silent', mark(), mark({ escrow: 6_000n })));
    // A payout to anyone: the authority answers again.
    assert.ok(changeEnds('silent', mark(), mark({ lastPayoutHeight: 11 })));
    assert.ok(changeEnds('not-authority', mark(), mark({ validator: 'ab'.repeat(20) })));
    // Lost pay, breaches and refusals: nothing on chain undoes them.
    for (const reason of ['unpaid', 'breach', 'refused', 'complete'] as const) {
      assert.ok(!changeEnds(reason, mark(), mark({ escrow: 10n ** 12n, lastPayoutHeight: 99 })), reason);
    }
  });

  test('a topup is seen against the lowest escrow since the setback, so payouts landing first do not hide it', () => {
    const c = clock();
    const s = new Setbacks({ baseMs: 60_000, maxMs: 60_000 }, c.read);
    s.note('k', 'exhausted', mark({ escrow: 5_000n }));
    // This Solver's own payouts are mined: escrow falls, nothing to come back for.
    assert.ok(s.standing('k', mark({ escrow: 1_000n })));
    // A topup smaller than what was paid out meanwhile still shows.
    assert.equal(s.standing('k', mark({ escrow: 3_000n })), undefined);
  });

  test('a setback reads the same for as long as it lasts', () => {
    const c = clock();
    const s = new Setbacks({ baseMs: 90_000, maxMs: 30 * 60_000 }, c.read);
    const first = describeSetback(s.note('k', 'silent'));
    c.now += 30_000;
    assert.equal(describeSetback(s.standing('k')!), first);
    assert.equal(first, 'no answer from its authority; backing off 90 s');
    assert.equal(describeSetback(s.note('k', 'exhausted')), 'its escrow is spent; waiting for a topup (or 3 min)');
  });
});
