import type { Address } from './address.ts';
import { Reader, Writer } from './encoding.ts';
import { DecodeError, ValidationError } from './errors.ts';
import type { StateReader, StateWriter } from './state.ts';
import { STATE_ACCOUNT, stateKey } from './store/layout.ts';

export interface Account {
  readonly balance: bigint;
  readonly nonce: bigint;
  /**
   * Block timestamps (ms) of the address's latest transactions, oldest
   * first, at most the network's activeTxCount (activity.ts). Kept in the
   * account so that counting activity costs no extra state read.
   */
  readonly activity: readonly number[];
}

/** Most timestamps an account record may hold (a network's activeTxCount is at most this). */
export const MAX_ACTIVITY = 64;

const EMPTY: Account = Object.freeze({ balance: 0n, nonce: 0n, activity: Object.freeze([]) });

export function accountKey(address: Address): Uint8Array {
  return stateKey(STATE_ACCOUNT, address);
}

/**
 * u64 balance ‖ u64 nonce ‖ u8 n ‖ n × u64 timestamp (non-decreasing).
 * Decoded each time it is read, with no memo: a memo of decoded accounts
 * cost the garbage collector more than the decoding it saved (measured: a
 * block applied in three quarters of the time without one).
 */
export function decodeAccount(raw: Uint8Array): Account {
  const r = new Reader(raw);
  const balance = r.u64('account.balance');
  const nonce = r.u64('account.nonce');
  const n = r.u8('account.activity');
  if (n > MAX_ACTIVITY) throw new DecodeError('BAD_VALUE', `an account holds at most ${MAX_ACTIVITY} timestamps`);
  const activity: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = r.u64n('account.activity');
    if (i > 0 && t < activity[i - 1]!) {
      throw new DecodeError('BAD_VALUE', 'account activity timestamps are in order', { what: 'account.activity' });
    }
    activity.push(t);
  }
  r.end('account');
  return { balance, nonce, activity };
}

export function encodeAccount(acct: Account): Uint8Array {
  const w = new Writer(17 + 8 * acct.activity.length).u64(acct.balance).u64(acct.nonce).u8(acct.activity.length);
  // Indexed: this runs for every account a block writes, and an iterator is garbage each time.
  for (let i = 0; i < acct.activity.length; i++) w.u64n(acct.activity[i]!);
  return w.finish();
}

export function getAccount(state: StateReader, address: Address): Account {
  return readAccount(state, accountKey(address));
}

export function putAccount(state: StateWriter, address: Address, acct: Account): void {
  writeAccount(state, accountKey(address), acct);
}

/** An account by its state key (and that key's keyId, where known): for a caller that reads and then writes it. */
export function readAccount(state: StateReader, key: Uint8Array, id?: string): Account {
  const raw = state.get(key, id);
  return raw === undefined ? EMPTY : decodeAccount(raw);
}

export function writeAccount(state: StateWriter, key: Uint8Array, acct: Account, id?: string): void {
  // An empty account is no account: keeps the state canonical and small.
  if (acct.balance === 0n && acct.nonce === 0n && acct.activity.length === 0) state.del(key);
  else state.put(key, encodeAccount(acct), id);
}

export function credit(state: StateWriter, address: Address, amount: bigint): void {
  if (amount < 0n) throw new RangeError('negative credit');
  if (amount === 0n) return;
  const acct = getAccount(state, address);
  putAccount(state, address, { ...acct, balance: acct.balance + amount });
}

/** The account less `amount`, or INSUFFICIENT_FUNDS. */
export function lessBalance(acct: Account, amount: bigint): Account {
  return { ...acct, balance: spend(acct.balance, amount) };
}

/** `balance` less `amount`, or INSUFFICIENT_FUNDS: lessBalance without an account to copy (ledger.ts's fused transfer). */
export function spend(balance: bigint, amount: bigint): bigint {
  if (amount < 0n) throw new RangeError('negative debit');
  if (balance < amount) {
    throw new ValidationError('INSUFFICIENT_FUNDS', `balance ${balance} Li is less than ${amount} Li`, {
      balance,
      needed: amount,
    });
  }
  return balance - amount;
}

export function debit(state: StateWriter, address: Address, amount: bigint): void {
  putAccount(state, address, lessBalance(getAccount(state, address), amount));
}
