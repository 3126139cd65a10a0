import { randomInt } from 'node:crypto';
import { bigIntToBytes32, type Hash } from './hash.ts';
import { BlockHeader, HEADER_SIZE, HEADER_VERSION } from './header.ts';
import { type ChainEntry, ENTRY_BYTES, encodeEntry, STATUS_HAS_BODY, STATUS_INVALID } from './store/chaindb.ts';

/**
 * The block index in memory, one fixed-size row per known block (main and
 * side chains): hash ‖ the stored entry (header ‖ chain work ‖ status ‖
 * |Po|). A JS object per header (a header object, several Uint8Arrays, a
 * hex key) left 2.5 GB resident at a million blocks. Rows cost 181 bytes,
 * and the same rows, grouped by height, are what the store keeps as its
 * start-up snapshot (Chain.saveIndex), so a clean start copies them in
 * whole. ChainEntry objects are made on demand; their status and |Po| read
 * and write the row, so chain.ts can keep mutating entries in place.
 */
export const ROW_BYTES = 32 + ENTRY_BYTES;
const HEADER_AT = 32;
const HEIGHT_AT = HEADER_AT + 4;
const PARENT_AT = HEADER_AT + 8;
const TIMESTAMP_AT = HEADER_AT + 72;
const WORK_AT = HEADER_AT + HEADER_SIZE;
const STATUS_AT = WORK_AT + 32;
const PROBLEMS_AT = STATUS_AT + 1;
/** Every status bit chaindb.ts defines (HAS_BODY | INVALID | CONNECTED). */
const STATUS_BITS = 7;

/** Heights per snapshot chunk: one store record each, about 185 KB of main-chain rows. */
export const CHUNK_HEIGHTS = 1024;

/** Entries made on demand and kept, so that hot ones (the tip, recent blocks) are the same object each time. */
const VIEW_CACHE = 4096;

/**
 * An entry made from a row. Every field is an own enumerable property, so
 * that `{ ...entry }` copies it as it would a plain entry (chain.ts does);
 * status and |Po| are accessors that read and write the row.
 */
class IndexedEntry implements ChainEntry {
  readonly hash: Hash;
  readonly header: BlockHeader;
  readonly height: number;
  readonly chainwork: bigint;
  declare status: number;
  declare openProblems: number;
  readonly #index: HeaderIndex;
  readonly #pos: number;

  static readonly #live: PropertyDescriptorMap = {
    status: {
      enumerable: true,
      get(this: IndexedEntry) {
        return this.#index.statusAt(this.#pos);
      },
      set(this: IndexedEntry, v: number) {
        this.#index.setStatus(this.#pos, v);
      },
    },
    openProblems: {
      enumerable: true,
      get(this: IndexedEntry) {
        return this.#index.problemsAt(this.#pos);
      },
      set(this: IndexedEntry, v: number) {
        this.#index.setProblems(this.#pos, v);
      },
    },
  };

  constructor(index: HeaderIndex, pos: number) {
    this.#index = index;
    this.#pos = pos;
    this.hash = index.hashAt(pos);
    this.header = index.headerAt(pos);
    this.height = index.heightAt(pos);
    this.chainwork = index.workAt(pos);
    Object.defineProperties(this, IndexedEntry.#live);
  }

  /** Its row's position in `index`, or -1 when it is another index's. */
  positionIn(index: HeaderIndex): number {
    return this.#index === index ? this.#pos : -1;
  }
}

export class HeaderIndex {
  #rows: Uint8Array;
  #view: DataView;
  #count = 0;
  /** Open addressing on the hash, linear probing: position + 1, 0 for an empty slot. */
  #slots: Int32Array;
  #main: Int32Array;
  #mainLength = 0;
  #cache = new Map<number, IndexedEntry>();
  /** Chunks whose rows changed since they were read from the store; all of them after a scan of the entries. */
  #changed = new Set<number>();
  #allChanged = false;
  // Blocks on an invalid parent are stored without proof of work, so their
  // hashes are cheap to choose: the slot depends on secret seeds.
  readonly #seeds = [randomInt(2 ** 32), randomInt(2 ** 32), randomInt(2 ** 32)] as const;
  readonly #damaged: (what: string) => Error;

  constructor(damaged: (what: string) => Error, capacity = 1024) {
    this.#damaged = damaged;
    const cap = Math.max(1024, capacity);
    this.#rows = new Uint8Array(cap * ROW_BYTES);
    this.#view = new DataView(this.#rows.buffer);
    this.#slots = new Int32Array(slotsFor(cap));
    this.#main = new Int32Array(cap);
  }

  get size(): number {
    return this.#count;
  }

  /** A record as the store keeps it (`e‖hash` → ENTRY_BYTES), checked; an existing row of that hash is replaced. */
  putRecord(hash: Uint8Array, value: Uint8Array): void {
    if (hash.length !== 32 || value.length !== ENTRY_BYTES) {
      throw this.#damaged(`a block index entry has ${value.length} bytes, not ${ENTRY_BYTES}`);
    }
    const known = this.#find(hash);
    const pos = known >= 0 ? known : this.#append();
    this.#rows.set(hash, pos * ROW_BYTES);
    this.#rows.set(value, pos * ROW_BYTES + HEADER_AT);
    this.#check(pos);
    if (known < 0) this.#insert(pos);
    else this.#cache.delete(pos);
  }

  /** A snapshot chunk's rows as Chain.saveIndex writes them, each checked: its heights are `chunk`'s. */
  putChunk(chunk: number, rows: Uint8Array): void {
    const n = rows.length / ROW_BYTES;
    if (!Number.isInteger(n) || n === 0) throw this.#damaged(`header chunk ${chunk} has ${rows.length} bytes`);
    this.#reserve(this.#count + n);
    const first = this.#count;
    this.#rows.set(rows, first * ROW_BYTES);
    for (let pos = first; pos < first + n; pos++) {
      this.#check(pos);
      if (Math.floor(this.heightAt(pos) / CHUNK_HEIGHTS) !== chunk) {
        throw this.#damaged(`header chunk ${chunk} holds a block of height ${this.heightAt(pos)}`);
      }
      this.#count = pos + 1;
      if (!this.#insert(pos)) throw this.#damaged(`header chunk ${chunk} repeats a block`);
    }
  }

  /** After a scan of every stored entry: the next snapshot writes every chunk. */
  markAllChanged(): void {
    this.#allChanged = true;
  }

  /** A new or re-stored entry; the index's own entry for it. */
  add(e: ChainEntry): ChainEntry {
    this.putRecord(e.hash, encodeEntry(e));
    this.#changed.add(chunkOf(e.height));
    return this.get(e.hash)!;
  }

  get(hash: Hash): ChainEntry | undefined {
    const pos = this.#find(hash);
    return pos < 0 ? undefined : this.entryAt(pos);
  }

  atHeight(height: number): ChainEntry | undefined {
    if (!Number.isInteger(height) || height < 0 || height >= this.#mainLength) return undefined;
    return this.entryAt(this.#main[height]!);
  }

  isMain(e: ChainEntry): boolean {
    const h = e.height;
    if (h < 0 || h >= this.#mainLength) return false;
    const pos = this.#main[h]!;
    if (e instanceof IndexedEntry && e.positionIn(this) >= 0) return e.positionIn(this) === pos;
    return this.#hashEquals(pos, e.hash);
  }

  /**
   * `e` (already added) becomes the main chain's block at its height, above
   * the rest; its status and |Po| as `e` now has them. The index's own entry.
   */
  setMain(e: ChainEntry): ChainEntry {
    const pos = this.#find(e.hash);
    if (pos < 0) throw new Error(`block ${e.height} joins the main chain before the index`);
    if (e.height > this.#mainLength) throw new Error(`block ${e.height} leaves a gap in the main chain`);
    if (this.statusAt(pos) !== e.status) this.setStatus(pos, e.status);
    if (this.problemsAt(pos) !== e.openProblems) this.setProblems(pos, e.openProblems);
    this.#mainLength = e.height;
    this.#pushMain(pos);
    return this.entryAt(pos);
  }

  /** The main chain ends below `height`. */
  truncateMain(height: number): void {
    this.#mainLength = Math.min(this.#mainLength, height);
  }

  /**
   * Rebuilds the main chain from its tip back to genesis by parent hashes;
   * damage (a missing parent, a height out of step) is refused.
   */
  linkMain(tip: Hash): ChainEntry {
    let pos = this.#find(tip);
    if (pos < 0) throw this.#damaged('the tip block has no index entry');
    const height = this.heightAt(pos);
    if (height >= this.#main.length) this.#main = new Int32Array(height + 1 + (height >> 3));
    for (let h = height; ; h--) {
      this.#main[h] = pos;
      if (h === 0) break;
      const parent = this.#parentOf(pos);
      if (parent < 0 || this.heightAt(parent) !== h - 1) {
        throw this.#damaged('the main chain has a gap in the block index');
      }
      pos = parent;
    }
    this.#mainLength = height + 1;
    return this.entryAt(this.#main[height]!);
  }

  /**
   * Fork choice's candidates: the entries with a body, not invalid, and more
   * chain work than `than`, found by comparing rows (a start looks for them
   * among every known block, chain.ts replay).
   */
  *moreWork(than: bigint): Generator<ChainEntry> {
    const min = bigIntToBytes32(than);
    const rows = this.#rows;
    for (let pos = 0; pos < this.#count; pos++) {
      const status = this.statusAt(pos);
      if (!(status & STATUS_HAS_BODY) || status & STATUS_INVALID) continue;
      const at = pos * ROW_BYTES + WORK_AT;
      let i = 0;
      while (i < 32 && rows[at + i] === min[i]) i++;
      if (i < 32 && rows[at + i]! > min[i]!) yield this.entryAt(pos);
    }
  }

  /** The entries at `height` and above not (yet) marked invalid, as they are when each is reached. */
  *validFrom(height: number): Generator<ChainEntry> {
    for (let pos = 0; pos < this.#count; pos++) {
      if (this.heightAt(pos) >= height && !(this.statusAt(pos) & STATUS_INVALID)) yield this.entryAt(pos);
    }
  }

  /** The chunks a snapshot must write now: those changed since the store last had them. */
  changedChunks(): { chunk: number; fromStore: boolean }[] {
    const all = new Set<number>(this.#changed);
    if (this.#allChanged) for (let pos = 0; pos < this.#count; pos++) all.add(chunkOf(this.heightAt(pos)));
    return [...all].sort((a, b) => a - b).map((chunk) => ({ chunk, fromStore: this.#changed.has(chunk) }));
  }

  /** The positions of every entry in each of `chunks`, by chunk, by height, the main chain's first at each. */
  chunkMembers(chunks: readonly number[]): Map<number, number[]> {
    const out = new Map<number, number[]>(chunks.map((c) => [c, []]));
    for (let pos = 0; pos < this.#count; pos++) out.get(chunkOf(this.heightAt(pos)))?.push(pos);
    const key = (pos: number) => this.heightAt(pos) * 2 + (this.#onMain(pos) ? 0 : 1);
    for (const members of out.values()) members.sort((a, b) => key(a) - key(b));
    return out;
  }

  /** The row of position `pos` as the store would write it into a chunk. */
  rowAt(pos: number): Uint8Array {
    return this.#rows.subarray(pos * ROW_BYTES, (pos + 1) * ROW_BYTES);
  }

  /** The snapshot now holds every chunk as the index has it. */
  saved(): void {
    this.#changed.clear();
    this.#allChanged = false;
  }

  entryAt(pos: number): ChainEntry {
    let e = this.#cache.get(pos);
    if (e === undefined) {
      e = new IndexedEntry(this, pos);
      if (this.#cache.size >= VIEW_CACHE) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(pos, e);
    }
    return e;
  }

  hashAt(pos: number): Hash {
    return this.#rows.slice(pos * ROW_BYTES, pos * ROW_BYTES + 32);
  }

  headerAt(pos: number): BlockHeader {
    const at = pos * ROW_BYTES + HEADER_AT;
    return BlockHeader.fromBytes(this.#rows.slice(at, at + HEADER_SIZE));
  }

  heightAt(pos: number): number {
    return this.#view.getUint32(pos * ROW_BYTES + HEIGHT_AT);
  }

  workAt(pos: number): bigint {
    const at = pos * ROW_BYTES + WORK_AT;
    const v = this.#view;
    return (
      (v.getBigUint64(at) << 192n) |
      (v.getBigUint64(at + 8) << 128n) |
      (v.getBigUint64(at + 16) << 64n) |
      v.getBigUint64(at + 24)
    );
  }

  statusAt(pos: number): number {
    return this.#rows[pos * ROW_BYTES + STATUS_AT]!;
  }

  setStatus(pos: number, v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > STATUS_BITS) throw new RangeError(`unknown block status ${v}`);
    this.#rows[pos * ROW_BYTES + STATUS_AT] = v;
    this.#changed.add(chunkOf(this.heightAt(pos)));
  }

  problemsAt(pos: number): number {
    return this.#view.getUint32(pos * ROW_BYTES + PROBLEMS_AT);
  }

  setProblems(pos: number, v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`|Po| out of range: ${v}`);
    this.#view.setUint32(pos * ROW_BYTES + PROBLEMS_AT, v);
    this.#changed.add(chunkOf(this.heightAt(pos)));
  }

  #onMain(pos: number): boolean {
    const h = this.heightAt(pos);
    return h < this.#mainLength && this.#main[h] === pos;
  }

  #check(pos: number): void {
    const at = pos * ROW_BYTES;
    if (this.#view.getUint32(at + HEADER_AT) !== HEADER_VERSION) {
      throw this.#damaged(`a block index entry has header version ${this.#view.getUint32(at + HEADER_AT)}`);
    }
    if (this.#view.getBigUint64(at + TIMESTAMP_AT) > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw this.#damaged('a block index entry has a timestamp out of range');
    }
    if (this.#rows[at + STATUS_AT]! > STATUS_BITS) {
      throw this.#damaged(`a block index entry has an unknown status ${this.#rows[at + STATUS_AT]}`);
    }
  }

  #pushMain(pos: number): void {
    if (this.#mainLength >= this.#main.length) {
      const next = new Int32Array(Math.max(1024, Math.ceil(this.#main.length * 1.5)));
      next.set(this.#main.subarray(0, this.#mainLength));
      this.#main = next;
    }
    this.#main[this.#mainLength++] = pos;
  }

  #append(): number {
    this.#reserve(this.#count + 1);
    return this.#count++;
  }

  #reserve(count: number): void {
    if (count * ROW_BYTES > this.#rows.length) {
      const next = new Uint8Array(Math.max(count, Math.ceil((this.#rows.length / ROW_BYTES) * 1.5)) * ROW_BYTES);
      next.set(this.#rows.subarray(0, this.#count * ROW_BYTES));
      this.#rows = next;
      this.#view = new DataView(next.buffer);
    }
    if (count * 2 > this.#slots.length) {
      this.#slots = new Int32Array(slotsFor(count));
      for (let pos = 0; pos < this.#count; pos++) this.#insert(pos);
    }
  }

  /** The slot a hash starts probing at; bytes 20..31, as a proof-of-work hash starts with zeros. */
  #slotOf(bytes: Uint8Array, at: number): number {
    const [a, b, c] = this.#seeds;
    let h = Math.imul(word(bytes, at + 28) ^ a, 0x9e3779b1);
    h ^= Math.imul(word(bytes, at + 24) ^ b, 0x85ebca77);
    h ^= Math.imul(word(bytes, at + 20) ^ c, 0xc2b2ae3d);
    h ^= h >>> 15;
    return h & (this.#slots.length - 1);
  }

  /** False, inserting nothing, when another position already holds this hash. */
  #insert(pos: number): boolean {
    const mask = this.#slots.length - 1;
    const hash = this.#rows.subarray(pos * ROW_BYTES, pos * ROW_BYTES + 32);
    let s = this.#slotOf(hash, 0);
    for (; this.#slots[s] !== 0; s = (s + 1) & mask) if (this.#hashEquals(this.#slots[s]! - 1, hash)) return false;
    this.#slots[s] = pos + 1;
    return true;
  }

  /**
   * The position of the parent of the entry at `pos`, or -1. A snapshot's
   * rows come by height, so the parent is usually the first row of the
   * height below: tried before the hash table, whose probes go all over a
   * few hundred megabytes.
   */
  #parentOf(pos: number): number {
    const parent = this.#rows.subarray(pos * ROW_BYTES + PARENT_AT, pos * ROW_BYTES + PARENT_AT + 32);
    const below = this.heightAt(pos) - 1;
    let guess = pos - 1;
    // Side blocks at that height come after the main one: a few steps back at most.
    for (let k = 0; k < 8 && guess > 0 && this.heightAt(guess - 1) === below; k++) guess--;
    if (guess >= 0 && this.heightAt(guess) === below && this.#hashEquals(guess, parent)) return guess;
    return this.#find(parent);
  }

  #find(hash: Uint8Array): number {
    if (hash.length !== 32 || this.#count === 0) return -1;
    const mask = this.#slots.length - 1;
    for (let s = this.#slotOf(hash, 0); ; s = (s + 1) & mask) {
      const slot = this.#slots[s]!;
      if (slot === 0) return -1;
      if (this.#hashEquals(slot - 1, hash)) return slot - 1;
    }
  }

  #hashEquals(pos: number, hash: Uint8Array): boolean {
    const rows = this.#rows;
    const at = pos * ROW_BYTES;
    for (let i = 31; i >= 0; i--) if (rows[at + i] !== hash[i]) return false;
    return true;
  }
}

function word(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
}

function chunkOf(height: number): number {
  return Math.floor(height / CHUNK_HEIGHTS);
}

/** A power of two at least twice the entries, so probes stay short. */
function slotsFor(count: number): number {
  let n = 2048;
  while (n < count * 2) n *= 2;
  return n;
}
