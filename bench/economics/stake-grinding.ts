// A Validator grinding its own stake txid. The fit compares the assignment
// key with the stake txid itself, and a txid whose hex has runs of equal
// digits sits further (in Levenshtein distance) from random strings than a
// typical one: so a Validator that signs its stake transaction many times
// (a new memo or signature nonce each time, free and offline) and keeps the
// most "runny" txid wins more than its share, at any stake, for good.
import { equalBytes } from '../../src/chain/encoding.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import { chooseValidator, fit } from '../../src/validator/assignment.ts';
import { Rng } from './random.ts';
import { fixed, table, whole } from './table.ts';
import { MATURE_HEIGHT, validators } from './validators.ts';

export interface StakeGrindOptions {
  sizes: readonly number[];
  candidates: readonly number[];
  keys: number;
  seed: string;
}

export const STAKE_GRIND_DOC: StakeGrindOptions = {
  sizes: [10, 100],
  candidates: [1, 100_000],
  keys: 2000,
  seed: 'stake-grinding',
};

/** Adjacent equal hex digits: a cheap score that tracks a txid's mean fit to random keys. */
export function runs(txid: Uint8Array): number {
  let n = 0;
  let prev = -1;
  for (const b of txid) {
    const hi = b >> 4;
    const lo = b & 15;
    if (hi === prev) n++;
    if (lo === hi) n++;
    prev = lo;
  }
  return n;
}

export interface StakeGrindRow {
  n: number;
  g: number;
  score: number;
  share: number;
}

export function stakeGrinding(o: StakeGrindOptions): { rows: StakeGrindRow[]; text: string } {
  const rows: StakeGrindRow[] = [];
  for (const n of o.sizes) {
    for (const g of o.candidates) {
      const rng = new Rng(`${o.seed}/${n}/${g}`);
      let best = rng.bytes32();
      for (let i = 1; i < g; i++) {
        const t = rng.bytes32();
        if (runs(t) > runs(best)) best = t;
      }
      let wins = 0;
      for (let k = 0; k < o.keys; k++) {
        const vs = validators(rng, n);
        // The grinder is the smallest staker: it loses every tie, so all it wins is its txid's doing.
        const me = vs[n - 1]!;
        me.stake.txid = best;
        const key = rng.bytes32();
        const fits = vs.map((v) => fit(key, v.stake.txid));
        const top = Math.max(...fits);
        const chosen = chooseValidator(
          vs.filter((_, i) => fits[i] === top),
          key,
          1n,
          MATURE_HEIGHT,
          NETWORKS.mainnet,
        )!;
        if (equalBytes(chosen.address, me.address)) wins++;
      }
      rows.push({ n, g, score: runs(best), share: wins / o.keys });
    }
  }
  const text = [
    `The grinder keeps, of g uniformly random txids, the one with most adjacent equal hex digits (a random txid has about 4); it is the smallest staker. ${whole(o.keys)} random keys per row, the other Validators' txids fresh for each; seed "${o.seed}".`,
    '',
    table(
      ['Validators', 'txids tried', 'adjacent equal digits', "grinder's share", 'fair 1/n', '× fair'],
      rows.map((r) => [r.n, whole(r.g), r.score, fixed(r.share), fixed(1 / r.n), `${(r.share * r.n).toFixed(2)}×`]),
    ),
  ].join('\n');
  return { rows, text };
}
