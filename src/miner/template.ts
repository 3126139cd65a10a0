import type { Address } from '../chain/address.ts';
import { Block } from '../chain/block.ts';
import type { Chain } from '../chain/chain.ts';
import { targetFromDifficulty } from '../chain/difficulty.ts';
import { bigIntToBytes32 } from '../chain/hash.ts';
import { BlockHeader, HEADER_SIZE, HEADER_VERSION, NONCE_OFFSET } from '../chain/header.ts';
import type { Mempool } from '../chain/mempool.ts';
import { merkleRoot } from '../chain/merkle.ts';
import type { Transaction } from '../chain/transaction.ts';

export interface Template {
  /** The tip this template builds on; stale once the tip moves. */
  parent: Uint8Array;
  header: BlockHeader;
  txs: Transaction[];
  /** The 104 header bytes before the nonce: constant for the whole search. */
  prefix: Uint8Array;
  target: Uint8Array;
  createdAt: number;
}

/** The earliest timestamp a child of the tip may carry. */
export function earliestTimestamp(chain: Chain): number {
  return chain.tip.header.timestamp + chain.params.Tsec * 1000;
}

export function buildTemplate(
  chain: Chain,
  mempool: Mempool | undefined,
  miner: Address,
  timestamp = Math.max(chain.now(), earliestTimestamp(chain)),
  txs?: Transaction[],
): Template {
  const tip = chain.tip;
  const chosen = txs ?? mempool?.select(chain.state, chain.params.maxBlockBytes - HEADER_SIZE - 4, timestamp) ?? [];
  const difficulty = chain.difficultyAfter(tip);
  const header = BlockHeader.create({
    version: HEADER_VERSION,
    height: tip.height + 1,
    parent: tip.hash,
    merkleRoot: merkleRoot(chosen.map((tx) => tx.hash())),
    timestamp,
    difficulty,
    miner,
    nonce: 0n,
  });
  return {
    parent: tip.hash,
    header,
    txs: chosen,
    prefix: header.toBytes().slice(0, NONCE_OFFSET),
    target: bigIntToBytes32(targetFromDifficulty(difficulty)),
    createdAt: chain.now(),
  };
}

export function completeBlock(t: Template, nonce: bigint): Block {
  return Block.create(t.header.withNonce(nonce), t.txs);
}
