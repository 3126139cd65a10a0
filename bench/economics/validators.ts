import { LI_PER_ZI } from '../../src/chain/params.ts';
import type { Candidate } from '../../src/validator/assignment.ts';
import type { Rng } from './random.ts';

/** A height at which every stake below has matured on every network. */
export const MATURE_HEIGHT = 1_000_000;

/**
 * n matured Validators with distinct stakes (100–1,000 Zi, so no two tie on
 * stake) and random stake txids, first stakes in height order. Sorted by
 * stake, largest first: candidates[0] is the largest staker.
 */
export function validators(rng: Rng, n: number): Candidate[] {
  const amounts = new Set<bigint>();
  while (amounts.size < n) amounts.add(BigInt(100 + rng.int(900)) * LI_PER_ZI + BigInt(rng.int(1_000_000)));
  const sorted = [...amounts].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  return sorted.map((amount, i) => ({
    address: Uint8Array.of(...new Uint8Array(19), i),
    stake: {
      amount,
      reserved: 0n,
      txid: rng.bytes32(),
      height: 1 + rng.int(1000),
      position: i,
      contracts: 0,
      flags: 0,
    },
  }));
}
