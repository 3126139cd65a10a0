// Lazy voters: a miner that votes without running `validate` saves the
// audit's cost k. Vote fees go only to the verdict's side, so a blind "Valid"
// loses its fee f whenever the contract was bad; a copier that repeats the
// vote before it (votes are public, in blocks) loses only when that vote was
// wrong. Figures per vote, in units of f (the fee of a winning vote).
import { runAudit, type Verdict } from './audit-model.ts';
import { Rng } from './random.ts';
import { fixed, table, whole } from './table.ts';

export interface LazyOptions {
  /** The cost of auditing honestly, in units of f. */
  cost: number;
  scenarios: readonly { name: string; blind: number; copier: number; fraud: number }[];
  audits: number;
  seed: string;
}

const FEW = 0.01;

export const LAZY_DOC: LazyOptions = {
  cost: 0.05,
  scenarios: [
    ...[0, 0.01, 0.05, 0.1, 0.2].map((fraud) => ({
      name: 'honest miners, a few lazy ones',
      blind: FEW,
      copier: FEW,
      fraud,
    })),
    { name: 'half the miners copy', blind: 0, copier: 0.5, fraud: 0.05 },
    { name: 'most miners copy', blind: 0, copier: 0.9, fraud: 0.05 },
    { name: 'half the miners vote blind', blind: 0.5, copier: 0, fraud: 0.05 },
  ],
  audits: 200_000,
  seed: 'lazy',
};

type Kind = 'honest' | 'blind' | 'copier';

export interface LazyRow {
  name: string;
  blind: number;
  copier: number;
  fraud: number;
  net: Record<Kind, number>;
  caught: number;
}

function scenario(s: LazyOptions['scenarios'][number], o: LazyOptions, i: number): LazyRow {
  const rng = new Rng(`${o.seed}/${i}`);
  const earned: Record<Kind, number> = { honest: 0, blind: 0, copier: 0 };
  const votes: Record<Kind, number> = { honest: 0, blind: 0, copier: 0 };
  let frauds = 0;
  let caught = 0;
  for (let a = 0; a < o.audits; a++) {
    const bad = rng.chance(s.fraud);
    const who: Kind[] = [];
    const outcome = runAudit((_round, earlier): Verdict => {
      const u = rng.next();
      const kind: Kind = u < s.blind ? 'blind' : u < s.blind + s.copier ? 'copier' : 'honest';
      who.push(kind);
      votes[kind]++;
      if (kind === 'honest') {
        earned.honest -= o.cost;
        return bad ? 'invalid' : 'valid';
      }
      if (kind === 'copier' && earlier.length > 0) return earlier[earlier.length - 1]!;
      return 'valid';
    });
    // Only the deciding round's votes on the verdict's side are paid.
    const cast = [...outcome.round1, ...outcome.round2];
    const from = outcome.round === 1 ? 0 : 3;
    for (let v = from; v < cast.length; v++) if (cast[v] === outcome.verdict) earned[who[v]!] += 1;
    if (bad) {
      frauds++;
      if (outcome.verdict === 'invalid') caught++;
    }
  }
  const per = (k: Kind) => (votes[k] === 0 ? Number.NaN : earned[k] / votes[k]);
  return {
    ...s,
    net: { honest: per('honest'), blind: per('blind'), copier: per('copier') },
    caught: frauds === 0 ? Number.NaN : caught / frauds,
  };
}

export function lazyVoters(o: LazyOptions): { rows: LazyRow[]; text: string } {
  const rows = o.scenarios.map((s, i) => scenario(s, o, i));
  const text = [
    `Audit cost k = ${o.cost} f; ${whole(o.audits)} audits a row, seed "${o.seed}". Net per vote = fees won − audit cost, in units of f.`,
    '',
    table(
      ['miners', 'blind', 'copiers', 'bad contracts', 'honest net', 'blind net', 'copier net', 'bad contracts caught'],
      rows.map((r) => [
        r.name,
        `${Math.round(r.blind * 100)} %`,
        `${Math.round(r.copier * 100)} %`,
        `${Math.round(r.fraud * 100)} %`,
        fixed(r.net.honest, 3),
        fixed(r.net.blind, 3),
        fixed(r.net.copier, 3),
        fixed(r.caught, 3),
      ]),
    ),
  ].join('\n');
  return { rows, text };
}
