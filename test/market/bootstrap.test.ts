import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BOOTSTRAP_MIN_PRICE, bootstrapDecision } from '../../src/market/bootstrap.ts';

interface Heights {
  price: bigint;
  openedHeight: number;
  /** 0: no payout yet. */
  firstPayoutHeight: number;
  lastPayoutHeight: number;
}

const contract = (o: Partial<Heights> = {}): Heights => ({
  price: 11n,
  openedHeight: 100,
  firstPayoutHeight: 0,
  lastPayoutHeight: 0,
  ...o,
});

const takes = (c: Heights, tip: number) => bootstrapDecision(c, tip).take;

describe('bootstrapDecision', () => {
  it('takes only jobs paying more than 10 Li per MCU', () => {
    assert.equal(BOOTSTRAP_MIN_PRICE, 10n);
    for (const price of [0n, 1n, 9n, 10n]) {
      // Even with a handshake in the next block and a long quiet spell.
      assert.equal(takes(contract({ price, firstPayoutHeight: 101, lastPayoutHeight: 101 }), 101), false);
      assert.equal(takes(contract({ price }), 1000), false);
      const d = bootstrapDecision(contract({ price }), 1000);
      assert.ok(!d.take && d.reason.includes(`${price} Li`));
    }
    for (const price of [11n, 1000n, (1n << 64n) - 1n]) assert.equal(takes(contract({ price }), 1000), true);
  });

  // Contract mined at height 100 in every row; tip is the chain's height.
  const table: { name: string; first: number; last: number; tips: [number, boolean][] }[] = [
    {
      name: 'no payout at all: one block, then three quiet blocks',
      first: 0,
      last: 0,
      tips: [
        [99, false],
        [100, false],
        [101, false],
        [102, false],
        [103, true],
        [500, true],
      ],
    },
    {
      name: 'the next block holds the handshake: take at once',
      first: 101,
      last: 101,
      tips: [
        [100, false],
        [101, true],
        [102, true],
      ],
    },
    {
      name: 'handshake and later batches from block 101 on: still taken',
      first: 101,
      last: 130,
      tips: [
        [101, true],
        [130, true],
      ],
    },
    {
      name: 'handshake two blocks later: wait for three blocks without a solution after it',
      first: 102,
      last: 102,
      tips: [
        [101, false],
        [102, false],
        [104, false],
        [105, true],
      ],
    },
    {
      name: 'Solvers kept paying: the quiet count starts after the latest payout',
      first: 103,
      last: 110,
      tips: [
        [110, false],
        [111, false],
        [112, false],
        [113, true],
      ],
    },
    {
      name: 'a payout in the contract block itself is not a handshake in the next block',
      first: 100,
      last: 100,
      tips: [
        [100, false],
        [101, false],
        [102, false],
        [103, true],
      ],
    },
  ];

  for (const row of table) {
    it(row.name, () => {
      const c = contract({ firstPayoutHeight: row.first, lastPayoutHeight: row.last });
      for (const [tip, want] of row.tips) {
        const d = bootstrapDecision(c, tip);
        assert.equal(d.take, want, `tip ${tip}: ${d.take ? 'took' : d.reason}`);
      }
    });
  }

  it('explains a wait', () => {
    const d1 = bootstrapDecision(contract(), 100);
    assert.ok(!d1.take && /one more block/.test(d1.reason));
    const d2 = bootstrapDecision(contract(), 102);
    assert.ok(!d2.take && /3 blocks without a solution \(2 so far\)/.test(d2.reason));
  });
});

// Consistent chain histories: payouts at or after the contract's block, the tip at or after the latest.
const history = fc
  .record(
    {
      price: fc.bigInt({ min: 0n, max: 100n }),
      opened: fc.integer({ min: 0, max: 10_000 }),
      firstAfter: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
      lastAfter: fc.integer({ min: 0, max: 10 }),
      tipAfter: fc.integer({ min: -5, max: 20 }),
    },
    { noNullPrototype: true },
  )
  .map(({ price, opened, firstAfter, lastAfter, tipAfter }) => {
    const first = firstAfter === undefined ? 0 : opened + firstAfter;
    const last = firstAfter === undefined ? 0 : first + lastAfter;
    const c: Heights = { price, openedHeight: opened, firstPayoutHeight: first, lastPayoutHeight: last };
    return { c, tip: Math.max(0, last, opened + tipAfter) };
  });

describe('bootstrapDecision properties', () => {
  it('never takes a contract before the block after its own', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 0, max: 10 }), ({ c }, back) => {
        assert.equal(takes(c, c.openedHeight - back), false);
      }),
    );
  });

  it('matches the rules counted block by block', () => {
    fc.assert(
      fc.property(history, ({ c, tip }) => {
        // Blocks since the contract's, walking back from the tip to the latest solution.
        let quiet = 0;
        for (let h = tip; h > c.openedHeight && h !== c.lastPayoutHeight; h--) quiet++;
        const handshakeNext = c.firstPayoutHeight === c.openedHeight + 1;
        const want = c.price > 10n && tip > c.openedHeight && (handshakeNext || quiet >= 3);
        assert.equal(takes(c, tip), want);
      }),
      { numRuns: 500 },
    );
  });

  it('once taken, stays taken while no new payout arrives', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 1, max: 50 }), ({ c, tip }, later) => {
        if (takes(c, tip)) assert.equal(takes(c, tip + later), true);
      }),
    );
  });
});
