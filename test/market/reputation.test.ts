import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toHex } from '../../src/chain/encoding.ts';
import { VALIDATION_BIDDER, VALIDATION_DELEGATED } from '../../src/market/contract-state.ts';
import {
  authorityReputation,
  authorityReputations,
  type ContractHistory,
  solverReputation,
  unpaidBy,
} from '../../src/market/reputation.ts';

const addr = (b: number) => new Uint8Array(20).fill(b);
const BIDDER = addr(1);
const OTHER = addr(2);
const VALIDATOR = addr(3);
const NONE = new Uint8Array(20);

function history(r: Partial<ContractHistory['record']> & { openedHeight: number }, payouts?: number): ContractHistory {
  return {
    record: {
      bidder: BIDDER,
      validation: VALIDATION_BIDDER,
      validator: NONE,
      paidMcus: 0n,
      firstPayoutHeight: 0,
      lastPayoutHeight: 0,
      ...r,
    },
    payouts,
  };
}

describe('an authority’s record', () => {
  test('MCUs paid, how soon after inclusion the first payout came (median), and the blocks between payouts', () => {
    const contracts = [
      // Paid 3 blocks after inclusion, 5 payouts over 8 blocks: one every 2.
      history({ openedHeight: 10, paidMcus: 100n, firstPayoutHeight: 13, lastPayoutHeight: 21 }, 5),
      // Paid 5 blocks after, once.
      history({ openedHeight: 30, paidMcus: 1n, firstPayoutHeight: 35, lastPayoutHeight: 35 }, 1),
      // Paid 11 blocks after, twice, 4 blocks apart.
      history({ openedHeight: 40, paidMcus: 20n, firstPayoutHeight: 51, lastPayoutHeight: 55 }, 2),
      // Never paid.
      history({ openedHeight: 60 }, 0),
      // Someone else's.
      history({ bidder: OTHER, openedHeight: 1, paidMcus: 7n, firstPayoutHeight: 2, lastPayoutHeight: 2 }, 1),
      // Delegated: its Validator's record, not its Bidder's.
      history(
        {
          validation: VALIDATION_DELEGATED,
          validator: VALIDATOR,
          openedHeight: 70,
          paidMcus: 9n,
          firstPayoutHeight: 71,
          lastPayoutHeight: 71,
        },
        1,
      ),
    ];
    assert.deepEqual(authorityReputation(BIDDER, contracts), {
      contracts: 4,
      paidContracts: 3,
      mcusPaid: 121n,
      payouts: 8,
      firstPayoutBlocks: 5,
      cadenceBlocks: 12 / 5,
    });
    const all = authorityReputations(contracts);
    assert.equal(all.size, 3);
    assert.equal(all.get(toHex(VALIDATOR))!.mcusPaid, 9n);
    assert.deepEqual(all.get(toHex(BIDDER)), authorityReputation(BIDDER, contracts));
    assert.equal(all.get(toHex(OTHER))!.mcusPaid, 7n);
    assert.equal(all.get(toHex(OTHER))!.cadenceBlocks, null, 'one payout has no cadence');
  });

  test('an authority that never paid, or serves nothing, has no timings; uncounted payouts give no cadence', () => {
    assert.deepEqual(authorityReputation(addr(4), [history({ openedHeight: 5 }, 0)]), {
      contracts: 0,
      paidContracts: 0,
      mcusPaid: 0n,
      payouts: 0,
      firstPayoutBlocks: null,
      cadenceBlocks: null,
    });
    const uncounted = authorityReputation(BIDDER, [
      history({ openedHeight: 1, paidMcus: 3n, firstPayoutHeight: 2, lastPayoutHeight: 9 }),
    ]);
    assert.equal(uncounted.payouts, null);
    assert.equal(uncounted.cadenceBlocks, null);
    assert.equal(uncounted.firstPayoutBlocks, 1);
  });
});

describe('a Solver’s record', () => {
  test('MCUs delivered from its payouts on chain; batches refused only from its own session log', () => {
    const payouts = [
      { mcus: 4, height: 12 },
      { mcus: 1, height: 9 },
      { mcus: 64, height: 20 },
    ];
    const log = [
      { authority: toHex(BIDDER), batchesPaid: 2, batchesRejected: 0, mcusUnpaid: 0 },
      { authority: toHex(BIDDER), batchesPaid: 0, batchesRejected: 1, mcusUnpaid: 2 },
      { authority: toHex(OTHER), batchesPaid: 0, batchesRejected: 0, mcusUnpaid: 3 },
    ];
    assert.deepEqual(solverReputation(payouts, log), {
      payouts: 3,
      mcusDelivered: 69,
      firstPayoutHeight: 9,
      lastPayoutHeight: 20,
      batchesRejected: 1,
    });
    assert.equal(solverReputation(payouts).batchesRejected, null, 'unknown without its log');
    assert.deepEqual(solverReputation([]), {
      payouts: 0,
      mcusDelivered: 0,
      firstPayoutHeight: null,
      lastPayoutHeight: null,
      batchesRejected: null,
    });
    assert.equal(unpaidBy(BIDDER, log), 2);
    assert.equal(unpaidBy(OTHER, log), 3);
    assert.equal(unpaidBy(VALIDATOR, log), 0);
  });
});
