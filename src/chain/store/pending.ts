import { keyId } from '../encoding.ts';

/**
 * Writes made in memory and not yet in the database, as Bitcoin Core's
 * coins cache holds a block's changes until the next flush: a block then
 * costs the node its checks and its apply, not a disk write of every key it
 * touched. Two generations: `staged` (still taking writes) and `writing`
 * (the batch the database is applying now). Reads look here first, newest
 * generation first. Keys are compared as keyId strings, which sort as the bytes do.
 */
export interface PendingOp {
  key: Uint8Array;
  /** Absent: the key is deleted. */
  value?: Uint8Array | undefined;
  /** keyId(key), when the op was built ahead of staging (a block's batch is built while its signatures verify). */
  id?: string;
}

/**
 * Writes worked out only once something needs them: a read of a key under
 * one of `prefixes`, a write there, or the flush. A block's history index
 * and undo data are thousands of keys nothing reads on the block's path, so
 * they are laid out by the flush that writes them (DESIGN.md §7, as Bitcoin
 * Core's txindex is built after a block connects), in the same atomic batch.
 */
export interface DeferredOps {
  /** The first key byte of every op `expand` gives. */
  readonly prefixes: readonly number[];
  /** About how many ops `expand` gives (the bound on pending writes counts them). */
  readonly count: number;
  expand(): PendingOp[];
}

export interface KeyRange {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
}

export class PendingWrites {
  private staged = new Map<string, PendingOp>();
  private writing = new Map<string, PendingOp>();
  /** In the order given: each expands after those before it and after every op staged before it. */
  private deferred: DeferredOps[] = [];
  private deferredCount = 0;
  /** Per first key byte: whether a deferred write may be under it. */
  private readonly deferredPrefix = new Uint8Array(256);

  get size(): number {
    return this.staged.size + this.deferredCount;
  }

  /** Whether a write of `key` is staged or being written. */
  has(id: string): boolean {
    this.settleFor(id);
    return this.staged.has(id) || this.writing.has(id);
  }

  /** Takes `op` itself, which nobody changes afterwards. */
  stage(op: PendingOp): void {
    // A deferred write of the same key is older: it goes first.
    if (this.deferredCount > 0 && this.deferredPrefix[op.key[0]!]) this.settle();
    this.staged.set(op.id ?? keyId(op.key), op);
  }

  /**
   * Many at once, by keyId; with nothing else pending, `ops` itself becomes
   * the staged map: a block's batch, keyed while its signatures verified,
   * then costs nothing to stage.
   */
  stageAll(ops: Map<string, PendingOp>): void {
    if (this.staged.size === 0 && this.deferredCount === 0) this.staged = ops;
    else for (const op of ops.values()) this.stage(op);
  }

  defer(ops: DeferredOps): void {
    this.deferred.push(ops);
    this.deferredCount += ops.count;
    for (const p of ops.prefixes) this.deferredPrefix[p] = 1;
  }

  /** The pending value of a key: its op, or undefined when nothing about it is pending. */
  lookup(id: string): PendingOp | undefined {
    this.settleFor(id);
    return this.staged.get(id) ?? this.writing.get(id);
  }

  private settleFor(id: string): void {
    if (this.deferredCount > 0 && this.deferredPrefix[id.charCodeAt(0)]) this.settle();
  }

  /** Every deferred write staged, in order. */
  private settle(): void {
    const all = this.deferred;
    this.deferred = [];
    this.deferredCount = 0;
    this.deferredPrefix.fill(0);
    for (const d of all) for (const op of d.expand()) this.staged.set(op.id ?? keyId(op.key), op);
  }

  /** The staged writes become the batch being written; reads still see them until `written`. */
  take(): PendingOp[] {
    this.settle();
    this.writing = this.staged;
    this.staged = new Map();
    return [...this.writing.values()];
  }

  written(): void {
    this.writing = new Map();
  }

  /** The pending ops inside a key range with their hex keys, in key order (reversed on request), newest generation winning. */
  inRange(range: KeyRange, reverse = false): [string, PendingOp][] {
    this.settle();
    if (this.staged.size === 0 && this.writing.size === 0) return [];
    const gt = range.gt && keyId(range.gt);
    const gte = range.gte && keyId(range.gte);
    const lt = range.lt && keyId(range.lt);
    const lte = range.lte && keyId(range.lte);
    const hits = new Map<string, PendingOp>();
    for (const gen of [this.writing, this.staged]) {
      for (const [id, op] of gen) {
        if ((gt !== undefined && id <= gt) || (gte !== undefined && id < gte)) continue;
        if ((lt !== undefined && id >= lt) || (lte !== undefined && id > lte)) continue;
        hits.set(id, op);
      }
    }
    const ids = [...hits.keys()].sort();
    if (reverse) ids.reverse();
    return ids.map((id) => [id, hits.get(id)!]);
  }
}
