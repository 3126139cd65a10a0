import { RESERVED_ADDRESS } from './address.ts';
import { Block } from './block.ts';
import { ZERO_HASH } from './hash.ts';
import { BlockHeader, HEADER_VERSION } from './header.ts';
import type { NetworkParams } from './params.ts';

/** Fixed per network: no allocation, the first coins are mined (whitepaper §2). */
export function genesisBlock(params: NetworkParams): Block {
  const header = BlockHeader.create({
    version: HEADER_VERSION,
    height: 0,
    parent: ZERO_HASH,
    merkleRoot: ZERO_HASH,
    timestamp: params.genesisTimestamp,
    difficulty: params.Dmin * 65536,
    miner: RESERVED_ADDRESS,
    nonce: 0n,
  });
  return Block.create(header, []);
}
