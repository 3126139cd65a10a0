// Bidder grinding for its own Validator: how often a chosen Validator X gets
// a contract, with the real assignment (src/validator/assignment.ts), when
// the Bidder tries to steer it: by grinding the contract id (which is all
// the paper's key uses), by discarding found blocks (a miner-Bidder), or by
// closing an unwanted assignment and posting again.
import { equalBytes } from '../../src/chain/encoding.ts';
import type { Hash } from '../../src/chain/hash.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import { assignmentKey, type Candidate, chooseValidator } from '../../src/validator/assignment.ts';
import { closeFee, delegatedContractFee } from './fees.ts';
import { Rng } from './random.ts';
import { amount, fixed, table, whole, zi } from './table.ts';
import { MATURE_HEIGHT, validators } from './validators.ts';

export interface GrindOptions {
  validators: number;
  /** Contracts per strategy row. */
  trials: number;
  /** Random keys to measure X's fair share. */
  fairKeys: number;
  seed: string;
}

export const GRIND_DOC: GrindOptions = { validators: 10, trials: 2500, fairKeys: 60_000, seed: 'grinding' };

const params = NETWORKS.mainnet;
const BUDGET = 1n;

interface Strategy {
  name: string;
  tries: number;
  /** One contract: whether X got it, and what steering it cost (Li). */
  play(rng: Rng, won: (key: Hash) => boolean): { won: boolean; cost: bigint };
  /** X's share and the expected cost (Li) from X's fair share w. */
  expected(w: number): { share: number; cost: number };
}

export function grinding(o: GrindOptions): { fair: number; rows: { name: string; share: number }[]; text: string } {
  const rng = new Rng(o.seed);
  const vs = validators(rng, o.validators);
  // X: the median staker, so it neither wins nor loses most ties on stake.
  const x = vs[Math.floor(o.validators / 2)]!;
  const winner = (key: Hash) => chooseValidator(vs, key, BUDGET, MATURE_HEIGHT, params);
  const isX = (key: Hash) => equalBytes((winner(key) as Candidate).address, x.address);
  let fairWins = 0;
  for (let i = 0; i < o.fairKeys; i++) if (isX(rng.bytes32())) fairWins++;
  const w = fairWins / o.fairKeys;
  const reroll = delegatedContractFee(params) + closeFee(params);
  const geometric = (n: number) => {
    let s = 0;
    for (let j = 1; j <= n; j++) s += (1 - w) ** j;
    return s;
  };
  const strategies: Strategy[] = [
    {
      name: 'no steering: one contract, key from its block',
      tries: 1,
      play: (r, won) => ({ won: won(assignmentKey(r.bytes32(), r.bytes32())), cost: 0n }),
      expected: (w) => ({ share: w, cost: 0 }),
    },
    ...[30].map(
      (g): Strategy => ({
        name: "paper's key (contract id): Bidder grinds ids offline",
        tries: g,
        play: (r, won) => {
          for (let i = 0; i < g; i++) if (won(r.bytes32())) return { won: true, cost: 0n };
          return { won: false, cost: 0n };
        },
        expected: (w) => ({ share: 1 - (1 - w) ** g, cost: 0 }),
      }),
    ),
    {
      name: "this design: Bidder grinds ids against the tip's hash",
      tries: 30,
      play: (r, won) => {
        const tip = r.bytes32();
        let id = r.bytes32();
        for (let i = 0; i < 30; i++) {
          if (won(assignmentKey(tip, id))) break;
          id = r.bytes32();
        }
        // The block that includes it has a hash the Bidder could not know.
        return { won: won(assignmentKey(r.bytes32(), id)), cost: 0n };
      },
      expected: (w) => ({ share: w, cost: 0 }),
    },
    ...[1, 10].map(
      (d): Strategy => ({
        name: 'miner-Bidder discards found blocks',
        tries: d + 1,
        play: (r, won) => {
          const id = r.bytes32();
          for (let i = 0; i <= d; i++) {
            if (won(assignmentKey(r.bytes32(), id))) return { won: true, cost: BigInt(i) * params.subsidy };
          }
          return { won: false, cost: BigInt(d) * params.subsidy };
        },
        expected: (w) => ({ share: 1 - (1 - w) ** (d + 1), cost: geometric(d) * Number(params.subsidy) }),
      }),
    ),
    ...[10, 30].map(
      (k): Strategy => ({
        name: 'Bidder closes an unwanted assignment and posts again',
        tries: k + 1,
        play: (r, won) => {
          for (let i = 0; i <= k; i++) {
            if (won(assignmentKey(r.bytes32(), r.bytes32()))) return { won: true, cost: BigInt(i) * reroll };
          }
          return { won: false, cost: BigInt(k) * reroll };
        },
        expected: (w) => ({ share: 1 - (1 - w) ** (k + 1), cost: geometric(k) * Number(reroll) }),
      }),
    ),
  ];
  const rows = strategies.map((s, i) => {
    const r = new Rng(`${o.seed}/${i}`);
    let wins = 0;
    let cost = 0n;
    for (let t = 0; t < o.trials; t++) {
      const out = s.play(r, isX);
      if (out.won) wins++;
      cost += out.cost;
    }
    const e = s.expected(w);
    return { s, share: wins / o.trials, cost: Number(cost) / o.trials, e };
  });
  const text = [
    `${o.validators} Validators with distinct stakes; X is the median staker; fair share of X measured over ${whole(o.fairKeys)} random keys: ${fixed(w)} (1/${o.validators} = ${fixed(1 / o.validators)}). ${whole(o.trials)} contracts per row, seed "${o.seed}". A re-roll by close and repost costs the minimum fees of a delegated contract and its close: ${whole(reroll)} Li; a discarded block costs its subsidy, ${zi(params.subsidy, 0)} Zi (mainnet), fees not counted.`,
    '',
    table(
      ['strategy', 'tries', "X's share (MC)", 'expected', 'cost per contract (MC)', 'expected cost'],
      rows.map((r) => [r.s.name, r.s.tries, fixed(r.share), fixed(r.e.share), amount(r.cost), amount(r.e.cost)]),
    ),
  ].join('\n');
  return { fair: w, rows: rows.map((r) => ({ name: `${r.s.name} ×${r.s.tries}`, share: r.share })), text };
}
