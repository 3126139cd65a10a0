import { type Hash, sha256, ZERO_HASH } from './hash.ts';

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
  if (txids.length + voteIds.length === 0) return ZERO_HASH.slice();
  // Each hash's input laid out in one reused buffer: no concatenation per node.
  const leaf = new Uint8Array(33);
  const node = new Uint8Array(65);
  node[0] = NODE;
  let level: Hash[] = [];
  const addLeaf = (tag: number, id: Hash) => {
    leaf[0] = tag;
    leaf.set(id, 1);
    level.push(sha256(leaf));
  };
  for (const id of txids) addLeaf(LEAF_TX, id);
  for (const id of voteIds) addLeaf(LEAF_VOTE, id);
  while (level.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i < level.length; i += 2) {
      if (i + 1 === level.length) {
        next.push(level[i]!);
        continue;
      }
      node.set(level[i]!, 1);
      node.set(level[i + 1]!, 33);
      next.push(sha256(node));
    }
    level = next;
  }
  return level[0]!;
}
