/**
 * docs/ECONOMICS.md cannot drift from its simulations: the quick ones run
 * at the doc's sizes and must print exactly the doc's tables, and the slow
 * ones (the real assignment functions, run many times) run small and must
 * still show what the doc concludes from them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { majorityOf3, unanimousThenNine } from '../bench/economics/audit-model.ts';
import { BOOTSTRAP_DOC, bootstrap } from '../bench/economics/bootstrap.ts';
import { COLLUSION_DOC, collusion } from '../bench/economics/collusion.ts';
import { FUND_DOC, fundCapture } from '../bench/economics/fund-capture.ts';
import { grinding } from '../bench/economics/grinding.ts';
import { LAZY_DOC, lazyVoters } from '../bench/economics/lazy-voters.ts';
import { MINT_DOC, minting } from '../bench/economics/minting.ts';
import { DOC_PATH, docBlock, SIMULATIONS } from '../bench/economics/simulations.ts';
import { stakeGrinding } from '../bench/economics/stake-grinding.ts';
import { SYBIL_DOC, sybilAudit } from '../bench/economics/sybil-audit.ts';
import { ties } from '../bench/economics/ties.ts';

const doc = readFileSync(DOC_PATH, 'utf8');

function printed(name: string): string {
  const block = docBlock(doc, name);
  assert.ok(block !== undefined, `docs/ECONOMICS.md has a block for ${name}`);
  return block;
}

test('every simulation has its table in the doc, under the command that prints it', () => {
  for (const sim of SIMULATIONS) {
    printed(sim.name);
    const at = doc.indexOf(`<!-- econ:${sim.name} -->`);
    const before = doc.slice(0, at).trimEnd().split('\n').at(-1) ?? '';
    assert.match(before, new RegExp(`\`node bench/economics/run.ts ${sim.name}\``), sim.name);
  }
});

describe('the quick simulations print exactly the doc', () => {
  test('sybil miners: 0.216 for the paper, 0.089 for this design at a 30 % share', () => {
    const r = sybilAudit(SYBIL_DOC);
    assert.equal(r.text, printed('sybil-audit'));
    const at30 = r.rows.find((x) => x.share === 0.3)!;
    // Exact rationals at p = 3/10: 27/125, and p³ + (1 − p³ − (1 − p)³) · P(Bin(9, p) ≥ 5).
    assert.equal(majorityOf3(0.3).toFixed(12), (27 / 125).toFixed(12));
    const tail = [5, 6, 7, 8, 9].reduce((s, k) => s + binomial(9, k) * 3n ** BigInt(k) * 7n ** BigInt(9 - k), 0n);
    const design = 27n * 10n ** 9n + 630n * tail; // over 10^12
    assert.equal(unanimousThenNine(0.3).toFixed(12), (Number(design) / 1e12).toFixed(12));
    assert.equal(at30.paperExact.toFixed(3), '0.216');
    assert.equal(at30.designExact.toFixed(3), '0.089');
    assert.ok(Math.abs(at30.paperMc - at30.paperExact) < 0.005 && Math.abs(at30.designMc - at30.designExact) < 0.005);
    for (const row of r.rows.filter((x) => x.share < 0.5)) assert.ok(row.designExact < row.paperExact);
  });

  test('self-audit minting: never more than the held fees, unless round-1 votes are paid for a round-2 verdict', () => {
    const r = minting(MINT_DOC);
    assert.equal(r.text, printed('minting'));
    const [deciding, every] = r.fuzz;
    assert.equal(deciding!.exceeded, 0);
    assert.ok(deciding!.max <= 1);
    assert.ok(every!.exceeded > 0 && every!.max > 1.6);
    // Sustained inflation: the coalition's whole stake every 4 blocks, far beyond the subsidy.
    for (const c of r.cycles) {
      assert.ok(c.mintedPerBlock <= c.stake / 4n);
      assert.ok(c.mintedPerBlock > (c.stake * 99n) / 400n);
    }
  });

  test('collusion: Bidders never lose more than the stake at once; faking a few batches is rarely convicted', () => {
    const r = collusion(COLLUSION_DOC);
    assert.equal(r.text, printed('collusion'));
    for (const row of r.reservations) {
      assert.ok(row.signedAway <= row.stake && row.worstRatio <= 1);
    }
    assert.ok(r.reservations.some((row) => row.refused > 0));
    const few = r.deterrence.find((d) => d.share === 0 && d.faked === 0.01)!;
    assert.ok(few.designLoss > 1000 && few.evidenceLoss < 1);
  });

  test('lazy voters: voting blind pays while bad contracts are rarer than k/f, and copying pays more', () => {
    const r = lazyVoters(LAZY_DOC);
    assert.equal(r.text, printed('lazy-voters'));
    const at = (fraud: number) => r.rows.find((x) => x.fraud === fraud && x.blind === 0.01)!;
    assert.ok(at(0.01).net.blind > at(0.01).net.honest);
    assert.ok(at(0.1).net.blind < at(0.1).net.honest);
    assert.ok(at(0.05).net.copier > at(0.05).net.honest);
  });

  test('fund capture: addresses buy votes under one vote per address, nothing under balance weight', () => {
    const r = fundCapture(FUND_DOC);
    assert.equal(r.text, printed('fund-capture'));
    const k1000 = r.rows.find((x) => x.k === 1000)!;
    assert.equal(k1000.share['per-address'].toFixed(6), '0.500000');
    const shares = r.rows.map((x) => x.share.balance);
    assert.ok(Math.max(...shares) - Math.min(...shares) < 1e-6);
    assert.ok(r.rows.every((x, i) => i === 0 || x.take.balance <= r.rows[i - 1]!.take.balance));
  });

  test('bootstrap Solvers: a prompt honest handshake calls the fleet in; the quiet-only rule leaves it alone', () => {
    const r = bootstrap(BOOTSTRAP_DOC);
    assert.equal(r.text, printed('bootstrap'));
    const prompt = r.rows.filter((x) => x.scenario === BOOTSTRAP_DOC.scenarios[0]!.name);
    assert.ok(prompt.find((x) => x.rule === 'as built')!.honest < 0.2);
    assert.equal(prompt.find((x) => x.rule.startsWith('proposed'))!.honest, 1);
  });
});

describe('the slow simulations, small', () => {
  test('grinding: the paper key is steered, the block-hash key is not, closing and reposting is', () => {
    const r = grinding({ validators: 10, trials: 300, fairKeys: 3000, seed: 'grinding' });
    const share = (prefix: string, tries: number) =>
      r.rows.find((x) => x.name.startsWith(prefix) && x.name.endsWith(`×${tries}`))!.share;
    assert.ok(share("paper's key", 30) > 0.8);
    assert.ok(Math.abs(share('this design', 30) - r.fair) < 0.05);
    assert.ok(share('Bidder closes', 31) > 0.8);
  });

  test('ties: the largest staker wins more than 1/n, a lottery tie-break would not', () => {
    const r = ties({ sizes: [10], keys: 1000, seed: 'ties' });
    const row = r.rows[0]!;
    assert.ok(row.topTie > 0.25);
    assert.ok(row.largest > 0.12);
    assert.ok(Math.abs(row.largestFairTie - 0.1) < 0.03);
  });

  test('stake grinding: a txid with runs of equal digits wins more than its share', () => {
    const r = stakeGrinding({ sizes: [10], candidates: [1, 20_000], keys: 1000, seed: 'stake-grinding' });
    assert.ok(r.rows[1]!.share > 0.115);
    assert.ok(r.rows[1]!.share > r.rows[0]!.share * 1.5);
  });
});

function binomial(n: number, k: number): bigint {
  let c = 1n;
  for (let i = 1; i <= k; i++) c = (c * BigInt(n - k + i)) / BigInt(i);
  return c;
}
