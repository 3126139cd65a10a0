// Self-audit minting. Part 1: the vote-fee rule, fuzzed, never mints more
// than the audited contract's held validation fees (when only the deciding
// round is paid). Part 2: what that bound is worth to a coalition that is
// Bidder, Solver and Validator at once: its held fees come back to its own
// Validator, so every audit mints new coins for nothing but a few fees, and
// the only limit is how fast its stake can cycle through audits.
import { LI_PER_ZI, NETWORKS } from '../../src/chain/params.ts';
import { minted, runAudit, type Verdict } from './audit-model.ts';
import { closeFee, delegatedContractFee, singlePayoutFee } from './fees.ts';
import { Rng } from './random.ts';
import { fixed, table, whole, zi } from './table.ts';

export interface MintOptions {
  audits: number;
  blocks: number;
  stakes: readonly number[];
  shares: readonly number[];
  seed: string;
}

export const MINT_DOC: MintOptions = {
  audits: 100_000,
  blocks: 1000,
  stakes: [1000, 10_000, 100_000],
  shares: [0.1, 0.3],
  seed: 'minting',
};

const params = NETWORKS.mainnet;
/** The first vote comes in the block after the close (DESIGN.md §6). */
const CONTRACT_TO_VERDICT = 4;
/** MCUs the coalition pays itself per contract: at 3,000, round 1 mints all of the held fees. */
const SELF_MCUS = 3000n;

export interface FuzzRow {
  reading: 'deciding-round' | 'every-round';
  max: number;
  mean: number;
  exceeded: number;
}

function fuzz(o: MintOptions): FuzzRow[] {
  const rng = new Rng(`${o.seed}/fuzz`);
  const out: Record<FuzzRow['reading'], { max: number; sum: number; exceeded: number }> = {
    'deciding-round': { max: 0, sum: 0, exceeded: 0 },
    'every-round': { max: 0, sum: 0, exceeded: 0 },
  };
  for (let i = 0; i < o.audits; i++) {
    const v = BigInt(Math.ceil(10 ** (9 * rng.next())));
    const mcus = BigInt(Math.ceil(10 ** (7 * rng.next())));
    const held = v * mcus;
    // Any mix of voters, honest or not: the bound must hold whatever they vote.
    const pInvalid = rng.next();
    const o1 = runAudit((): Verdict => (rng.chance(pInvalid) ? 'invalid' : 'valid'));
    for (const reading of ['deciding-round', 'every-round'] as const) {
      const m = minted(o1, v, held, reading);
      const r = Number(m) / Number(held);
      const acc = out[reading];
      acc.max = Math.max(acc.max, r);
      acc.sum += r;
      if (m > held) acc.exceeded++;
    }
  }
  return (['deciding-round', 'every-round'] as const).map((reading) => ({
    reading,
    max: out[reading].max,
    mean: out[reading].sum / o.audits,
    exceeded: out[reading].exceeded,
  }));
}

export interface CycleRow {
  stake: bigint;
  share: number;
  mintedPerBlock: bigint;
  takenPerBlock: bigint;
  feesPerBlock: bigint;
}

/**
 * The coalition's pipeline, block by block: it opens a contract with all its
 * free stake as budget (assigned to its own Validator: no other has the free
 * stake for it, or it re-rolls, grinding.ts), pays its Solver 3,000 MCUs in
 * the next block and closes, and three blocks later the verdict (Valid: the
 * work is real) mints the vote fees and frees the stake.
 */
function cycle(stakeZi: number, share: number, o: MintOptions): CycleRow {
  const rng = new Rng(`${o.seed}/cycle/${stakeZi}/${share}`);
  const stake = BigInt(stakeZi) * LI_PER_ZI;
  const fees = delegatedContractFee(params) + singlePayoutFee(params, Number(SELF_MCUS)) + closeFee(params);
  let free = stake;
  const inFlight: { verdictAt: number; budget: bigint; held: bigint; v: bigint }[] = [];
  let mintedTotal = 0n;
  let taken = 0n;
  let paid = 0n;
  for (let b = 0; b < o.blocks; b++) {
    for (const c of inFlight.filter((x) => x.verdictAt === b)) {
      // Round 1, unanimous Valid: three votes of min(1000 v, held / 3).
      const m = minted({ verdict: 'valid', round: 1, round1: [], round2: [] }, c.v, c.held, 'deciding-round');
      mintedTotal += m;
      for (let i = 0; i < 3; i++) if (rng.chance(share)) taken += m / 3n;
      free += c.budget;
    }
    for (let i = inFlight.length - 1; i >= 0; i--) if (inFlight[i]!.verdictAt <= b) inFlight.splice(i, 1);
    if (free > fees + SELF_MCUS * 2n) {
      const budget = free;
      // price 1 Li; the rest of the budget is validation fee, so held ≈ budget.
      const v = (budget - fees) / SELF_MCUS - 1n;
      inFlight.push({ verdictAt: b + CONTRACT_TO_VERDICT, budget, held: v * SELF_MCUS, v });
      free = 0n;
      paid += fees;
    }
  }
  const n = BigInt(o.blocks);
  return { stake, share, mintedPerBlock: mintedTotal / n, takenPerBlock: taken / n, feesPerBlock: paid / n };
}

export function minting(o: MintOptions): { fuzz: FuzzRow[]; cycles: CycleRow[]; text: string } {
  const f = fuzz(o);
  const cycles = o.stakes.flatMap((s) => o.shares.map((p) => cycle(s, p, o)));
  const text = [
    `Part 1: ${whole(o.audits)} random audits (v 1 Li–1 Zi per MCU, 1–10 million MCUs paid, any mix of votes), seed "${o.seed}".`,
    '',
    table(
      ['which votes are paid', 'max minted ÷ held', 'mean minted ÷ held', 'audits minting more than held'],
      f.map((r) => [
        r.reading === 'deciding-round'
          ? 'the deciding round only'
          : 'also round-1 votes agreeing with a round-2 verdict',
        fixed(r.max),
        fixed(r.mean),
        whole(r.exceeded),
      ]),
    ),
    '',
    `Part 2: a self-dealing coalition over ${whole(o.blocks)} blocks (contract → payout and close → 3 votes: a verdict ${CONTRACT_TO_VERDICT} blocks after the contract); honest miners vote Valid too, so the coalition gets the votes it mines. Mainnet subsidy ${zi(params.subsidy, 0)} Zi.`,
    '',
    table(
      [
        'coalition stake',
        'hash share',
        'minted per block',
        '÷ subsidy',
        'coalition takes per block',
        'its fees per block',
        'its subsidy per block',
      ],
      cycles.map((c) => [
        `${zi(c.stake, 0)} Zi`,
        `${Math.round(c.share * 100)} %`,
        `${zi(c.mintedPerBlock)} Zi`,
        `${(Number(c.mintedPerBlock) / Number(params.subsidy)).toFixed(1)}×`,
        `${zi(c.takenPerBlock)} Zi`,
        `${whole(c.feesPerBlock)} Li`,
        `${zi(BigInt(Math.round(c.share * Number(params.subsidy))))} Zi`,
      ]),
    ),
  ].join('\n');
  return { fuzz: f, cycles, text };
}
