// The largest staker's tie advantage: with the real fit and tie rule
// (src/validator/assignment.ts), how often fits tie at the top, and what
// share of contracts the largest staker gets against the fair 1/n.
import { equalBytes } from '../../src/chain/encoding.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import { chooseValidator, fit } from '../../src/validator/assignment.ts';
import { Rng } from './random.ts';
import { fixed, table, whole } from './table.ts';
import { MATURE_HEIGHT, validators } from './validators.ts';

export interface TieOptions {
  sizes: readonly number[];
  keys: number;
  seed: string;
}

export const TIES_DOC: TieOptions = { sizes: [3, 10, 30, 100], keys: 4000, seed: 'ties' };

export interface TieRow {
  n: number;
  topTie: number;
  largest: number;
  smallest: number;
  /** The largest staker's share if ties were broken by a fair lottery instead. */
  largestFairTie: number;
}

export function ties(o: TieOptions): { rows: TieRow[]; text: string } {
  const rows = o.sizes.map((n) => {
    const rng = new Rng(`${o.seed}/${n}`);
    let topTie = 0;
    let largest = 0;
    let smallest = 0;
    let largestFairTie = 0;
    for (let k = 0; k < o.keys; k++) {
      // A fresh set of stake txids for every key: some txids fit random keys
      // better than others (stake-grinding measures that), which is not what this measures.
      const vs = validators(rng, n);
      const key = rng.bytes32();
      const fits = vs.map((v) => fit(key, v.stake.txid));
      const best = Math.max(...fits);
      const top = vs.filter((_, i) => fits[i] === best);
      if (top.length > 1) topTie++;
      // The real rule picks among the best fits (the others cannot win).
      const winner = chooseValidator(top, key, 1n, MATURE_HEIGHT, NETWORKS.mainnet)!;
      if (equalBytes(winner.address, vs[0]!.address)) largest++;
      if (equalBytes(winner.address, vs[n - 1]!.address)) smallest++;
      if (fits[0] === best) largestFairTie += 1 / top.length;
    }
    return {
      n,
      topTie: topTie / o.keys,
      largest: largest / o.keys,
      smallest: smallest / o.keys,
      largestFairTie: largestFairTie / o.keys,
    };
  });
  const text = [
    `Distinct stakes; ${whole(o.keys)} random assignment keys per row, each against fresh random stake txids; seed "${o.seed}".`,
    '',
    table(
      [
        'Validators',
        'fair share 1/n',
        'top fit tied',
        'largest staker',
        '× fair',
        'smallest staker',
        'largest, ties by lottery',
      ],
      rows.map((r) => [
        r.n,
        fixed(1 / r.n),
        fixed(r.topTie, 3),
        fixed(r.largest),
        `${(r.largest * r.n).toFixed(2)}×`,
        fixed(r.smallest),
        fixed(r.largestFairTie),
      ]),
    ),
  ].join('\n');
  return { rows, text };
}
