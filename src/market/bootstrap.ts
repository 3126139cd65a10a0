import type { ContractRecord } from './contract-state.ts';

/** Bootstrap Solvers take only jobs paying more than this per MCU (whitepaper §2). */
export const BOOTSTRAP_MIN_PRICE = 10n;

export type BootstrapDecision = { take: true } | { take: false; reason: string };

/**
 * The paper's bootstrap-Solver rules, as a pure function of the contract and
 * the tip height: give honest Solvers a head start. A handshake shows on
 * chain as the contract's first payout (it covers one MCU).
 *
 * 1. More than 10 Li per MCU.
 * 2. Wait until one more block has been mined after the contract's.
 * 3. If that block holds a handshake, go; if not, wait until three
 *    consecutive blocks have been mined without a solution.
 */
export function bootstrapDecision(
  c: Pick<ContractRecord, 'price' | 'openedHeight' | 'firstPayoutHeight' | 'lastPayoutHeight'>,
  tipHeight: number,
): BootstrapDecision {
  if (c.price <= BOOTSTRAP_MIN_PRICE)
    return { take: false, reason: `pays ${c.price} Li per MCU, not over ${BOOTSTRAP_MIN_PRICE}` };
  const next = c.openedHeight + 1;
  if (tipHeight < next) return { take: false, reason: 'waiting for one more block' };
  if (c.firstPayoutHeight === next) return { take: true };
  const lastSolution = Math.max(c.lastPayoutHeight, c.openedHeight);
  const quiet = tipHeight - lastSolution;
  if (quiet >= 3) return { take: true };
  return { take: false, reason: `waiting for 3 blocks without a solution (${quiet} so far)` };
}
