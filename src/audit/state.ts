import { ADDRESS_SIZE, type Address } from '../chain/address.ts';
import { decodeExact, Writer } from '../chain/encoding.ts';
import { DecodeError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import type { StateReader, StateWriter } from '../chain/state.ts';
import { setAdd, setItems, setRemove } from '../chain/state-set.ts';
import { stateKey, u32be } from '../chain/store/layout.ts';

/**
 * The audit domain's state (0x30–0x3f, store/layout.ts):
 *   0x30 ‖ contract id  -> audit record
 *   0x31 …              -> the set of contract ids whose audit is open, appealing, or in its appeal window
 *   0x32 – 0x35         -> the shared fund's votes and payouts (fund.ts)
 *   0x36                -> u32 head ‖ u32 tail of the Invalid verdicts in the order their appeal windows close
 *   0x37 ‖ u32 i        -> its i-th contract id
 *   0x3e                -> u64 the shared network fund (Li)
 *   0x3f                -> u64 Li minted to audit votes, ever (the supply invariant counts it)
 */
export const STATE_AUDIT = 0x30;
export const STATE_PENDING = 0x31;
export const STATE_WINDOWS = 0x36;
export const STATE_WINDOW = 0x37;
export const STATE_FUND = 0x3e;
export const STATE_MINTED = 0x3f;

export const VALID = 1;
export const INVALID = 0;

/** Round 1: three votes, unanimous; round 2: nine, majority; round 3: an appeal's nine, majority. */
export const ROUND_VOTES = [0, 3, 9, 9] as const;

export const STATUS_OPEN = 1;
/** Invalid: the Validator is banned; its stake and the held fees wait for the appeal window. */
export const STATUS_INVALID = 2;
export const STATUS_APPEALING = 3;
export const STATUS_FINAL = 4;

export interface Vote {
  voter: Address;
  round: number;
  verdict: number;
  height: number;
}

export interface AuditRecord {
  validator: Address;
  bidder: Address;
  /** The contract's validation fee per MCU (the vote fee's unit). */
  validationFee: bigint;
  /** The validation fees held when the contract closed. */
  heldFees: bigint;
  closedHeight: number;
  round: number;
  status: number;
  /** The verdict of the audit (VALID/INVALID) once reached, else 0xff. */
  verdict: number;
  /** Block time of an Invalid verdict: the appeal window runs from it. */
  verdictTime: number;
  /**
   * Li the appeal paid. Held here while the appeal is decided (heldPayment), then
   * paid to its winning voters and the rest returned or sent to the fund; kept after,
   * so that what the audit moved can be told from its record.
   */
  appealPayment: bigint;
  /** Li of the Validator's stake this audit sent to the shared fund (a final Invalid verdict). */
  forfeited: bigint;
  votes: Vote[];
}

/** The appeal payment this audit holds now: while its appeal is decided, none before or after. */
export const heldPayment = (a: AuditRecord): bigint => (a.status === STATUS_APPEALING ? a.appealPayment : 0n);

const NO_VERDICT = 0xff;
export const pendingVerdict = NO_VERDICT;

export function encodeAudit(a: AuditRecord): Uint8Array {
  const w = new Writer(128 + a.votes.length * 26)
    .bytes(a.validator)
    .bytes(a.bidder)
    .u64(a.validationFee)
    .u64(a.heldFees)
    .u32(a.closedHeight)
    .u8(a.round)
    .u8(a.status)
    .u8(a.verdict)
    .u64(BigInt(a.verdictTime))
    .u64(a.appealPayment)
    .u64(a.forfeited)
    .u8(a.votes.length);
  for (const v of a.votes) w.bytes(v.voter).u8(v.round).u8(v.verdict).u32(v.height);
  return w.finish();
}

export function decodeAudit(bytes: Uint8Array): AuditRecord {
  return decodeExact(bytes, 128 + 255 * 26, 'audit record', (r) => {
    const a = {
      validator: r.bytes(ADDRESS_SIZE),
      bidder: r.bytes(ADDRESS_SIZE),
      validationFee: r.u64(),
      heldFees: r.u64(),
      closedHeight: r.u32(),
      round: r.u8(),
      status: r.u8(),
      verdict: r.u8(),
      verdictTime: Number(r.u64()),
      appealPayment: r.u64(),
      forfeited: r.u64(),
      votes: [] as Vote[],
    };
    const n = r.u8();
    for (let i = 0; i < n; i++) {
      a.votes.push({ voter: r.bytes(ADDRESS_SIZE), round: r.u8(), verdict: r.u8(), height: r.u32() });
    }
    if (a.round < 1 || a.round > 3) throw new DecodeError('BAD_VALUE', 'audit round is 1..3');
    return a;
  });
}

export function getAudit(state: StateReader, contract: Hash): AuditRecord | undefined {
  const raw = state.get(stateKey(STATE_AUDIT, contract));
  return raw === undefined ? undefined : decodeAudit(raw);
}

export function putAudit(state: StateWriter, contract: Hash, a: AuditRecord): void {
  state.put(stateKey(STATE_AUDIT, contract), encodeAudit(a));
}

const PENDING_KEY = new Uint8Array([STATE_PENDING]);

export function pendingAudits(state: StateReader): Hash[] {
  return setItems(state, PENDING_KEY, 32, 'the pending audits');
}

export const addPending = (state: StateWriter, contract: Hash): boolean => setAdd(state, PENDING_KEY, contract, 32);
export const removePending = (state: StateWriter, contract: Hash): boolean =>
  setRemove(state, PENDING_KEY, contract, 32);

/**
 * The Invalid verdicts in the order their appeal windows close: block time
 * only grows and every window is as long, so a verdict's window closes no
 * earlier than those before it, and a block looks only at the first ones.
 */
const WINDOWS_KEY = new Uint8Array([STATE_WINDOWS]);
const windowKey = (i: number) => stateKey(STATE_WINDOW, u32be(i));

function windows(state: StateReader): { head: number; tail: number } {
  const raw = state.get(WINDOWS_KEY);
  return raw === undefined
    ? { head: 0, tail: 0 }
    : decodeExact(raw, 8, 'the appeal windows', (r) => ({ head: r.u32(), tail: r.u32() }));
}

function putWindows(state: StateWriter, head: number, tail: number): void {
  if (head === tail) state.del(WINDOWS_KEY);
  else state.put(WINDOWS_KEY, new Writer(8).u32(head).u32(tail).finish());
}

export function queueWindow(state: StateWriter, contract: Hash): void {
  const { head, tail } = windows(state);
  state.put(windowKey(tail), contract);
  putWindows(state, head, tail + 1);
}

/** The contract whose appeal window closes first, if any. */
export function firstWindow(state: StateReader): Hash | undefined {
  const { head, tail } = windows(state);
  if (head === tail) return undefined;
  const id = state.get(windowKey(head));
  if (id === undefined || id.length !== 32) throw new DecodeError('BAD_VALUE', `appeal window ${head} is missing`);
  return id;
}

export function dequeueWindow(state: StateWriter): void {
  const { head, tail } = windows(state);
  state.del(windowKey(head));
  // An empty queue starts again from 0, so its indices never run out.
  if (head + 1 === tail) putWindows(state, 0, 0);
  else putWindows(state, head + 1, tail);
}

function getU64(state: StateReader, key: number): bigint {
  const raw = state.get(new Uint8Array([key]));
  return raw === undefined ? 0n : decodeExact(raw, 8, 'amount', (r) => r.u64());
}

function putU64(state: StateWriter, key: number, v: bigint): void {
  if (v === 0n) state.del(new Uint8Array([key]));
  else state.put(new Uint8Array([key]), new Writer(8).u64(v).finish());
}

export const fundBalance = (state: StateReader): bigint => getU64(state, STATE_FUND);
export const addToFund = (state: StateWriter, li: bigint): void => putU64(state, STATE_FUND, fundBalance(state) + li);
export const mintedByAudits = (state: StateReader): bigint => getU64(state, STATE_MINTED);
export const addMinted = (state: StateWriter, li: bigint): void =>
  putU64(state, STATE_MINTED, mintedByAudits(state) + li);
