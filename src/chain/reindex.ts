import { Chain, type ChainOptions, OrphanBlockError } from './chain.ts';
import { ValidationError } from './errors.ts';
import { genesisBlock } from './genesis.ts';
import { ChainDB } from './store/chaindb.ts';

export interface ReindexProgress {
  /** Stored blocks handled so far, of `total`. */
  done: number;
  total: number;
  /** The rebuilt tip's height, and the highest stored block's. */
  height: number;
  target: number;
  /** Blocks per second over the whole run. */
  rate: number;
  /** Seconds left at that rate. */
  eta: number;
}

export interface ReindexReport {
  /** LevelDB's repair ran because the database did not open. */
  repaired: boolean;
  /** Readable stored blocks, genesis left out. */
  stored: number;
  /** Stored blocks that were unreadable, so deleted: peers send them again. */
  damaged: number;
  /** Readable blocks whose ancestor was lost: deleted, peers send them again. */
  unreachable: number;
  /** Blocks that break a consensus rule: kept as invalid, as before. */
  invalid: number;
  height: number;
  ms: number;
}

/**
 * `zi node --reindex`, as Bitcoin Core's -reindex: the state, undo data,
 * block index and the tx and address indexes are rebuilt by connecting the
 * stored blocks again from genesis, each one checked as if it had just
 * arrived. Here the blocks live in the same database as the state (there are
 * no separate block files), so the reindex can only use what that database
 * still holds: a block lost with a damaged table is gone, and with it the
 * blocks above it, which the node downloads again from its peers.
 */
export async function reindex(
  opts: ChainOptions,
  onProgress?: (p: ReindexProgress) => void,
  progressMs = 2000,
): Promise<ReindexReport> {
  const started = Date.now();
  const scan = await ChainDB.prepareReindex(opts.path, genesisBlock(opts.params), opts.params);
  // A stored block passed the clock check when it arrived; it is not re-judged by today's clock.
  let blockTime = 0;
  const clock = opts.clock ?? Date.now;
  const chain = await Chain.open({ ...opts, reindexing: true, clock: () => Math.max(clock(), blockTime) });
  const report: ReindexReport = {
    repaired: scan.repaired,
    stored: scan.blocks.length,
    damaged: scan.damaged,
    unreachable: 0,
    invalid: 0,
    height: 0,
    ms: 0,
  };
  const target = scan.blocks.at(-1)?.height ?? 0;
  const progress = (done: number) => {
    const secs = (Date.now() - started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const eta = rate > 0 ? Math.round((scan.blocks.length - done) / rate) : 0;
    onProgress?.({ done, total: scan.blocks.length, height: chain.height, target, rate: Math.round(rate), eta });
  };
  let lastReport = Date.now();
  try {
    for (const [i, { hash }] of scan.blocks.entries()) {
      const block = await chain.getBlock(hash);
      if (block === undefined) continue;
      blockTime = block.header.timestamp;
      try {
        await chain.addBlock(block);
      } catch (err) {
        if (err instanceof OrphanBlockError) {
          await chain.store.deleteBlock(hash);
          report.unreachable++;
        } else if (err instanceof ValidationError) {
          report.invalid++;
        } else {
          throw err;
        }
      }
      if (Date.now() - lastReport >= progressMs) {
        lastReport = Date.now();
        progress(i + 1);
      }
    }
    progress(scan.blocks.length);
    await chain.store.endReindex();
    report.height = chain.height;
  } finally {
    await chain.close();
  }
  report.ms = Date.now() - started;
  return report;
}
