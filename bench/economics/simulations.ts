// Every simulation docs/ECONOMICS.md shows, by the name its command takes,
// at the sizes the doc's tables were printed with.
import { BOOTSTRAP_DOC, bootstrap } from './bootstrap.ts';
import { COLLUSION_DOC, collusion } from './collusion.ts';
import { FUND_DOC, fundCapture } from './fund-capture.ts';
import { GRIND_DOC, grinding } from './grinding.ts';
import { LAZY_DOC, lazyVoters } from './lazy-voters.ts';
import { MINT_DOC, minting } from './minting.ts';
import { STAKE_GRIND_DOC, stakeGrinding } from './stake-grinding.ts';
import { SYBIL_DOC, sybilAudit } from './sybil-audit.ts';
import { TIES_DOC, ties } from './ties.ts';

export interface Simulation {
  name: string;
  /** Under about 2 s here: `npm run bench` and the doc test run it at the doc's sizes. */
  quick: boolean;
  run(): string;
}

export const SIMULATIONS: readonly Simulation[] = [
  { name: 'sybil-audit', quick: true, run: () => sybilAudit(SYBIL_DOC).text },
  { name: 'grinding', quick: false, run: () => grinding(GRIND_DOC).text },
  { name: 'ties', quick: false, run: () => ties(TIES_DOC).text },
  { name: 'stake-grinding', quick: false, run: () => stakeGrinding(STAKE_GRIND_DOC).text },
  { name: 'minting', quick: true, run: () => minting(MINT_DOC).text },
  { name: 'collusion', quick: true, run: () => collusion(COLLUSION_DOC).text },
  { name: 'lazy-voters', quick: true, run: () => lazyVoters(LAZY_DOC).text },
  { name: 'fund-capture', quick: true, run: () => fundCapture(FUND_DOC).text },
  { name: 'bootstrap', quick: true, run: () => bootstrap(BOOTSTRAP_DOC).text },
];

export const DOC_PATH = new URL('../../docs/ECONOMICS.md', import.meta.url);

/**
 * The doc's printed block for a simulation: between `<!-- econ:NAME -->` and
 * `<!-- /econ:NAME -->`, blank lines around it so Markdown ends the table.
 */
export function docBlock(doc: string, name: string): string | undefined {
  const m = marker(name).exec(doc);
  return m?.[2]?.replace(/^\n+|\n+$/g, '');
}

export function withBlock(doc: string, name: string, text: string): string {
  if (docBlock(doc, name) === undefined) throw new Error(`docs/ECONOMICS.md has no block for ${name}`);
  return doc.replace(marker(name), (_m, open: string, _old: string, close: string) => `${open}\n${text}\n\n${close}`);
}

function marker(name: string): RegExp {
  return new RegExp(`(<!-- econ:${name} -->\n)([\\s\\S]*?)(<!-- /econ:${name} -->)`);
}
