// Fund capture: an attacker splits fixed capital over k active addresses, all
// voting for its own payee, against honest voters. The fund pays out when it
// holds 1 Zi × |active addresses|, each payee floor(fund × weight ÷ total),
// the remainder kept, votes cleared (so everyone votes again). The weight is
// the number of voters (the paper) or their balances (this design).
import { distribute } from '../../src/audit/fund.ts';
import { LI_PER_ZI, NETWORKS } from '../../src/chain/params.ts';
import { u32be } from '../../src/chain/store/layout.ts';
import { transferFee } from './fees.ts';
import { Rng } from './random.ts';
import { fixed, table, whole, zi } from './table.ts';

export interface FundOptions {
  sybils: readonly number[];
  honestActive: number;
  honestVoters: number;
  payees: number;
  /** The attacker's coins, in Zi, however many addresses hold them. */
  capital: number;
  /** What flows into the fund every 30 days (forfeited stakes, gifts), in Zi. */
  inflow: number;
  days: number;
  seed: string;
}

export const FUND_DOC: FundOptions = {
  sybils: [1, 10, 100, 1000, 10_000, 100_000],
  honestActive: 5000,
  honestVoters: 1000,
  payees: 10,
  capital: 1000,
  inflow: 10_000,
  days: 360,
  seed: 'fund',
};

const params = NETWORKS.mainnet;

export type Weighting = 'per-address' | 'balance';

/** One payout by the node's own rule (src/audit/fund.ts `distribute`): each payee's floor share; what is left stays. */
export function payout(fund: bigint, weights: readonly bigint[]): { paid: bigint[]; left: bigint } {
  const id = (i: number) => u32be(i);
  const shares = distribute(
    fund,
    weights.map((weight, i) => ({ voter: id(i), payee: id(i), weight })),
  );
  const byPayee = new Map(shares.map((s) => [new DataView(s.payee.buffer).getUint32(0), s.amount]));
  const paid = weights.map((_, i) => byPayee.get(i) ?? 0n);
  return { paid, left: fund - paid.reduce((a, b) => a + b, 0n) };
}

/**
 * Li it costs to keep k addresses active for 30 days at the minimum fee:
 * a transfer counts for its sender and its receiver, so a ring of k ≥ 2
 * addresses needs 5 transfers each; one address alone, 10 to itself.
 */
export function activityCost(k: number): bigint {
  return BigInt(k >= 2 ? 5 * k : 10) * transferFee(params);
}

export interface FundRow {
  k: number;
  cost: bigint;
  share: Record<Weighting, number>;
  take: Record<Weighting, bigint>;
}

function simulate(k: number, o: FundOptions, balances: readonly bigint[], votes: readonly number[]): FundRow {
  const attackerPayee = o.payees;
  const perSybil = (BigInt(o.capital) * LI_PER_ZI) / BigInt(k);
  const periods = o.days / 30;
  // A vote is a transaction too; the fund's kind is not built yet, so it is priced as a transfer.
  const voteFee = transferFee(params);
  const row: FundRow = {
    k,
    cost: activityCost(k),
    share: { 'per-address': 0, balance: 0 },
    take: { 'per-address': 0n, balance: 0n },
  };
  for (const weighting of ['per-address', 'balance'] as const) {
    const weights = new Array<bigint>(o.payees + 1).fill(0n);
    votes.forEach((p, i) => {
      weights[p]! += weighting === 'balance' ? balances[i]! : 1n;
    });
    weights[attackerPayee] = weighting === 'balance' ? perSybil * BigInt(k) : BigInt(k);
    const threshold = BigInt(o.honestActive + k) * LI_PER_ZI;
    const daily = (BigInt(o.inflow) * LI_PER_ZI) / 30n;
    let fund = 0n;
    let paidOut = 0n;
    let take = 0n;
    let revotes = 0n;
    for (let d = 0; d < o.days; d++) {
      fund += daily;
      if (fund < threshold) continue;
      const { paid, left } = payout(fund, weights);
      take += paid[attackerPayee]!;
      paidOut += fund - left;
      fund = left;
      revotes += BigInt(k) * voteFee;
    }
    row.share[weighting] = paidOut === 0n ? 0 : Number(take) / Number(paidOut);
    row.take[weighting] = (take - revotes) / BigInt(periods);
  }
  return row;
}

export function fundCapture(o: FundOptions): { rows: FundRow[]; text: string } {
  const rng = new Rng(o.seed);
  // Honest voters' balances: log-normal, median 50 Zi (Box–Muller).
  const balances = Array.from({ length: o.honestVoters }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    return BigInt(Math.round(50 * Math.exp(1.5 * z) * 1e9));
  });
  const votes = balances.map(() => rng.int(o.payees));
  const honestBalance = balances.reduce((a, b) => a + b, 0n);
  const rows = o.sybils.map((k) => simulate(k, o, balances, votes));
  const net = (take: bigint, cost: bigint) => `${zi(take - cost)} Zi`;
  const text = [
    `${whole(o.honestActive)} honest active addresses, ${whole(o.honestVoters)} of them voting (${zi(honestBalance, 0)} Zi between them) for ${o.payees} payees; the attacker holds ${whole(o.capital)} Zi over k addresses, all active and voting for itself. Inflow ${whole(o.inflow)} Zi per 30 days, ${o.days} days; each payout clears the votes and the attacker votes again (priced as a transfer, ${whole(transferFee(params))} Li). Figures per 30 days; take is net of the re-votes, net also of the activity. Seed "${o.seed}".`,
    '',
    table(
      [
        'attacker addresses',
        'activity cost',
        'one vote per address: share',
        'take',
        'net',
        'balance weight: share',
        'take',
        'net',
      ],
      rows.map((r) => [
        whole(r.k),
        `${whole(r.cost)} Li`,
        fixed(r.share['per-address']),
        `${zi(r.take['per-address'])} Zi`,
        net(r.take['per-address'], r.cost),
        fixed(r.share.balance),
        `${zi(r.take.balance)} Zi`,
        net(r.take.balance, r.cost),
      ]),
    ),
  ].join('\n');
  return { rows, text };
}
