/**
 * The audit rules of DESIGN.md §6 as pure functions, for the simulations.
 * src/audit does not exist yet; when it does, the simulations should take
 * their verdict and fee rules from it instead of from here.
 *
 * Round 1: the first 3 votes; unanimous → that is the verdict. Split → round
 * 2: the next 9 votes (new voters) decide by majority. Vote fees are minted
 * to the votes on the verdict's side: min(1,000 × v, held ÷ 3) each in round
 * 1, min(1,000 × v, held ÷ 9) each in round 2.
 */

export type Verdict = 'valid' | 'invalid';

export interface AuditOutcome {
  verdict: Verdict;
  /** The round that decided. */
  round: 1 | 2;
  round1: Verdict[];
  round2: Verdict[];
}

/** Who votes how: called once per vote in block order, with the votes already cast in this audit. */
export type Voter = (round: 1 | 2, earlier: readonly Verdict[]) => Verdict;

export function runAudit(vote: Voter): AuditOutcome {
  const round1: Verdict[] = [];
  for (let i = 0; i < 3; i++) round1.push(vote(1, round1));
  if (round1.every((v) => v === round1[0])) return { verdict: round1[0]!, round: 1, round1, round2: [] };
  const round2: Verdict[] = [];
  for (let i = 0; i < 9; i++) round2.push(vote(2, [...round1, ...round2]));
  const invalid = round2.filter((v) => v === 'invalid').length;
  return { verdict: invalid >= 5 ? 'invalid' : 'valid', round: 2, round1, round2 };
}

/** An appeal: 9 new voters, majority. */
export function runAppeal(vote: () => Verdict): Verdict {
  let invalid = 0;
  for (let i = 0; i < 9; i++) if (vote() === 'invalid') invalid++;
  return invalid >= 5 ? 'invalid' : 'valid';
}

export const FEE_MCUS = 1000n;

/** What one vote on the verdict's side is minted in the deciding round. */
export function voteFee(round: 1 | 2, v: bigint, held: bigint): bigint {
  const share = held / (round === 1 ? 3n : 9n);
  const cap = FEE_MCUS * v;
  return share < cap ? share : cap;
}

/**
 * Li minted for an audit. DESIGN.md pays the votes "on the verdict's side,
 * when the verdict is reached"; read literally, a round-2 verdict could also
 * pay the round-1 votes that agreed with it ('every-round'). Only the
 * deciding round's votes can be paid if an audit is never to mint more than
 * its held fees ('deciding-round').
 */
export function minted(o: AuditOutcome, v: bigint, held: bigint, reading: 'deciding-round' | 'every-round'): bigint {
  const winners = (votes: readonly Verdict[]) => BigInt(votes.filter((x) => x === o.verdict).length);
  if (o.round === 1) return 3n * voteFee(1, v, held);
  const second = winners(o.round2) * voteFee(2, v, held);
  return reading === 'deciding-round' ? second : second + winners(o.round1) * voteFee(1, v, held);
}

/** C(n, k) as a float (n ≤ 60 here, exact in a double). */
export function choose(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}

/** P(X ≥ k) for X ~ Binomial(n, p). */
export function atLeast(n: number, k: number, p: number): number {
  let s = 0;
  for (let i = k; i <= n; i++) s += choose(n, i) * p ** i * (1 - p) ** (n - i);
  return s;
}

/** The paper's rule: the verdict is the majority of 3 votes; each vote is "x" with probability a. */
export function majorityOf3(a: number): number {
  return atLeast(3, 2, a);
}

/**
 * This design's rule: the probability that the verdict is "x" when each vote
 * independently is "x" with probability a in round 1 and b in round 2
 * (the same voters' behaviour unless a rule changes it between rounds).
 */
export function unanimousThenNine(a: number, b = a): number {
  const split = 1 - a ** 3 - (1 - a) ** 3;
  return a ** 3 + split * atLeast(9, 5, b);
}
