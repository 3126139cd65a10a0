import { toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import type { Log } from '../chain/log.ts';
import type { ContentStore, ContentUsage, GcResult } from '../content/store.ts';
import { defineMethod, type RpcMethod } from '../rpc/methods.ts';

export class ContentGcError extends ZiError<'UNSUPPORTED' | 'NO_CONTENT'> {}

/** A pin younger than this is kept even if nothing names it yet: a batch is pinned before its payout is mined. */
export const PIN_GRACE_MS = 60 * 60_000;
/** How often a node with --max-storage looks at its store's size. */
export const STORAGE_CHECK_MS = 60_000;

export interface ContentKeeperOptions {
  content: ContentStore;
  /** CIDs (binary) that must stay pinned: the domains' paid batches, audit data, … */
  keep: () => AsyncIterable<Uint8Array>;
  logger: Log;
  /** --max-storage, bytes: above it the node collects garbage by itself. */
  maxBytes?: number;
  checkMs?: number;
  graceMs?: number;
  clock?: () => number;
}

export interface GcReport extends GcResult {
  before: ContentUsage;
  after: ContentUsage;
  /** CIDs the domains named as kept. */
  protected: number;
  maxBytes: number | null;
}

/**
 * Keeps the node's IPFS store within bounds: `zi content gc` and, with
 * --max-storage, a check every minute that collects garbage when the store
 * is over its limit. What a domain must keep (every paid batch) is never
 * unpinned, whatever the limit; a node whose kept data alone is over the
 * limit says so rather than drop it.
 */
export class ContentKeeper {
  private readonly o: Required<Omit<ContentKeeperOptions, 'maxBytes'>> & { maxBytes?: number };
  private timer?: NodeJS.Timeout;
  private running?: Promise<GcReport>;
  /** After a gc that left the store over its limit: the size, or the time, at which to try again. */
  private retry = { above: 0, at: 0 };

  constructor(o: ContentKeeperOptions) {
    this.o = { checkMs: STORAGE_CHECK_MS, graceMs: PIN_GRACE_MS, clock: Date.now, ...o };
  }

  get supported(): boolean {
    return this.o.content.gc !== undefined && this.o.content.usage !== undefined;
  }

  start(): void {
    if (this.o.maxBytes === undefined) return;
    if (!this.supported) {
      this.o.logger.warn(
        { ipfs: this.o.content.kind },
        '--max-storage is not applied to a Kubo daemon: set its Datastore.StorageMax and run ipfs repo gc',
      );
      return;
    }
    this.timer = setInterval(() => void this.check(), this.o.checkMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  private async check(): Promise<void> {
    const max = this.o.maxBytes!;
    try {
      const usage = await this.o.content.usage!();
      if (usage.diskBytes <= max) return;
      if (usage.diskBytes <= this.retry.above && this.o.clock() < this.retry.at) return;
      const r = await this.gc();
      if (r.after.diskBytes <= max) return;
      // What is left must stay, or is a fresh pin: try again once the store has grown by a
      // tenth of the limit, or once today's pins are past their grace.
      this.retry = { above: r.after.diskBytes + Math.ceil(max / 10), at: this.o.clock() + this.o.graceMs };
      this.o.logger.warn(
        { diskBytes: r.after.diskBytes, maxStorage: max, keptBytes: r.keptBytes, freedBytes: r.freedBytes },
        'IPFS store is over --max-storage after gc: what is left are paid batches, which a node keeps, and pins of the last hour',
      );
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'IPFS storage check failed');
    }
  }

  /** One collection at a time; a second caller gets the running one's report. */
  gc(): Promise<GcReport> {
    this.running ??= this.collect().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async collect(): Promise<GcReport> {
    const { content } = this.o;
    if (!content.gc || !content.usage) {
      throw new ContentGcError(
        'UNSUPPORTED',
        'the Kubo daemon manages its own storage: run `ipfs repo gc` there (Zi pins its paid batches, which it keeps)',
      );
    }
    const keep = new Set<string>();
    for await (const cid of this.o.keep()) keep.add(toHex(cid));
    const before = await content.usage();
    const result = await content.gc({
      keep: (cid) => keep.has(toHex(cid.bytes)),
      unpinBefore: this.o.clock() - this.o.graceMs,
    });
    const after = await content.usage();
    return { ...result, before, after, protected: keep.size, maxBytes: this.o.maxBytes ?? null };
  }
}

/** `gccontent`: what `zi content gc` calls. */
export function contentRpcMethods(keeper: ContentKeeper | undefined): Record<string, RpcMethod> {
  return {
    gccontent: defineMethod({
      description:
        'Frees IPFS storage: unpins what no domain must keep (never a paid batch; pins of the last hour stay too) and deletes every block not pinned. Returns what it freed and the store before and after.',
      params: [],
      handler: () => {
        if (!keeper) throw new ContentGcError('NO_CONTENT', 'this node runs without IPFS (no p2p network)');
        return keeper.gc();
      },
    }),
  };
}
