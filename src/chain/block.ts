import { decodeExact, type Reader, Writer } from './encoding.ts';
import { DecodeError } from './errors.ts';
import type { Hash } from './hash.ts';
import { BlockHeader, HEADER_SIZE } from './header.ts';
import { merkleRoot } from './merkle.ts';
import { Transaction } from './transaction.ts';

/** Ceiling for any block on any network; a network's maxBlockBytes is lower. */
export const MAX_BLOCK_SIZE = 8 * 1024 * 1024;
/** The smallest possible transaction, which bounds the count a block can claim. */
const MIN_TX_SIZE = 1 + 1 + 33 + 8 + 8 + 1 + 4 + 64;

export class Block {
  readonly header: BlockHeader;
  readonly txs: readonly Transaction[];
  #bytes?: Uint8Array;

  private constructor(header: BlockHeader, txs: readonly Transaction[]) {
    this.header = header;
    this.txs = Object.freeze([...txs]);
    Object.freeze(this);
  }

  static create(header: BlockHeader, txs: readonly Transaction[]): Block {
    return new Block(header, txs);
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
      txs.push(Transaction.fromBytes(r.varBytes(4, maxTxBytes, `block.tx[${i}]`), maxTxBytes));
    }
    return new Block(header, txs);
  }

  static fromBytes(bytes: Uint8Array, maxBytes = MAX_BLOCK_SIZE, maxTxBytes = maxBytes): Block {
    const block = decodeExact(bytes, maxBytes, 'block', (r) => Block.read(r, maxTxBytes));
    block.#bytes = bytes.slice();
    return block;
  }

  toBytes(): Uint8Array {
    if (this.#bytes === undefined) {
      const w = new Writer(HEADER_SIZE + 4 + this.txs.reduce((n, tx) => n + 4 + tx.size, 0));
      this.header.write(w).u32(this.txs.length);
      for (const tx of this.txs) w.varBytes(tx.toBytes(), 4);
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
    return merkleRoot(this.txs.map((tx) => tx.hash()));
  }
}
