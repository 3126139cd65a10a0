import { type Hash, sha256, ZERO_HASH } from './hash.ts';

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

/**
 * Leaves and inner nodes are hashed with different tags and an odd node is
 * carried up unpaired, so no two transaction lists share a root (Bitcoin's
 * duplicate-last-node rule made that possible: CVE-2012-2459).
 */
export function merkleRoot(ids: readonly Hash[]): Hash {
  if (ids.length === 0) return ZERO_HASH.slice();
  let level = ids.map((id) => sha256(LEAF, id));
  while (level.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? sha256(NODE, level[i]!, level[i + 1]!) : level[i]!);
    }
    level = next;
  }
  return level[0]!;
}
