import { ADDRESS_SIZE, type Address } from '../chain/address.ts';
import { decodeExact, toHex, Writer } from '../chain/encoding.ts';
import { DecodeError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import type { StateReader, StateWriter } from '../chain/state.ts';
import { stateKey, u32be } from '../chain/store/layout.ts';

/**
 * The validator domain's state (0x20–0x2f, store/layout.ts):
 *   0x20 ‖ address      -> stake record
 *   0x21                -> every Validator's address, in order of first stake
 *   0x22 ‖ contract id  -> reservation: validator ‖ u64 reserved Li
 *   0x23 ‖ u32 day      -> u32 delegated contracts opened that UTC day of block time
 *   0x24 ‖ address      -> the contract ids its stake is reserved for
 */
export const STATE_STAKE = 0x20;
export const STATE_VALIDATORS = 0x21;
export const STATE_RESERVATION = 0x22;
export const STATE_DELEGATED_DAY = 0x23;
export const STATE_RESERVED_FOR = 0x24;

export const FLAG_BANNED = 1;

export interface StakeRecord {
  amount: bigint;
  /** Li of `amount` reserved for the budgets of assigned contracts. */
  reserved: bigint;
  /** The first stake: its txid (what fit is measured against), height and position in its block. */
  txid: Hash;
  height: number;
  position: number;
  /** Contracts holding a reservation. */
  contracts: number;
  flags: number;
}

const STAKE_SIZE = 8 + 8 + 32 + 4 + 4 + 4 + 1;

export function encodeStake(s: StakeRecord): Uint8Array {
  return new Writer(STAKE_SIZE)
    .u64(s.amount)
    .u64(s.reserved)
    .bytes(s.txid)
    .u32(s.height)
    .u32(s.position)
    .u32(s.contracts)
    .u8(s.flags)
    .finish();
}

export function decodeStake(bytes: Uint8Array): StakeRecord {
  return decodeExact(bytes, STAKE_SIZE, 'stake record', (r) => {
    const s = {
      amount: r.u64(),
      reserved: r.u64(),
      txid: r.bytes(32),
      height: r.u32(),
      position: r.u32(),
      contracts: r.u32(),
      flags: r.u8(),
    };
    if (s.reserved > s.amount) throw new DecodeError('BAD_VALUE', 'a stake reserves at most its amount');
    return s;
  });
}

export function getStake(state: StateReader, validator: Address): StakeRecord | undefined {
  const raw = state.get(stateKey(STATE_STAKE, validator));
  return raw === undefined ? undefined : decodeStake(raw);
}

export function putStake(state: StateWriter, validator: Address, s: StakeRecord | undefined): void {
  const key = stateKey(STATE_STAKE, validator);
  if (s === undefined) state.del(key);
  else state.put(key, encodeStake(s));
}

export function listValidators(state: StateReader): Address[] {
  const raw = state.get(new Uint8Array([STATE_VALIDATORS]));
  if (raw === undefined) return [];
  if (raw.length % ADDRESS_SIZE !== 0) throw new DecodeError('BAD_VALUE', 'validator list is not whole addresses');
  const out: Address[] = [];
  for (let at = 0; at < raw.length; at += ADDRESS_SIZE) out.push(raw.slice(at, at + ADDRESS_SIZE));
  return out;
}

export function putValidators(state: StateWriter, list: readonly Address[]): void {
  const key = new Uint8Array([STATE_VALIDATORS]);
  if (list.length === 0) {
    state.del(key);
    return;
  }
  const w = new Writer(list.length * ADDRESS_SIZE);
  for (const a of list) w.bytes(a);
  state.put(key, w.finish());
}

export interface Reservation {
  validator: Address;
  amount: bigint;
}

export function decodeReservation(raw: Uint8Array): Reservation {
  return decodeExact(raw, ADDRESS_SIZE + 8, 'reservation', (r) => ({
    validator: r.bytes(ADDRESS_SIZE),
    amount: r.u64(),
  }));
}

export function getReservation(state: StateReader, contract: Hash): Reservation | undefined {
  const raw = state.get(stateKey(STATE_RESERVATION, contract));
  return raw === undefined ? undefined : decodeReservation(raw);
}

export function putReservation(state: StateWriter, contract: Hash, r: Reservation | undefined): void {
  const key = stateKey(STATE_RESERVATION, contract);
  if (r === undefined) state.del(key);
  else state.put(key, new Writer(ADDRESS_SIZE + 8).bytes(r.validator).u64(r.amount).finish());
}

const DAY_MS = 86_400_000;

export function dayOf(timestamp: number): number {
  return Math.floor(timestamp / DAY_MS);
}

export function delegatedOnDay(state: StateReader, day: number): number {
  const raw = state.get(stateKey(STATE_DELEGATED_DAY, u32be(day)));
  return raw === undefined ? 0 : decodeExact(raw, 4, 'delegated count', (r) => r.u32());
}

export function countDelegated(state: StateWriter, timestamp: number): void {
  const day = dayOf(timestamp);
  const n = delegatedOnDay(state, day) + 1;
  state.put(stateKey(STATE_DELEGATED_DAY, u32be(day)), new Writer(4).u32(n).finish());
}

export const validatorId = (a: Address): string => toHex(a);

/** The contracts a Validator's stake is reserved for (a ban drops them all). */
export function reservedFor(state: StateReader, validator: Address): Hash[] {
  const raw = state.get(stateKey(STATE_RESERVED_FOR, validator));
  if (raw === undefined) return [];
  if (raw.length % 32 !== 0) throw new DecodeError('BAD_VALUE', 'reservation list is not whole ids');
  const out: Hash[] = [];
  for (let at = 0; at < raw.length; at += 32) out.push(raw.slice(at, at + 32));
  return out;
}

export function putReservedFor(state: StateWriter, validator: Address, ids: readonly Hash[]): void {
  const key = stateKey(STATE_RESERVED_FOR, validator);
  if (ids.length === 0) {
    state.del(key);
    return;
  }
  const w = new Writer(ids.length * 32);
  for (const id of ids) w.bytes(id);
  state.put(key, w.finish());
}
