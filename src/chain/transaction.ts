import { ADDRESS_SIZE, type Address, addressOf } from './address.ts';
import { decodeExact, type Reader, Writer } from './encoding.ts';
import { DecodeError } from './errors.ts';
import { type Hash, sha256, sha256Ranges } from './hash.ts';
import { PUBKEY_SIZE, publicKeyOf, SIGNATURE_SIZE, sign } from './keys.ts';

/** Every kind of DESIGN.md §3; the rules of each live with its domain. */
export const TX_KINDS = {
  transfer: 1,
  contract: 2,
  topup: 3,
  payout: 4,
  close: 5,
  stake: 6,
  fundvote: 7,
  appeal: 8,
  unstake: 9,
} as const;
export type TxKindName = keyof typeof TX_KINDS;

export function txKindName(kind: number): TxKindName | undefined {
  return (Object.keys(TX_KINDS) as TxKindName[]).find((k) => TX_KINDS[k] === kind);
}

export const TX_VERSION = 1;
export const MEMO_SIZE = 64;
export const MAX_CID_SIZE = 64;
/** Hard ceiling of any payload; networks set a lower maxTxBytes. */
export const MAX_PAYLOAD_SIZE = 1024 * 1024;
/** The smallest encoding a transaction can have: no memo, no CID, an empty payload. */
export const MIN_TX_BYTES = 1 + 1 + PUBKEY_SIZE + 8 + 8 + 1 + 4 + SIGNATURE_SIZE;
const FLAG_MEMO = 1;
const FLAG_CID = 2;
const SIGHASH_TAG = new TextEncoder().encode('zi/tx/v1');

export interface TxFields {
  kind: number;
  /** Compressed secp256k1 public key of the signer. */
  sender: Uint8Array;
  nonce: bigint;
  fee: bigint;
  /** The fixed-length metadata field, when present. */
  memo?: Uint8Array;
  /** An IPFS CID in binary form, when present. */
  cid?: Uint8Array;
  /** Kind-specific body, encoded by the kind's own codec. */
  payload: Uint8Array;
  signature: Uint8Array;
}

/** What a sighash hashes ahead of the unsigned encoding: the tag and the network's genesis hash. */
export function sigHashPrefix(genesis: Hash): Uint8Array {
  const prefix = new Uint8Array(SIGHASH_TAG.length + genesis.length);
  prefix.set(SIGHASH_TAG);
  prefix.set(genesis, SIGHASH_TAG.length);
  return prefix;
}

/** The sighash of a transaction's unsigned encoding (signature verification threads compute it from the bytes). */
export function sigHashOf(genesis: Hash, unsigned: Uint8Array): Hash {
  return sha256(SIGHASH_TAG, genesis, unsigned);
}

export class Transaction implements TxFields {
  readonly kind: number;
  readonly sender: Uint8Array;
  readonly nonce: bigint;
  readonly fee: bigint;
  readonly memo?: Uint8Array;
  readonly cid?: Uint8Array;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
  #bytes?: Uint8Array;
  #hash?: Hash;
  #from?: Address;
  #body?: { by: object; params: object; value: unknown };

  private constructor(f: TxFields) {
    this.kind = f.kind;
    this.sender = f.sender;
    this.nonce = f.nonce;
    this.fee = f.fee;
    if (f.memo !== undefined) this.memo = f.memo;
    if (f.cid !== undefined) this.cid = f.cid;
    this.payload = f.payload;
    this.signature = f.signature;
    Object.freeze(this);
  }

  static create(f: TxFields): Transaction {
    if (txKindName(f.kind) === undefined) throw new RangeError(`unknown transaction kind ${f.kind}`);
    if (f.sender.length !== PUBKEY_SIZE) throw new RangeError('sender is a 33-byte public key');
    if (f.signature.length !== SIGNATURE_SIZE) throw new RangeError('signature is 64 bytes');
    if (f.memo !== undefined && f.memo.length !== MEMO_SIZE) throw new RangeError('memo is 64 bytes');
    if (f.cid !== undefined && (f.cid.length === 0 || f.cid.length > MAX_CID_SIZE))
      throw new RangeError('bad cid size');
    if (f.payload.length > MAX_PAYLOAD_SIZE) throw new RangeError('payload too large');
    return new Transaction(f);
  }

  /** Builds and signs in one step; the only way wallets make transactions. */
  static sign(f: Omit<TxFields, 'sender' | 'signature'>, privateKey: Uint8Array, genesis: Hash): Transaction {
    const unsigned = new Transaction({
      ...f,
      sender: publicKeyOf(privateKey),
      signature: new Uint8Array(SIGNATURE_SIZE),
    });
    return Transaction.create({ ...unsigned, signature: sign(unsigned.sigHash(genesis), privateKey) });
  }

  static read(r: Reader): Transaction {
    const version = r.u8('tx.version');
    if (version !== TX_VERSION)
      throw new DecodeError('BAD_VALUE', `unknown tx version ${version}`, { what: 'tx.version' });
    const kind = r.u8('tx.kind');
    if (txKindName(kind) === undefined) throw new DecodeError('UNKNOWN_KIND', `unknown tx kind ${kind}`, { kind });
    const sender = r.bytes(PUBKEY_SIZE, 'tx.sender');
    const nonce = r.u64('tx.nonce');
    const fee = r.u64('tx.fee');
    const flags = r.u8('tx.flags');
    if ((flags & ~(FLAG_MEMO | FLAG_CID)) !== 0) {
      throw new DecodeError('NON_CANONICAL', `unknown tx flags ${flags}`, { what: 'tx.flags' });
    }
    const memo = flags & FLAG_MEMO ? r.bytes(MEMO_SIZE, 'tx.memo') : undefined;
    let cid: Uint8Array | undefined;
    if (flags & FLAG_CID) {
      cid = r.varBytes(1, MAX_CID_SIZE, 'tx.cid');
      if (cid.length === 0) throw new DecodeError('NON_CANONICAL', 'empty cid must be left out', { what: 'tx.cid' });
    }
    const payload = r.varBytes(4, MAX_PAYLOAD_SIZE, 'tx.payload');
    const signature = r.bytes(SIGNATURE_SIZE, 'tx.signature');
    return new Transaction({ kind, sender, nonce, fee, memo, cid, payload, signature });
  }

  static fromBytes(bytes: Uint8Array, maxBytes = MAX_PAYLOAD_SIZE + 512): Transaction {
    return Transaction.over(bytes.slice(), maxBytes);
  }

  /** A transaction over `bytes` itself, its fields views of them: for bytes nobody changes (a block's own copy). */
  static over(bytes: Uint8Array, maxBytes = MAX_PAYLOAD_SIZE + 512): Transaction {
    const tx = decodeExact(bytes, maxBytes, 'tx', Transaction.read, { views: true });
    tx.#bytes = bytes;
    return tx;
  }

  /**
   * The txid and sender address of each of `txs`, whose bytes are views of
   * `within` (a decoded block's own copy): all of them in one call over it
   * (hash.ts), where one call each costs several times the hashing.
   */
  static hashAll(txs: readonly Transaction[], within: Uint8Array): void {
    if (txs.length === 0) return;
    // Block.fromBytes decodes every one over `within`, or none: the first shows which.
    if (txs[0]!.toBytes().buffer !== within.buffer) {
      throw new RangeError('hashAll takes transactions that view `within`');
    }
    const ranges = new Uint32Array(4 * txs.length);
    const base = within.byteOffset;
    txs.forEach((tx, i) => {
      const b = tx.toBytes();
      ranges[4 * i] = b.byteOffset - base;
      ranges[4 * i + 1] = b.length;
      ranges[4 * i + 2] = tx.sender.byteOffset - base;
      ranges[4 * i + 3] = tx.sender.length;
    });
    const out = sha256Ranges(within, ranges);
    txs.forEach((tx, i) => {
      tx.#hash = out.slice(64 * i, 64 * i + 32);
      tx.#from = out.slice(64 * i + 32, 64 * i + 32 + ADDRESS_SIZE);
    });
  }

  private writeUnsigned(w: Writer): Writer {
    const flags = (this.memo ? FLAG_MEMO : 0) | (this.cid ? FLAG_CID : 0);
    w.u8(TX_VERSION).u8(this.kind).bytes(this.sender).u64(this.nonce).u64(this.fee).u8(flags);
    if (this.memo) w.bytes(this.memo);
    if (this.cid) w.varBytes(this.cid, 1);
    return w.varBytes(this.payload, 4);
  }

  toBytes(): Uint8Array {
    if (this.#bytes === undefined) {
      this.#bytes = this.writeUnsigned(new Writer(160 + this.payload.length))
        .bytes(this.signature)
        .finish();
    }
    return this.#bytes;
  }

  get size(): number {
    return this.toBytes().length;
  }

  /** The txid covers the signature; low-S keeps it unmalleable. */
  hash(): Hash {
    if (this.#hash === undefined) this.#hash = sha256(this.toBytes());
    return this.#hash;
  }

  /** What the sender signs: bound to one network by its genesis hash. */
  sigHash(genesis: Hash): Hash {
    return sigHashOf(genesis, this.unsignedBytes());
  }

  /** The encoding without its signature, which is last and fixed-size: no second encoding per sighash. */
  unsignedBytes(): Uint8Array {
    const b = this.toBytes();
    return b.subarray(0, b.length - SIGNATURE_SIZE);
  }

  /**
   * The payload as its kind's decoder read it, decoded once: validation
   * asks for it several times per transaction. Keyed by the decoder and
   * the network's parameters, which are all a decoding depends on.
   */
  decodedPayload(by: object, params: object, decode: () => unknown): unknown {
    const memo = this.#body;
    if (memo !== undefined && memo.by === by && memo.params === params) return memo.value;
    const value = decode();
    this.#body = { by, params, value };
    return value;
  }

  get from(): Address {
    if (this.#from === undefined) this.#from = addressOf(this.sender);
    return this.#from;
  }
}
