import { type Hash, sha256, ZERO_HASH } from './hash.ts';

/** Leaf tags: what a leaf commits to. 0x01 tags inner nodes, so no leaf can pass for a node. */
export const LEAF_TX = 0x00;
const NODE = new Uint8Array([0x01]);
export const LEAF_VOTE = 0x02;

/**
 * The root over a block's body: each transaction as 0x00 ‖ txid, then each
 * vote as 0x02 ‖ vote id (DESIGN.md §7). Leaves and inner nodes are hashed
 * with different tags and an odd node is carried up unpaired, so no two
 * bodies share a root (Bitcoin's duplicate-last-node rule made that
 * possible: CVE-2012-2459).
 */
export function merkleRoot(txids: readonly Hash[], voteIds: readonly Hash[] = []): Hash {
  if (txids.length + voteIds.length === 0) return ZERO_HASH.slice();
  const tx = new Uint8Array([LEAF_TX]);
  const vote = new Uint8Array([LEAF_VOTE]);
  let level = [...txids.map((id) => sha256(tx, id)), ...voteIds.map((id) => sha256(vote, id))];
  while (level.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? sha256(NODE, level[i]!, level[i + 1]!) : level[i]!);
    }
    level = next;
  }
  return level[0]!;
}
