import { ADDRESS_SIZE, type Address } from './address.ts';
import { decodeExact, type Reader, Writer } from './encoding.ts';
import { DecodeError } from './errors.ts';
import { type Hash, sha256 } from './hash.ts';

/**
 * 112 bytes, nonce last: the first 64-byte SHA-256 block is constant per
 * template, so a miner hashes it once and then one compression per nonce.
 */
export const HEADER_SIZE = 112;
export const NONCE_OFFSET = HEADER_SIZE - 8;
export const HEADER_VERSION = 1;

export interface HeaderFields {
  version: number;
  height: number;
  parent: Hash;
  merkleRoot: Hash;
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  /** Quantized difficulty Dq (DESIGN.md §2). */
  difficulty: number;
  miner: Address;
  nonce: bigint;
}

export class BlockHeader implements HeaderFields {
  readonly version: number;
  readonly height: number;
  readonly parent: Hash;
  readonly merkleRoot: Hash;
  readonly timestamp: number;
  readonly difficulty: number;
  readonly miner: Address;
  readonly nonce: bigint;
  #bytes?: Uint8Array;
  #hash?: Hash;

  private constructor(f: HeaderFields) {
    this.version = f.version;
    this.height = f.height;
    this.parent = f.parent;
    this.merkleRoot = f.merkleRoot;
    this.timestamp = f.timestamp;
    this.difficulty = f.difficulty;
    this.miner = f.miner;
    this.nonce = f.nonce;
    Object.freeze(this);
  }

  static create(f: HeaderFields): BlockHeader {
    if (f.parent.length !== 32 || f.merkleRoot.length !== 32) throw new RangeError('hashes are 32 bytes');
    if (f.miner.length !== ADDRESS_SIZE) throw new RangeError('miner address is 20 bytes');
    if (!Number.isSafeInteger(f.timestamp) || f.timestamp < 0) throw new RangeError('bad timestamp');
    return new BlockHeader({
      ...f,
      parent: f.parent.slice(),
      merkleRoot: f.merkleRoot.slice(),
      miner: f.miner.slice(),
    });
  }

  static read(r: Reader): BlockHeader {
    const version = r.u32('header.version');
    if (version !== HEADER_VERSION) {
      throw new DecodeError('BAD_VALUE', `unknown header version ${version}`, { what: 'header.version' });
    }
    const height = r.u32('header.height');
    const parent = r.bytes(32, 'header.parent');
    const merkleRoot = r.bytes(32, 'header.merkleRoot');
    const timestamp = r.u64('header.timestamp');
    if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new DecodeError('BAD_VALUE', 'header timestamp out of range', { what: 'header.timestamp' });
    }
    const difficulty = r.u32('header.difficulty');
    const miner = r.bytes(ADDRESS_SIZE, 'header.miner');
    const nonce = r.u64('header.nonce');
    return new BlockHeader({
      version,
      height,
      parent,
      merkleRoot,
      timestamp: Number(timestamp),
      difficulty,
      miner,
      nonce,
    });
  }

  static fromBytes(bytes: Uint8Array): BlockHeader {
    return decodeExact(bytes, HEADER_SIZE, 'header', BlockHeader.read);
  }

  write(w: Writer): Writer {
    return w.bytes(this.toBytes());
  }

  toBytes(): Uint8Array {
    if (this.#bytes === undefined) {
      this.#bytes = new Writer(HEADER_SIZE)
        .u32(this.version)
        .u32(this.height)
        .bytes(this.parent)
        .bytes(this.merkleRoot)
        .u64(BigInt(this.timestamp))
        .u32(this.difficulty)
        .bytes(this.miner)
        .u64(this.nonce)
        .finish();
    }
    return this.#bytes;
  }

  /** The block id and the proof-of-work hash are one and the same. */
  hash(): Hash {
    if (this.#hash === undefined) this.#hash = sha256(this.toBytes());
    return this.#hash;
  }

  withNonce(nonce: bigint): BlockHeader {
    return new BlockHeader({ ...this, nonce });
  }
}
