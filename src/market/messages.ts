import { decodeExact, type Reader, Writer } from '../chain/encoding.ts';
import { DecodeError } from '../chain/errors.ts';
import { type Hash, sha256 } from '../chain/hash.ts';
import { PUBKEY_SIZE, SIGNATURE_SIZE, sign, verify } from '../chain/keys.ts';
import { MAX_CID_SIZE } from '../chain/transaction.ts';
import { MAX_RESULTS_BYTES as CONTENT_MAX_RESULTS_BYTES } from './results.ts';

/**
 * The market's wire messages (DESIGN.md §4): the discovery broadcast, and the
 * frames of the direct `/zi/<network>/market/1.0.0` stream. Each frame is
 * strict and size-bounded; a peer that sends anything else is scored down.
 */

export const MAX_ADDRS = 8;
export const MAX_ADDR_BYTES = 256;
export const MAX_PEER_ID_BYTES = 128;
export const MAX_REASON_BYTES = 256;
/** Largest results frame: the canonical results of one lease, one IPFS block. */
export const MAX_RESULTS_BYTES = CONTENT_MAX_RESULTS_BYTES;
export const MAX_DISCOVERY_BYTES = 4 * 1024;
/** A discovery older or newer than this is ignored (replays, skewed clocks). */
export const DISCOVERY_MAX_AGE_MS = 2 * 60 * 1000;

const utf8 = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the string: dropping it would let two byte
// strings decode to one value, and a decoded value would not re-encode to its bytes.
const fromUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function writeString(w: Writer, s: string, max: number): void {
  const b = utf8.encode(s);
  if (b.length > max) throw new RangeError(`string over ${max} bytes`);
  w.varBytes(b, 2);
}

function readString(r: Reader, max: number, what: string): string {
  try {
    return fromUtf8.decode(r.varBytes(2, max, what));
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw new DecodeError('BAD_VALUE', `${what}: not UTF-8`, { what });
  }
}

function writeAddrs(w: Writer, addrs: readonly string[]): void {
  if (addrs.length > MAX_ADDRS) throw new RangeError(`more than ${MAX_ADDRS} addresses`);
  w.u8(addrs.length);
  for (const a of addrs) writeString(w, a, MAX_ADDR_BYTES);
}

function readAddrs(r: Reader, what: string): string[] {
  const n = r.u8(what);
  if (n > MAX_ADDRS) throw new DecodeError('TOO_LARGE', `${what}: ${n} addresses, at most ${MAX_ADDRS}`, { what });
  return Array.from({ length: n }, () => readString(r, MAX_ADDR_BYTES, what));
}

// ── Discovery (gossip) ─────────────────────────────────────────────────────

export interface Discovery {
  solverKey: Uint8Array;
  peerId: string;
  addrs: string[];
  contract: Hash;
  timestamp: number;
  signature: Uint8Array;
}

/** H(Solver public key ‖ timestamp ‖ addresses ‖ contract id), as DESIGN.md §4 fixes it. */
export function discoveryCommitment(d: Omit<Discovery, 'signature'>): Hash {
  const w = new Writer(256).bytes(utf8.encode('zi/discovery/v1')).bytes(d.solverKey).u64(BigInt(d.timestamp));
  writeString(w, d.peerId, MAX_PEER_ID_BYTES);
  writeAddrs(w, d.addrs);
  return sha256(w.bytes(d.contract).finish());
}

export function signDiscovery(
  d: Omit<Discovery, 'signature' | 'solverKey'>,
  key: Uint8Array,
  pub: Uint8Array,
): Discovery {
  const unsigned = { ...d, solverKey: pub };
  return { ...unsigned, signature: sign(discoveryCommitment(unsigned), key) };
}

export function encodeDiscovery(d: Discovery): Uint8Array {
  const w = new Writer(512).bytes(d.solverKey);
  writeString(w, d.peerId, MAX_PEER_ID_BYTES);
  writeAddrs(w, d.addrs);
  return w.bytes(d.contract).u64(BigInt(d.timestamp)).bytes(d.signature).finish();
}

export function decodeDiscovery(bytes: Uint8Array): Discovery {
  return decodeExact(bytes, MAX_DISCOVERY_BYTES, 'discovery', (r) => ({
    solverKey: r.bytes(PUBKEY_SIZE, 'discovery.key'),
    peerId: readString(r, MAX_PEER_ID_BYTES, 'discovery.peerId'),
    addrs: readAddrs(r, 'discovery.addrs'),
    contract: r.bytes(32, 'discovery.contract'),
    timestamp: safeTime(r.u64('discovery.timestamp'), 'discovery.timestamp'),
    signature: r.bytes(SIGNATURE_SIZE, 'discovery.signature'),
  }));
}

export function verifyDiscovery(d: Discovery): boolean {
  return verify(d.signature, discoveryCommitment(d), d.solverKey);
}

function safeTime(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError('BAD_VALUE', `${what}: out of range`, { what });
  return Number(v);
}

// ── Stream frames ──────────────────────────────────────────────────────────

export const FRAME = { ack: 1, result: 2, paid: 3, done: 4, lease: 5 } as const;

export interface Lease {
  id: number;
  start: number;
  end: number;
  /** ms since the epoch; after it, the range returns to the pool. */
  expiresAt: number;
}

export interface Ack {
  type: 'ack';
  authorityKey: Uint8Array;
  /** The discovery commitment this answers. */
  commitment: Hash;
  addrs: string[];
  signature: Uint8Array;
  lease: Lease;
}

export interface ResultFrame {
  type: 'result';
  leaseId: number;
  /** Li per MCU the Solver expects (the contract's price). */
  price: bigint;
  /** The payout transaction's fee, paid from escrow: the authority agrees to it by signing. */
  fee: bigint;
  /** When the Solver built its unsigned payout; the authority signs the same value. */
  timestamp: number;
  cid: Uint8Array;
  results: Uint8Array;
}

export interface PaidFrame {
  type: 'paid';
  leaseId: number;
  authoritySig: Uint8Array;
}

/**
 * The next lease, sent as soon as a batch arrives and before it is checked,
 * so the Solver computes while the authority validates (one lease ahead).
 */
export interface LeaseFrame {
  type: 'lease';
  lease: Lease;
}

export interface DoneFrame {
  type: 'done';
  /** COMPLETE (nothing left), FAILED_VALIDATION, CID_MISMATCH, BAD_RESULT, EXPIRED, CLOSED, … */
  reason: string;
  message: string;
}

export type Frame = Ack | ResultFrame | PaidFrame | LeaseFrame | DoneFrame;

export function ackMessage(a: Omit<Ack, 'type' | 'signature' | 'lease'>): Hash {
  const w = new Writer(256).bytes(utf8.encode('zi/ack/v1')).bytes(a.commitment).bytes(a.authorityKey);
  writeAddrs(w, a.addrs);
  return sha256(w.finish());
}

function writeLease(w: Writer, l: Lease): void {
  w.u32(l.id).u64(BigInt(l.start)).u64(BigInt(l.end)).u64(BigInt(l.expiresAt));
}

function readLease(r: Reader): Lease {
  const id = r.u32('lease.id');
  const start = safeTime(r.u64('lease.start'), 'lease.start');
  const end = safeTime(r.u64('lease.end'), 'lease.end');
  const expiresAt = safeTime(r.u64('lease.expiresAt'), 'lease.expiresAt');
  if (end <= start) throw new DecodeError('BAD_VALUE', 'an empty lease', { what: 'lease' });
  return { id, start, end, expiresAt };
}

export function encodeFrame(f: Frame): Uint8Array {
  const w = new Writer(64);
  switch (f.type) {
    case 'ack':
      w.u8(FRAME.ack).bytes(f.authorityKey).bytes(f.commitment);
      writeAddrs(w, f.addrs);
      w.bytes(f.signature);
      writeLease(w, f.lease);
      break;
    case 'result':
      w.u8(FRAME.result)
        .u32(f.leaseId)
        .u64(f.price)
        .u64(f.fee)
        .u64(BigInt(f.timestamp))
        .varBytes(f.cid, 1)
        .varBytes(f.results, 4);
      break;
    case 'paid':
      w.u8(FRAME.paid).u32(f.leaseId).bytes(f.authoritySig);
      break;
    case 'lease':
      w.u8(FRAME.lease);
      writeLease(w, f.lease);
      break;
    case 'done':
      w.u8(FRAME.done);
      writeString(w, f.reason, 64);
      writeString(w, f.message.slice(0, MAX_REASON_BYTES / 4), MAX_REASON_BYTES);
      break;
  }
  return w.finish();
}

export const MAX_FRAME_BYTES = MAX_RESULTS_BYTES + 1024;

export function decodeFrame(bytes: Uint8Array): Frame {
  return decodeExact(bytes, MAX_FRAME_BYTES, 'market frame', (r): Frame => {
    const type = r.u8('frame.type');
    switch (type) {
      case FRAME.ack:
        return {
          type: 'ack',
          authorityKey: r.bytes(PUBKEY_SIZE, 'ack.key'),
          commitment: r.bytes(32, 'ack.commitment'),
          addrs: readAddrs(r, 'ack.addrs'),
          signature: r.bytes(SIGNATURE_SIZE, 'ack.signature'),
          lease: readLease(r),
        };
      case FRAME.result: {
        const leaseId = r.u32('result.leaseId');
        const price = r.u64('result.price');
        const fee = r.u64('result.fee');
        const timestamp = safeTime(r.u64('result.timestamp'), 'result.timestamp');
        const cid = r.varBytes(1, MAX_CID_SIZE, 'result.cid');
        if (cid.length === 0) throw new DecodeError('BAD_VALUE', 'result without a CID', { what: 'result.cid' });
        const results = r.varBytes(4, MAX_RESULTS_BYTES, 'result.results');
        return { type: 'result', leaseId, price, fee, timestamp, cid, results };
      }
      case FRAME.paid:
        return {
          type: 'paid',
          leaseId: r.u32('paid.leaseId'),
          authoritySig: r.bytes(SIGNATURE_SIZE, 'paid.signature'),
        };
      case FRAME.lease:
        return { type: 'lease', lease: readLease(r) };
      case FRAME.done:
        return {
          type: 'done',
          reason: readString(r, 64, 'done.reason'),
          message: readString(r, MAX_REASON_BYTES, 'done.message'),
        };
      default:
        throw new DecodeError('UNKNOWN_KIND', `unknown market frame ${type}`, { kind: type });
    }
  });
}
