import { ADDRESS_SIZE, type Address } from '../chain/address.ts';
import { decodeExact, toHex, Writer } from '../chain/encoding.ts';
import { DecodeError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import type { StateReader, StateWriter } from '../chain/state.ts';
import { setAdd, setItems, setRemove, setSize } from '../chain/state-set.ts';
import { stateKey, u32be } from '../chain/store/layout.ts';

/**
 * The validator domain's state (0x20–0x2f, store/layout.ts):
 *   0x20 ‖ address      -> stake record
 *   0x21 …              -> the set of Validators' addresses (chain/state-set.ts)
 *   0x22 ‖ contract id  -> reservation: validator ‖ u64 reserved Li
 *   0x23 ‖ u32 day      -> u32 delegated contracts opened that UTC day of block time
 *   0x24 ‖ address …    -> the set of contract ids its stake is reserved for
 *   0x25                -> u32 height ‖ u32 delegated contracts opened in that block
 */
export const STATE_STAKE = 0x20;
export const STATE_VALIDATORS = 0x21;
export const STATE_RESERVATION = 0x22;
export const STATE_DELEGATED_DAY = 0x23;
export const STATE_RESERVED_FOR = 0x24;
export const STATE_OPENED = 0x25;

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

const VALIDATORS_KEY = new Uint8Array([STATE_VALIDATORS]);

export function listValidators(state: StateReader): Address[] {
  return setItems(state, VALIDATORS_KEY, ADDRESS_SIZE, 'the Validator set');
}

export const validatorCount = (state: StateReader): number => setSize(state, VALIDATORS_KEY);

export function addValidator(state: StateWriter, validator: Address): void {
  setAdd(state, VALIDATORS_KEY, validator, ADDRESS_SIZE);
}

export function removeValidator(state: StateWriter, validator: Address): void {
  setRemove(state, VALIDATORS_KEY, validator, ADDRESS_SIZE);
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
  return setItems(state, stateKey(STATE_RESERVED_FOR, validator), 32, 'the reservation set');
}

export function addReservedFor(state: StateWriter, validator: Address, contract: Hash): void {
  setAdd(state, stateKey(STATE_RESERVED_FOR, validator), contract, 32);
}

export function removeReservedFor(state: StateWriter, validator: Address, contract: Hash): void {
  setRemove(state, stateKey(STATE_RESERVED_FOR, validator), contract, 32);
}

/** Delegated contracts opened so far in the block at `height`. */
export function openedIn(state: StateReader, height: number): number {
  const raw = state.get(new Uint8Array([STATE_OPENED]));
  if (raw === undefined) return 0;
  const [at, n] = decodeExact(raw, 8, 'the assignment count', (r) => [r.u32(), r.u32()]);
  return at === height ? n! : 0;
}

export function countOpened(state: StateWriter, height: number): void {
  const n = openedIn(state, height) + 1;
  state.put(new Uint8Array([STATE_OPENED]), new Writer(8).u32(height).u32(n).finish());
}
