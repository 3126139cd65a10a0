import type { DifficultyParams } from './params.ts';
import { type Transaction, TX_KINDS } from './transaction.ts';

/** Difficulty in leading zero bits, fixed-point with 16 fraction bits. */
export type DifficultyQ16 = number;

const Q = 65536;

/** DESIGN.md §2: D from the parent's height and its open problems |Po|. */
export function nextDifficulty(p: DifficultyParams, parentHeight: number, openProblems: number): DifficultyQ16 {
  const T = p.Tsec / 60;
  let D = Math.log(Math.max(parentHeight, 1)) / Math.max((openProblems / p.C1) * p.C2, p.C3) - p.Ct * T;
  D = Math.min(Math.max(D, p.Dmin), p.Dmax);
  return Math.floor(D * Q);
}

/**
 * The lowest difficulty a child of a block at `parentHeight` can be asked
 * for when |Po| after that block is not known yet (its parent was never
 * connected) but is at most `maxOpenProblems`. Sound because D never rises
 * with |Po|: ln(max(Hb, 1)) ≥ 0 and the divisor max(|Po|/C1·C2, C3) only
 * grows with |Po| (C1, C2 > 0), and the clamp and floor are monotone; so
 * |Po| ≤ bound gives D(|Po|) ≥ D(bound). test/chain/difficulty.test.ts checks
 * it against every |Po| up to the bound.
 */
export function difficultyFloor(p: DifficultyParams, parentHeight: number, maxOpenProblems: number): DifficultyQ16 {
  return nextDifficulty(p, parentHeight, maxOpenProblems);
}

/**
 * How much a block can raise |Po| at most: only a contract transaction opens
 * a problem (one each, src/market/contract-tx.ts); every other kind keeps or
 * lowers the count. Stuffing a block with transfers therefore does not let
 * its children claim a lower difficulty.
 */
export function problemsOpenedAtMost(txs: readonly Transaction[]): number {
  let n = 0;
  for (const tx of txs) if (tx.kind === TX_KINDS.contract) n++;
  return n;
}

/** floor(2^(256 − D)) computed exactly from the quantized D, no floats. */
export function targetFromDifficulty(dq: DifficultyQ16): bigint {
  if (!Number.isInteger(dq) || dq < 0 || dq > 256 * Q) throw new RangeError(`difficulty out of range: ${dq}`);
  const whole = Math.floor(dq / Q);
  const frac = (dq % Q) / Q;
  const mantissa = BigInt(Math.round(Q * 2 ** -frac));
  return (mantissa << BigInt(256 - whole)) >> 16n;
}

const TWO_256 = 1n << 256n;

/** Expected hashes to meet the target: what fork choice adds up. */
export function workFromTarget(target: bigint): bigint {
  return TWO_256 / (target + 1n);
}
