import type { Chain, ChainEntry } from '../chain/chain.ts';
import { toHex } from '../chain/encoding.ts';
import type { Hash } from '../chain/hash.ts';
import type { BlockHeader } from '../chain/header.ts';
import { STATUS_INVALID } from '../chain/store/chaindb.ts';
import { LIMITS } from './messages.ts';

/**
 * A block locator (as in Bitcoin): the ten newest hashes of a chain, then
 * hashes at doubling distances, then genesis. ~log2(height) entries let a
 * peer find our last common block in one round trip however far we forked.
 */
export function buildLocator(chain: Chain, from: ChainEntry = chain.tip): Hash[] {
  const out: Hash[] = [];
  const fork = chain.findFork(from);
  let step = 1;
  let height = from.height;
  let e: ChainEntry | undefined = from;
  while (out.length < LIMITS.locator - 1) {
    if (height <= fork.height) e = chain.entryAtHeight(height);
    else while (e && e.height > height) e = chain.entry(e.header.parent);
    if (e === undefined) break;
    out.push(e.hash);
    if (height === 0) return out;
    if (out.length >= 10) step *= 2;
    height = Math.max(0, height - step);
  }
  out.push(chain.genesisHash);
  return out;
}

/** Side branches are walked back at most this far to answer a request (in memory, but still bounded). */
const MAX_BRANCH_WALK = 100_000;

/**
 * The server side of getHeaders: headers of the chain ending at `target`
 * (the main tip when absent), after the newest locator hash on that chain.
 * Serving side chains too is what lets a node fetch the ancestors of a block
 * its peer accepted as a side block.
 */
export function headersAfter(
  chain: Chain,
  locator: readonly Hash[],
  target: Hash | undefined,
  max: number,
): BlockHeader[] {
  const end = target === undefined ? chain.tip : chain.entry(target);
  if (end === undefined || end.status & STATUS_INVALID) return [];
  const branch: ChainEntry[] = [];
  let e: ChainEntry | undefined = end;
  while (e && !chain.isMain(e)) {
    if (branch.length >= MAX_BRANCH_WALK) return [];
    branch.push(e);
    e = chain.entry(e.header.parent);
  }
  if (e === undefined) return [];
  const fork = e;
  const onBranch = new Set(branch.map((b) => toHex(b.hash)));
  let start = 0;
  for (const h of locator) {
    const le = chain.entry(h);
    if (le === undefined) continue;
    if (onBranch.has(toHex(h)) || (chain.isMain(le) && le.height <= fork.height)) {
      start = le.height;
      break;
    }
  }
  const out: BlockHeader[] = [];
  for (let h = start + 1; h <= end.height && out.length < max; h++) {
    const entry = h <= fork.height ? chain.entryAtHeight(h) : branch[end.height - h];
    if (entry === undefined) break;
    out.push(entry.header);
  }
  return out;
}
