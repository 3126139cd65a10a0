import type { DifficultyParams } from './params.ts';

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
