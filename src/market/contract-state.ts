import { ADDRESS_SIZE, type Address, RESERVED_ADDRESS } from '../chain/address.ts';
import { equalBytes, Reader, Writer } from '../chain/encoding.ts';
import { DecodeError, ValidationError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import type { StateReader, StateWriter } from '../chain/state.ts';
import { STATE_OPEN_PROBLEMS, stateKey } from '../chain/store/layout.ts';
import type { Range } from './ranges.ts';

// A contract's paid ranges are a trie of records of their own (paid-ranges.ts):
// 0x11 ‖ contract is its root, 0x14 ‖ contract ‖ level ‖ first index a page below it.
export { getPaidRanges, putPaidRanges, STATE_PAID_RANGE_PAGE, STATE_PAID_RANGES } from './paid-ranges.ts';

/** Market state keys (layout.ts reserves 0x10–0x1f for this domain). */
export const STATE_CONTRACT = 0x10;
/** 0x12 ‖ contract ‖ u64 start → u64 end ‖ CID: each paid batch, for fetching results. */
export const STATE_PAID_BATCH = 0x12;
/** 0x13 ‖ contract → u64: the escrow its close returned to the Bidder (history shows it). */
export const STATE_REFUND = 0x13;

export const VALIDATION_BIDDER = 0;
export const VALIDATION_DELEGATED = 1;

export const STATUS_OPEN = 1;
export const STATUS_CLOSED = 2;

export interface ContractRecord {
  bidder: Address;
  price: bigint;
  validationFee: bigint;
  validation: number;
  /** Li still available to pay Solvers. */
  escrow: bigint;
  /** Validation fees of paid MCUs, held in escrow until the audit (DESIGN.md §5). */
  heldFees: bigint;
  paidMcus: bigint;
  status: number;
  growth: number;
  maxBatch: number;
  /** Per mille of each batch that validation recomputes (docs/PROTOCOL.md "Sampling"). */
  sampleRate: number;
  openedHeight: number;
  closedHeight: number;
  /** Heights of the first and the latest payout (0: none yet); the bootstrap rules read them. */
  firstPayoutHeight: number;
  lastPayoutHeight: number;
  /** The assigned Validator of a delegated contract; zero bytes while none (then it runs Bidder-validated). */
  validator: Address;
  /** Payouts its Validator co-signed: a contract with none settles at close, others go to audit (DESIGN.md §6). */
  validatorPayouts: number;
}

/** Whether a Validator validates this contract (delegated, and one was eligible when it opened). */
export function hasValidator(c: Pick<ContractRecord, 'validation' | 'validator'>): boolean {
  return c.validation === VALIDATION_DELEGATED && !equalBytes(c.validator, RESERVED_ADDRESS);
}

export function contractKey(id: Hash): Uint8Array {
  return stateKey(STATE_CONTRACT, id);
}

export function encodeContract(c: ContractRecord): Uint8Array {
  return new Writer(128)
    .bytes(c.bidder)
    .u64(c.price)
    .u64(c.validationFee)
    .u8(c.validation)
    .u64(c.escrow)
    .u64(c.heldFees)
    .u64(c.paidMcus)
    .u8(c.status)
    .u8(c.growth)
    .u32(c.maxBatch)
    .u16(c.sampleRate)
    .u32(c.openedHeight)
    .u32(c.closedHeight)
    .u32(c.firstPayoutHeight)
    .u32(c.lastPayoutHeight)
    .bytes(c.validator)
    .u32(c.validatorPayouts)
    .finish();
}

export function decodeContract(bytes: Uint8Array): ContractRecord {
  const r = new Reader(bytes);
  const c: ContractRecord = {
    bidder: r.bytes(ADDRESS_SIZE),
    price: r.u64(),
    validationFee: r.u64(),
    validation: r.u8(),
    escrow: r.u64(),
    heldFees: r.u64(),
    paidMcus: r.u64(),
    status: r.u8(),
    growth: r.u8(),
    maxBatch: r.u32(),
    sampleRate: r.u16(),
    openedHeight: r.u32(),
    closedHeight: r.u32(),
    firstPayoutHeight: r.u32(),
    lastPayoutHeight: r.u32(),
    validator: r.bytes(ADDRESS_SIZE),
    validatorPayouts: r.u32(),
  };
  r.end('contract record');
  return c;
}

export function getContract(state: StateReader, id: Hash): ContractRecord | undefined {
  const raw = state.get(contractKey(id));
  return raw === undefined ? undefined : decodeContract(raw);
}

export function requireContract(state: StateReader, id: Hash): ContractRecord {
  const c = getContract(state, id);
  if (c === undefined) {
    throw new ValidationError('UNKNOWN_CONTRACT', `no contract ${Buffer.from(id).toString('hex')}`);
  }
  return c;
}

export function putContract(state: StateWriter, id: Hash, c: ContractRecord): void {
  state.put(contractKey(id), encodeContract(c));
}

export function putRefund(state: StateWriter, id: Hash, amount: bigint): void {
  state.put(stateKey(STATE_REFUND, id), new Writer(8).u64(amount).finish());
}

/** The escrow a closed contract returned; undefined while it is open (or closed by a node before this record). */
export function getRefund(state: StateReader, id: Hash): bigint | undefined {
  const raw = state.get(stateKey(STATE_REFUND, id));
  if (raw === undefined) return undefined;
  const r = new Reader(raw);
  const amount = r.u64();
  r.end('refund');
  return amount;
}

export interface PaidBatch extends Range {
  cid: Uint8Array;
  /** Co-signed by the contract's Validator (what an audit samples), not by its Bidder. */
  byValidator: boolean;
}

export function putPaidBatch(state: StateWriter, id: Hash, batch: PaidBatch): void {
  const key = stateKey(STATE_PAID_BATCH, id, new Writer(8).u64(BigInt(batch.start)).finish());
  const w = new Writer(17 + batch.cid.length).u64(BigInt(batch.end)).varBytes(batch.cid, 1);
  state.put(key, w.u8(batch.byValidator ? 1 : 0).finish());
}

export function decodePaidBatch(key: Uint8Array, value: Uint8Array): PaidBatch {
  const start = Number(new Reader(key.subarray(key.length - 8)).u64());
  const r = new Reader(value);
  const end = Number(r.u64());
  const cid = r.varBytes(1, 64);
  const flag = r.u8();
  r.end('paid batch');
  if (flag > 1) throw new DecodeError('BAD_VALUE', 'paid batch flag is 0 or 1');
  return { start, end, cid, byValidator: flag === 1 };
}

/** |Po|, which the difficulty function reads (DESIGN.md §2). */
export function addOpenProblems(state: StateWriter, delta: number): void {
  const key = new Uint8Array([STATE_OPEN_PROBLEMS]);
  const raw = state.get(key);
  const now = raw === undefined ? 0 : new Reader(raw).u32();
  const next = now + delta;
  if (next < 0) throw new Error('open problem count below zero');
  if (next === 0) state.del(key);
  else state.put(key, new Writer(4).u32(next).finish());
}
