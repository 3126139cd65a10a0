import type { Address } from './address.ts';
import { Reader, Writer } from './encoding.ts';
import { ValidationError } from './errors.ts';
import type { StateReader, StateWriter } from './state.ts';
import { STATE_ACCOUNT, stateKey } from './store/layout.ts';

export interface Account {
  balance: bigint;
  nonce: bigint;
}

const EMPTY: Account = Object.freeze({ balance: 0n, nonce: 0n });

export function accountKey(address: Address): Uint8Array {
  return stateKey(STATE_ACCOUNT, address);
}

export function getAccount(state: StateReader, address: Address): Account {
  const raw = state.get(accountKey(address));
  if (raw === undefined) return EMPTY;
  const r = new Reader(raw);
  const acct = { balance: r.u64(), nonce: r.u64() };
  r.end('account');
  return acct;
}

export function putAccount(state: StateWriter, address: Address, acct: Account): void {
  // An empty account is no account: keeps the state canonical and small.
  if (acct.balance === 0n && acct.nonce === 0n) state.del(accountKey(address));
  else state.put(accountKey(address), new Writer(16).u64(acct.balance).u64(acct.nonce).finish());
}

export function credit(state: StateWriter, address: Address, amount: bigint): void {
  if (amount < 0n) throw new RangeError('negative credit');
  if (amount === 0n) return;
  const acct = getAccount(state, address);
  putAccount(state, address, { ...acct, balance: acct.balance + amount });
}

export function debit(state: StateWriter, address: Address, amount: bigint): void {
  if (amount < 0n) throw new RangeError('negative debit');
  const acct = getAccount(state, address);
  if (acct.balance < amount) {
    throw new ValidationError('INSUFFICIENT_FUNDS', `balance ${acct.balance} Li is less than ${amount} Li`, {
      balance: acct.balance,
      needed: amount,
    });
  }
  putAccount(state, address, { ...acct, balance: acct.balance - amount });
}
