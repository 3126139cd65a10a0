import type { Block } from '../chain/block.ts';
import { toHex } from '../chain/encoding.ts';

export interface HeldBlock {
  block: Block;
  hash: string;
  parent: string;
  /** The peer that sent it, blamed if it turns out invalid. */
  peer: string;
  at: number;
}

/**
 * Blocks we cannot use yet but must not drop: children of an unknown parent
 * (while their ancestors are fetched from the peer that sent them) and
 * blocks stamped too far ahead of our clock (retried as the clock moves).
 * Bounded in count, bytes and age; the oldest go first, and one peer can
 * fill at most a quarter of it, so a flood of orphans costs the flooder its
 * own share and nothing more.
 */
export class HeldBlocks {
  private readonly byHash = new Map<string, HeldBlock>();
  private bytes = 0;
  private readonly maxBlocks: number;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;

  constructor(opts: { maxBlocks?: number; maxBytes?: number; maxAgeMs?: number } = {}) {
    this.maxBlocks = opts.maxBlocks ?? 128;
    this.maxBytes = opts.maxBytes ?? 32 * 1024 * 1024;
    this.maxAgeMs = opts.maxAgeMs ?? 10 * 60 * 1000;
  }

  get size(): number {
    return this.byHash.size;
  }

  has(hash: Uint8Array): boolean {
    return this.byHash.has(toHex(hash));
  }

  /** False when the block was already held or its sender has used up its share. */
  add(block: Block, peer: string, now = Date.now()): boolean {
    const hash = toHex(block.hash());
    if (this.byHash.has(hash)) return false;
    this.expire(now);
    let fromPeer = 0;
    for (const h of this.byHash.values()) if (h.peer === peer) fromPeer++;
    if (fromPeer >= Math.max(1, Math.floor(this.maxBlocks / 4))) return false;
    while (this.byHash.size > 0 && (this.byHash.size >= this.maxBlocks || this.bytes + block.size > this.maxBytes)) {
      this.remove(this.byHash.keys().next().value as string);
    }
    if (block.size > this.maxBytes) return false;
    this.byHash.set(hash, { block, hash, parent: toHex(block.header.parent), peer, at: now });
    this.bytes += block.size;
    return true;
  }

  /** Removes and returns the held children of `parent`. */
  takeChildren(parent: Uint8Array): HeldBlock[] {
    const p = toHex(parent);
    const out = [...this.byHash.values()].filter((h) => h.parent === p);
    for (const h of out) this.remove(h.hash);
    return out;
  }

  /** Removes and returns the blocks `ready` picks. */
  take(ready: (h: HeldBlock) => boolean): HeldBlock[] {
    const out = [...this.byHash.values()].filter(ready);
    for (const h of out) this.remove(h.hash);
    return out;
  }

  dropFrom(peer: string): void {
    for (const h of [...this.byHash.values()]) if (h.peer === peer) this.remove(h.hash);
  }

  private remove(hash: string): void {
    const h = this.byHash.get(hash);
    if (h === undefined) return;
    this.byHash.delete(hash);
    this.bytes -= h.block.size;
  }

  private expire(now: number): void {
    for (const h of [...this.byHash.values()]) if (now - h.at > this.maxAgeMs) this.remove(h.hash);
  }
}
