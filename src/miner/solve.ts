import type { Block } from '../chain/block.ts';
import { searchNonces } from './kernel.ts';
import { completeBlock, type Template } from './template.ts';

/**
 * Solves a template on the calling thread. For devnet-sized targets (tests,
 * benchmarks, tools); the node's miner searches on worker threads instead.
 */
export function solveTemplate(t: Template, chunk = 1 << 20): Block {
  for (let start = 0n; ; start += BigInt(chunk)) {
    const r = searchNonces(t.prefix, t.target, start, chunk);
    if (r.nonce !== null) return completeBlock(t, r.nonce);
  }
}
