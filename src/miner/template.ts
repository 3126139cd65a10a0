import type { Address } from '../chain/address.ts';
import { Block, MAX_BLOCK_VOTES, voteId, votesSize } from '../chain/block.ts';
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
  votes: Uint8Array[];
  /** The 104 header bytes before the nonce: constant for the whole search. */
  prefix: Uint8Array;
  target: Uint8Array;
  createdAt: number;
}

/** The votes the node's domains want in a block built on the tip (node wiring collects them). */
export type VoteSource = (at: { height: number; timestamp: number; miner: Address }) => Uint8Array[];

/** The share of a block's bytes its votes may take; the rest wait for the next block. */
const VOTE_SHARE = 4;

/** The first of `votes` that fit one block: at most MAX_BLOCK_VOTES, in a quarter of its bytes. */
export function votesThatFit(votes: readonly Uint8Array[], maxBlockBytes: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let bytes = 2;
  for (const v of votes) {
    if (out.length === MAX_BLOCK_VOTES || bytes + 2 + v.length > maxBlockBytes / VOTE_SHARE) break;
    out.push(v);
    bytes += 2 + v.length;
  }
  return out;
}

/** Votes first (they are small), then the mempool's best transactions in the space left. */
export function buildTemplate(
  chain: Chain,
  mempool: Mempool | undefined,
  miner: Address,
  timestamp = chain.nextTimestamp(),
  txs?: Transaction[],
  wanted: readonly Uint8Array[] = [],
): Template {
  const tip = chain.tip;
  // An auditor with more answers than a block holds must not make every block fail to build.
  const votes = votesThatFit(wanted, chain.params.maxBlockBytes);
  const space = chain.params.maxBlockBytes - HEADER_SIZE - 4 - votesSize(votes);
  const chosen = txs ?? mempool?.select(chain.state, space, timestamp) ?? [];
  const difficulty = chain.difficultyAfter(tip);
  const header = BlockHeader.create({
    version: HEADER_VERSION,
    height: tip.height + 1,
    parent: tip.hash,
    merkleRoot: merkleRoot(
      chosen.map((tx) => tx.hash()),
      votes.map(voteId),
    ),
    timestamp,
    difficulty,
    miner,
    nonce: 0n,
  });
  return {
    parent: tip.hash,
    header,
    txs: chosen,
    votes,
    prefix: header.toBytes().slice(0, NONCE_OFFSET),
    target: bigIntToBytes32(targetFromDifficulty(difficulty)),
    createdAt: chain.now(),
  };
}

export function completeBlock(t: Template, nonce: bigint): Block {
  return Block.create(t.header.withNonce(nonce), t.txs, t.votes);
}
