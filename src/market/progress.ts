import type { Chain } from '../chain/chain.ts';
import { toHex } from '../chain/encoding.ts';
import type { Hash } from '../chain/hash.ts';
import { TX_KINDS } from '../chain/transaction.ts';
import { payoutRules } from './contract-tx.ts';
import { rangeCount } from './ranges.ts';

/** How far back `recentRate` looks: enough blocks for a steady figure, not so many that a status call is slow. */
export const RATE_WINDOW = { blocks: 120, ms: 10 * 60_000 };

export interface RecentRate {
  /** MCUs paid per second of block time over the window; 0 when none were paid in it. */
  mcusPerSecond: number;
  /** MCUs and payouts of the contract in the window. */
  mcus: number;
  payouts: number;
  /** Block time the window spans, ms. */
  spanMs: number;
}

/** What one block paid, per contract (hex id): blocks never change, so it is worked out once per block. */
type BlockPayouts = Map<string, { mcus: number; payouts: number }>;

/**
 * A contract's pace as the chain shows it: the MCUs its payouts paid in the
 * latest blocks over the block time they span. Any node can tell, not only
 * the contract's authority. The reader remembers what each recent block
 * paid, so a client polling the status reads only the blocks that are new.
 */
export function rateReader(chain: Chain, window = RATE_WINDOW): (id: Hash) => Promise<RecentRate> {
  const cache = new Map<string, BlockPayouts>();
  async function payoutsOf(hash: Hash): Promise<BlockPayouts> {
    const key = toHex(hash);
    const hit = cache.get(key);
    if (hit) return hit;
    const out: BlockPayouts = new Map();
    const block = await chain.getBlock(hash);
    for (const tx of block?.txs ?? []) {
      if (tx.kind !== TX_KINDS.payout) continue;
      const body = payoutRules.decode(tx.payload, chain.params);
      const id = toHex(body.contract);
      const p = out.get(id) ?? { mcus: 0, payouts: 0 };
      p.mcus += rangeCount(body.ranges);
      p.payouts++;
      out.set(id, p);
    }
    cache.set(key, out);
    // Oldest first out: the window moves forward with the tip.
    while (cache.size > 2 * window.blocks) cache.delete(cache.keys().next().value!);
    return out;
  }
  return async (id) => {
    const want = toHex(id);
    const tip = chain.tip;
    let mcus = 0;
    let payouts = 0;
    let oldest = tip.header.timestamp;
    for (let h = tip.height; h > 0 && tip.height - h < window.blocks; h--) {
      const entry = chain.entryAtHeight(h);
      if (!entry || tip.header.timestamp - entry.header.timestamp > window.ms) break;
      const p = (await payoutsOf(entry.hash)).get(want);
      if (p) {
        mcus += p.mcus;
        payouts += p.payouts;
      }
      // The window starts where the block before it ended, but not at genesis, whose time is long before block 1.
      oldest =
        h > 1 ? (chain.entryAtHeight(h - 1)?.header.timestamp ?? entry.header.timestamp) : entry.header.timestamp;
    }
    const spanMs = Math.min(window.ms, tip.header.timestamp - oldest);
    return { mcusPerSecond: spanMs > 0 ? (mcus / spanMs) * 1000 : 0, mcus, payouts, spanMs };
  };
}
