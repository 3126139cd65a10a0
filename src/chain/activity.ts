import { getAccount, MAX_ACTIVITY, putAccount } from './accounts.ts';
import type { Address } from './address.ts';
import type { NetworkParams } from './params.ts';
import type { StateReader, StateWriter } from './state.ts';

/**
 * An address is active when it was party to at least activeTxCount
 * transactions in the last activeWindowMs of block time (DESIGN.md §3).
 * Keeping the timestamps of its latest activeTxCount transactions is enough
 * to decide that exactly, and being state, it is undone with the block.
 */

/** An account's activity with one more transaction at `timestamp`. */
export function withActivity(activity: readonly number[], timestamp: number, params: NetworkParams): number[] {
  const keep = Math.min(params.activeTxCount, MAX_ACTIVITY);
  return [...activity, timestamp].slice(-keep);
}

export function recordActivity(state: StateWriter, address: Address, timestamp: number, params: NetworkParams): void {
  const acct = getAccount(state, address);
  putAccount(state, address, { ...acct, activity: withActivity(acct.activity, timestamp, params) });
}

export interface Activity {
  active: boolean;
  /** Transactions inside the window, counted up to activeTxCount. */
  recent: number;
  /** When the address stops being active if it sends and receives nothing more (ms). */
  activeUntil?: number;
  lastTx?: number;
}

export function activityOf(activity: readonly number[], now: number, params: NetworkParams): Activity {
  const since = now - params.activeWindowMs;
  const recent = activity.filter((t) => t > since).length;
  const oldest = activity[activity.length - params.activeTxCount];
  const active = activity.length >= params.activeTxCount && oldest !== undefined && oldest > since;
  return {
    active,
    recent,
    ...(active ? { activeUntil: oldest + params.activeWindowMs } : {}),
    ...(activity.length > 0 ? { lastTx: activity[activity.length - 1] } : {}),
  };
}

/** Whether an address is active at block time `now`, from the state at the tip. */
export function isActive(state: StateReader, address: Address, now: number, params: NetworkParams): boolean {
  return activityOf(getAccount(state, address).activity, now, params).active;
}
