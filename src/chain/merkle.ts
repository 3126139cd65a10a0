import { type Hash, sha256Ranges, ZERO_HASH } from './hash.ts';

/** Leaf tags: what a leaf commits to. 0x01 tags inner nodes, so no leaf can pass for a node. */
export const LEAF_TX = 0x00;
const NODE = 0x01;
export const LEAF_VOTE = 0x02;

/**
 * The root over a block's body: each transaction as 0x00 ‖ txid, then each
 * vote as 0x02 ‖ vote id (DESIGN.md §7). Leaves and inner nodes are hashed
 * with different tags and an odd node is carried up unpaired, so no two
 * bodies share a root (Bitcoin's duplicate-last-node rule made that
 * possible: CVE-2012-2459).
 */
export function merkleRoot(txids: readonly Hash[], voteIds: readonly Hash[] = []): Hash {
  const n = txids.length + voteIds.length;
  if (n === 0) return ZERO_HASH.slice();
  // Each level's inputs laid out in one buffer and hashed in one call (hash.ts).
  const leaves = new Uint8Array(33 * n);
  [...txids, ...voteIds].forEach((id, i) => {
    leaves[33 * i] = i < txids.length ? LEAF_TX : LEAF_VOTE;
    leaves.set(id, 33 * i + 1);
  });
  let level = sha256Ranges(leaves, strided(n, 33));
  let width = n;
  while (width > 1) {
    const pairs = width >> 1;
    const nodes = new Uint8Array(65 * pairs);
    for (let i = 0; i < pairs; i++) {
      nodes[65 * i] = NODE;
      // Byte by byte: a subarray per pair to set() from costs more than the copy.
      for (let j = 0; j < 64; j++) nodes[65 * i + 1 + j] = level[64 * i + j]!;
    }
    const hashed = sha256Ranges(nodes, strided(pairs, 65));
    if (width % 2 === 0) level = hashed;
    else {
      // The odd node goes up unpaired.
      const up = new Uint8Array(32 * (pairs + 1));
      up.set(hashed);
      up.set(level.subarray(32 * (width - 1), 32 * width), 32 * pairs);
      level = up;
    }
    width = pairs + (width % 2);
  }
  return level.slice(0, 32);
}

/** n ranges of `size` bytes laid end to end. */
function strided(n: number, size: number): Uint32Array {
  const ranges = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    ranges[2 * i] = size * i;
    ranges[2 * i + 1] = size;
  }
  return ranges;
}
