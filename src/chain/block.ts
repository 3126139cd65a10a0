import { checkSize, decodeExact, type Reader, Writer } from './encoding.ts';
import { DecodeError } from './errors.ts';
import { type Hash, sha256 } from './hash.ts';
import { BlockHeader, HEADER_SIZE } from './header.ts';
import { merkleRoot } from './merkle.ts';
import { Transaction } from './transaction.ts';

/** Ceiling for any block on any network; a network's maxBlockBytes is lower. */
export const MAX_BLOCK_SIZE = 8 * 1024 * 1024;
/** The smallest possible transaction, which bounds the count a block can claim. */
const MIN_TX_SIZE = 1 + 1 + 33 + 8 + 8 + 1 + 4 + 64;
/** Ceiling for one vote's bytes; the section's own decoder is stricter. */
export const MAX_VOTE_BYTES = 1024;
/** A vote is at least its u16 length and one byte. */
const MIN_VOTE_SIZE = 3;

/**
 * header ‖ u32 n ‖ n × (u32 len ‖ tx) ‖ u16 m ‖ m × (u16 len ‖ vote).
 * A block without audits pays two bytes for its empty votes section and no
 * merkle leaf. The count is always there, so no prefix of a block is itself
 * a block. The core keeps votes as bytes; the domain that registers the
 * section decodes and applies them (tx-rules.ts).
 */
export class Block {
  readonly header: BlockHeader;
  readonly txs: readonly Transaction[];
  readonly votes: readonly Uint8Array[];
  #bytes?: Uint8Array;

  private constructor(header: BlockHeader, txs: readonly Transaction[], votes: readonly Uint8Array[]) {
    this.header = header;
    this.txs = Object.freeze([...txs]);
    this.votes = Object.freeze(votes.map((v) => v.slice()));
    Object.freeze(this);
  }

  static create(header: BlockHeader, txs: readonly Transaction[], votes: readonly Uint8Array[] = []): Block {
    for (const v of votes) {
      if (v.length === 0 || v.length > MAX_VOTE_BYTES) throw new RangeError(`a vote is 1..${MAX_VOTE_BYTES} bytes`);
    }
    if (votes.length > MAX_BLOCK_VOTES) throw new RangeError('too many votes for one block');
    return new Block(header, txs, votes);
  }

  static read(r: Reader, maxTxBytes: number): Block {
    const header = BlockHeader.read(r);
    const count = r.u32('block.txCount');
    if (count * (MIN_TX_SIZE + 4) > r.remaining) {
      throw new DecodeError('TRUNCATED', `block claims ${count} transactions in ${r.remaining} bytes`, {
        what: 'block.txCount',
      });
    }
    const txs: Transaction[] = [];
    for (let i = 0; i < count; i++) {
      txs.push(Transaction.over(r.varBytes(4, maxTxBytes, `block.tx[${i}]`), maxTxBytes));
    }
    const m = r.u16('block.voteCount');
    if (m * MIN_VOTE_SIZE > r.remaining) {
      throw new DecodeError('TRUNCATED', `block claims ${m} votes in ${r.remaining} bytes`, {
        what: 'block.voteCount',
      });
    }
    const votes: Uint8Array[] = [];
    for (let i = 0; i < m; i++) {
      const v = r.varBytes(2, MAX_VOTE_BYTES, `block.vote[${i}]`);
      if (v.length === 0) throw new DecodeError('BAD_VALUE', 'a vote is not empty', { what: `block.vote[${i}]` });
      votes.push(v);
    }
    return new Block(header, txs, votes);
  }

  static fromBytes(bytes: Uint8Array, maxBytes = MAX_BLOCK_SIZE, maxTxBytes = maxBytes): Block {
    checkSize(bytes, maxBytes, 'block');
    // Decoded over its own copy, so its transactions view it instead of each copying their fields.
    const own = bytes.slice();
    const block = decodeExact(own, maxBytes, 'block', (r) => Block.read(r, maxTxBytes), { views: true });
    block.#bytes = own;
    // Validation, the store and relay all ask each transaction for its txid and sender.
    Transaction.hashAll(block.txs, own);
    return block;
  }

  toBytes(): Uint8Array {
    if (this.#bytes === undefined) {
      const txBytes = this.txs.reduce((n, tx) => n + 4 + tx.size, 0);
      const w = new Writer(HEADER_SIZE + 4 + txBytes + votesSize(this.votes));
      this.header.write(w).u32(this.txs.length);
      for (const tx of this.txs) w.varBytes(tx.toBytes(), 4);
      w.u16(this.votes.length);
      for (const v of this.votes) w.varBytes(v, 2);
      this.#bytes = w.finish();
    }
    return this.#bytes;
  }

  get size(): number {
    return this.toBytes().length;
  }

  hash(): Hash {
    return this.header.hash();
  }

  computeMerkleRoot(): Hash {
    return merkleRoot(
      this.txs.map((tx) => tx.hash()),
      this.votes.map(voteId),
    );
  }
}

/** A block's vote count is a u16. */
export const MAX_BLOCK_VOTES = 0xffff;

/** Bytes the votes section takes in a block. */
export function votesSize(votes: readonly Uint8Array[]): number {
  return votes.reduce((n, v) => n + 2 + v.length, 2);
}

/** A vote's id, the hash its merkle leaf commits to. */
export function voteId(vote: Uint8Array): Hash {
  return sha256(vote);
}
