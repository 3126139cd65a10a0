// Sybil miners in audits: an attacker with a share p of the hash power mines
// that share of the blocks, so of the votes, and under as many addresses as
// it likes (a miner address votes once per contract, but addresses are free).
// It votes the false verdict every time; honest miners vote the truth.
import { atLeast, majorityOf3, runAppeal, runAudit, unanimousThenNine, type Verdict } from './audit-model.ts';
import { Rng } from './random.ts';
import { fixed, table } from './table.ts';

export interface SybilOptions {
  shares: readonly number[];
  trials: number;
  seed: string;
}

export const SYBIL_DOC: SybilOptions = {
  shares: [0.05, 0.1, 0.2, 0.25, 0.3, 0.33, 0.4, 0.45, 0.5],
  trials: 200_000,
  seed: 'sybil',
};

export interface SybilRow {
  share: number;
  paperExact: number;
  paperMc: number;
  designExact: number;
  designMc: number;
  /** An honest Validator found guilty stays guilty after its appeal (9 more votes, majority). */
  afterAppealExact: number;
  afterAppealMc: number;
}

export function sybilAudit(o: SybilOptions): { rows: SybilRow[]; text: string } {
  const rows = o.shares.map((p) => {
    const rng = new Rng(`${o.seed}/${p}`);
    const vote = (): Verdict => (rng.chance(p) ? 'invalid' : 'valid');
    let paper = 0;
    let design = 0;
    let upheld = 0;
    for (let t = 0; t < o.trials; t++) {
      // Independent draws for each rule: the same blocks would correlate the columns.
      const attacker = (rng.chance(p) ? 1 : 0) + (rng.chance(p) ? 1 : 0) + (rng.chance(p) ? 1 : 0);
      if (attacker >= 2) paper++;
      if (runAudit(vote).verdict === 'invalid') {
        design++;
        if (runAppeal(vote) === 'invalid') upheld++;
      }
    }
    const designExact = unanimousThenNine(p);
    return {
      share: p,
      paperExact: majorityOf3(p),
      paperMc: paper / o.trials,
      designExact,
      designMc: design / o.trials,
      afterAppealExact: designExact * atLeast(9, 5, p),
      afterAppealMc: upheld / o.trials,
    };
  });
  const text = [
    `P(false verdict) against the attacker's share of the blocks; Monte Carlo: ${o.trials.toLocaleString('en-US')} audits per row, seed "${o.seed}".`,
    '',
    table(
      [
        'attacker share',
        'paper, exact',
        'paper, MC',
        'design, exact',
        'design, MC',
        'upheld on appeal, exact',
        'upheld on appeal, MC',
      ],
      rows.map((r) => [
        `${Math.round(r.share * 100)} %`,
        fixed(r.paperExact),
        fixed(r.paperMc),
        fixed(r.designExact),
        fixed(r.designMc),
        fixed(r.afterAppealExact),
        fixed(r.afterAppealMc),
      ]),
    ),
  ].join('\n');
  return { rows, text };
}
