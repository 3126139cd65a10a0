import { Block } from '../chain/block.ts';
import { decodeExact, type Reader, Writer } from '../chain/encoding.ts';
import { DecodeError } from '../chain/errors.ts';
import { bigIntToBytes32, type Hash, hashToBigInt, ZERO_HASH } from '../chain/hash.ts';
import { BlockHeader, HEADER_SIZE } from '../chain/header.ts';
import type { NetworkParams } from '../chain/params.ts';
import { Transaction } from '../chain/transaction.ts';

/**
 * The sync protocol's wire format. One stream carries one request and its
 * response, each frame length-prefixed (unsigned varint) by the stream layer.
 * Every frame is decoded strictly by the project's Reader: one encoding per
 * value, counts checked against limits and against the bytes present before
 * anything is allocated, no trailing bytes. The limits below are part of the
 * protocol: an honest peer never exceeds them, so exceeding one is misconduct.
 */
export const LIMITS = {
  /** Block locator entries: ~log2(height) + 10, so 64 covers any real chain. */
  locator: 64,
  /** Headers in one response (224 KB). */
  headers: 2000,
  /** Block bodies asked for in one request. */
  blocksPerRequest: 64,
  /** Transactions pushed in one request. */
  txsPerRequest: 256,
  /** A request frame: the largest is a push of transactions. */
  requestBytes: 1024 * 1024,
  /** A block response stops early after this many bytes; the client asks again for the rest. */
  blocksResponseBytes: 16 * 1024 * 1024,
} as const;

export const STATUS_VERSION = 1;
const STATUS_SIZE = 1 + 32 + 32 + 4 + 32;

export const REQUEST = { status: 1, getHeaders: 2, getBlocks: 3, txs: 4 } as const;

/** What a node tells a peer about itself when they meet. */
export interface Status {
  genesis: Hash;
  tip: Hash;
  height: number;
  chainwork: bigint;
}

export type SyncRequest =
  | { type: 'status'; status: Status }
  /**
   * Headers of the chain ending at `target` (the peer's main tip when absent),
   * ascending, starting after the newest locator hash that is on that chain.
   */
  | { type: 'getHeaders'; locator: Hash[]; target?: Hash; max: number }
  | { type: 'getBlocks'; hashes: Hash[] }
  /**
   * Pending transactions pushed to one peer: our mempool when we meet it, and
   * transactions a reorg put back (gossip would not resend what it has seen).
   */
  | { type: 'txs'; txs: Transaction[] };

function writeStatus(w: Writer, s: Status): Writer {
  return w.u8(STATUS_VERSION).bytes(s.genesis).bytes(s.tip).u32(s.height).bytes(bigIntToBytes32(s.chainwork));
}

function readStatus(r: Reader): Status {
  const version = r.u8('status.version');
  if (version !== STATUS_VERSION) {
    throw new DecodeError('BAD_VALUE', `unknown status version ${version}`, { what: 'status.version' });
  }
  return {
    genesis: r.bytes(32, 'status.genesis'),
    tip: r.bytes(32, 'status.tip'),
    height: r.u32('status.height'),
    chainwork: hashToBigInt(r.bytes(32, 'status.chainwork')),
  };
}

function readHashes(r: Reader, count: number, max: number, what: string): Hash[] {
  if (count > max) throw new DecodeError('TOO_LARGE', `${what}: ${count} entries, at most ${max}`, { what });
  if (count * 32 > r.remaining) throw new DecodeError('TRUNCATED', `${what}: ${count} hashes do not fit`, { what });
  const out: Hash[] = [];
  for (let i = 0; i < count; i++) out.push(r.bytes(32, what));
  return out;
}

export function encodeRequest(req: SyncRequest): Uint8Array {
  const w = new Writer(256);
  switch (req.type) {
    case 'status':
      return writeStatus(w.u8(REQUEST.status), req.status).finish();
    case 'getHeaders': {
      w.u8(REQUEST.getHeaders).u8(req.locator.length);
      for (const h of req.locator) w.bytes(h);
      return w
        .bytes(req.target ?? ZERO_HASH)
        .u16(req.max)
        .finish();
    }
    case 'getBlocks': {
      w.u8(REQUEST.getBlocks).u16(req.hashes.length);
      for (const h of req.hashes) w.bytes(h);
      return w.finish();
    }
    case 'txs': {
      w.u8(REQUEST.txs).u16(req.txs.length);
      for (const tx of req.txs) w.varBytes(tx.toBytes(), 4);
      return w.finish();
    }
  }
}

export function decodeRequest(bytes: Uint8Array, maxTxBytes: number): SyncRequest {
  return decodeExact(bytes, LIMITS.requestBytes, 'request', (r): SyncRequest => {
    const type = r.u8('request.type');
    switch (type) {
      case REQUEST.status:
        return { type: 'status', status: readStatus(r) };
      case REQUEST.getHeaders: {
        const locator = readHashes(r, r.u8('locator.count'), LIMITS.locator, 'locator');
        if (locator.length === 0) throw new DecodeError('BAD_VALUE', 'empty locator', { what: 'locator' });
        const target = r.bytes(32, 'getHeaders.target');
        const max = r.u16('getHeaders.max');
        if (max === 0 || max > LIMITS.headers) {
          throw new DecodeError('BAD_VALUE', `getHeaders.max ${max} is not 1..${LIMITS.headers}`, { what: 'max' });
        }
        const isZero = target.every((b) => b === 0);
        return { type: 'getHeaders', locator, max, ...(isZero ? {} : { target }) };
      }
      case REQUEST.getBlocks: {
        const hashes = readHashes(r, r.u16('hashes.count'), LIMITS.blocksPerRequest, 'hashes');
        if (hashes.length === 0) throw new DecodeError('BAD_VALUE', 'empty getBlocks', { what: 'hashes' });
        return { type: 'getBlocks', hashes };
      }
      case REQUEST.txs: {
        const n = r.u16('txs.count');
        if (n === 0 || n > LIMITS.txsPerRequest) {
          throw new DecodeError('BAD_VALUE', `txs.count ${n} is not 1..${LIMITS.txsPerRequest}`, { what: 'txs' });
        }
        const txs: Transaction[] = [];
        for (let i = 0; i < n; i++) txs.push(Transaction.fromBytes(r.varBytes(4, maxTxBytes, 'txs.tx'), maxTxBytes));
        return { type: 'txs', txs };
      }
      default:
        throw new DecodeError('BAD_VALUE', `unknown request type ${type}`, { what: 'request.type' });
    }
  });
}

export function encodeStatus(s: Status): Uint8Array {
  return writeStatus(new Writer(STATUS_SIZE), s).finish();
}

export function decodeStatus(bytes: Uint8Array): Status {
  return decodeExact(bytes, STATUS_SIZE, 'status', readStatus);
}

export function headersFrameMax(): number {
  return 2 + LIMITS.headers * HEADER_SIZE;
}

export function encodeHeaders(headers: readonly BlockHeader[]): Uint8Array {
  const w = new Writer(2 + headers.length * HEADER_SIZE).u16(headers.length);
  for (const h of headers) h.write(w);
  return w.finish();
}

/** At most `max` headers: the count the client asked for, not the protocol maximum. */
export function decodeHeaders(bytes: Uint8Array, max: number): BlockHeader[] {
  return decodeExact(bytes, headersFrameMax(), 'headers', (r) => {
    const n = r.u16('headers.count');
    if (n > max) throw new DecodeError('TOO_LARGE', `${n} headers, asked for at most ${max}`, { what: 'headers' });
    if (n * HEADER_SIZE !== r.remaining) {
      throw new DecodeError('TRUNCATED', `${n} headers need ${n * HEADER_SIZE} bytes, got ${r.remaining}`, {
        what: 'headers',
      });
    }
    const out: BlockHeader[] = [];
    for (let i = 0; i < n; i++) out.push(BlockHeader.read(r));
    return out;
  });
}

/** One frame per requested block: 1 and the block's bytes, or 0 when the peer lacks it. */
export function blockFrameMax(params: NetworkParams): number {
  return 1 + params.maxBlockBytes;
}

export function encodeBlockFrame(blockBytes: Uint8Array | undefined): Uint8Array {
  if (blockBytes === undefined) return new Uint8Array([0]);
  const out = new Uint8Array(1 + blockBytes.length);
  out[0] = 1;
  out.set(blockBytes, 1);
  return out;
}

export function decodeBlockFrame(bytes: Uint8Array, params: NetworkParams): Block | undefined {
  if (bytes.length === 0) throw new DecodeError('TRUNCATED', 'empty block frame', { what: 'blockFrame' });
  if (bytes.length > blockFrameMax(params)) {
    throw new DecodeError('TOO_LARGE', `block frame of ${bytes.length} bytes`, { what: 'blockFrame' });
  }
  if (bytes[0] === 0) {
    if (bytes.length !== 1)
      throw new DecodeError('TRAILING_BYTES', 'not-found frame has a body', { what: 'blockFrame' });
    return undefined;
  }
  if (bytes[0] !== 1) throw new DecodeError('BAD_VALUE', `unknown block frame tag ${bytes[0]}`, { what: 'blockFrame' });
  return Block.fromBytes(bytes.subarray(1), params.maxBlockBytes, params.maxTxBytes);
}
