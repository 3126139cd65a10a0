import { type Account, getAccount, MAX_ACTIVITY, putAccount } from './accounts.ts';
import { activeUntil, noteActivity } from './active-count.ts';
import { type Address, RESERVED_ADDRESS } from './address.ts';
import { equalBytes } from './encoding.ts';
import type { NetworkParams } from './params.ts';
import type { StateReader, StateWriter } from './state.ts';

/**
 * An address is active when it was party to at least activeTxCount
 * transactions in the last activeWindowMs of block time (DESIGN.md §3).
 * Keeping the timestamps of its latest activeTxCount transactions is enough
 * to decide that exactly, and being state, it is undone with the block.
 */

/**
 * The account with one more transaction at `timestamp`, the count of active
 * addresses kept in step (active-count.ts). The reserved address `000` is
 * the fund's and the stakes', never a user's: it is never active.
 */
export function withActivity(
  state: StateWriter,
  address: Address,
  acct: Account,
  timestamp: number,
  params: NetworkParams,
): Account {
  if (equalBytes(address, RESERVED_ADDRESS)) return acct;
  const activity = appendActivity(acct.activity, timestamp, params);
  noteActivity(state, address, acct.activity, activity, params);
  return { ...acct, activity };
}

/** The latest timestamps kept with one more transaction at `timestamp`. */
export function appendActivity(activity: readonly number[], timestamp: number, params: NetworkParams): number[] {
  const keep = Math.min(params.activeTxCount, MAX_ACTIVITY);
  const out = activity.length < keep ? activity.slice() : activity.slice(activity.length - keep + 1);
  out.push(timestamp);
  return out;
}

export function recordActivity(state: StateWriter, address: Address, timestamp: number, params: NetworkParams): void {
  putAccount(state, address, withActivity(state, address, getAccount(state, address), timestamp, params));
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
  const until = activeUntil(activity, params);
  const active = until !== undefined && until > now;
  return {
    active,
    recent,
    ...(active ? { activeUntil: until } : {}),
    ...(activity.length > 0 ? { lastTx: activity[activity.length - 1] } : {}),
  };
}

/** Whether an address is active at block time `now`, from the state at the tip. */
export function isActive(state: StateReader, address: Address, now: number, params: NetworkParams): boolean {
  return activityOf(getAccount(state, address).activity, now, params).active;
}
