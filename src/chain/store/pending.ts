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

export interface KeyRange {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
}

export class PendingWrites {
  private staged = new Map<string, PendingOp>();
  private writing = new Map<string, PendingOp>();

  get size(): number {
    return this.staged.size;
  }

  /** Whether a write of `key` is staged or being written. */
  has(id: string): boolean {
    return this.staged.has(id) || this.writing.has(id);
  }

  /** Takes `op` itself, which nobody changes afterwards. */
  stage(op: PendingOp): void {
    this.staged.set(op.id ?? keyId(op.key), op);
  }

  /** The pending value of a key: its op, or undefined when nothing about it is pending. */
  lookup(id: string): PendingOp | undefined {
    return this.staged.get(id) ?? this.writing.get(id);
  }

  /** The staged writes become the batch being written; reads still see them until `written`. */
  take(): PendingOp[] {
    this.writing = this.staged;
    this.staged = new Map();
    return [...this.writing.values()];
  }

  written(): void {
    this.writing = new Map();
  }

  /** The pending ops inside a key range with their hex keys, in key order (reversed on request), newest generation winning. */
  inRange(range: KeyRange, reverse = false): [string, PendingOp][] {
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
