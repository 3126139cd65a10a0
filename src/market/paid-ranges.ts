import { DecodeError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import type { StateReader, StateWriter } from '../chain/state.ts';
import { stateKey } from '../chain/store/layout.ts';
import { MAX_INDEX, type Range } from './ranges.ts';

/**
 * A contract's paid ranges, stored so that a payout reads and writes only
 * the few records its own ranges fall in, however fragmented the contract.
 *
 * The set is kept as its boundaries: the sorted starts and ends of its
 * canonical ranges (s1 < e1 < s2 < e2 …; an index is paid when an odd number
 * of boundaries are ≤ it). Paying a free range [s, e) toggles s and e: a
 * boundary already there is removed (the range joins its neighbour), a new
 * one is added. The boundaries live in a trie over the index space with
 * fan-out 16; node (L, a) covers [a·16^L, (a+1)·16^L). The records are a
 * function of the set alone, so every node that applies the same payouts, in
 * any order, stores the same bytes:
 *
 * - The root covers [0, 16^R) for the least R ≥ 1 with every boundary below
 *   16^R; its record, at 0x11 ‖ contract, exists when the set is not empty.
 * - A node holding at most LEAF_MAX boundaries is a leaf: it lists them.
 *   A node holding more is inner: it lists how many boundaries each of its
 *   16 children holds, and each child holding any has a page record at
 *   0x14 ‖ contract ‖ u8 L ‖ u64 a·16^L.
 *
 * Records (u64 big-endian, every value < 2^53):
 *   leaf   0x00 ‖ u8 n ‖ n × u64 boundary        (1 ≤ n ≤ LEAF_MAX, increasing, inside the node)
 *   inner  0x01 ‖ [u8 R, root only] ‖ 16 × u64 count (sum > LEAF_MAX; a page's sum is its parent's count)
 *
 * A payout's cost is the depth (at most 14) times the ranges it names, and
 * it writes only the nodes on their paths: at most 1 KiB per leaf.
 */

/** 0x11 ‖ contract: the root of its paid-range trie. */
export const STATE_PAID_RANGES = 0x11;
/** 0x14 ‖ contract ‖ u8 level ‖ u64 first index: a node below the root. */
export const STATE_PAID_RANGE_PAGE = 0x14;

/** Most boundaries a leaf holds: 1 KiB of them, what one payout rewrites per range end at most. */
export const LEAF_MAX = 128;
const FANOUT = 16;
/** 16^14 = 2^56 covers every index below 2^53. */
const MAX_LEVEL = 14;
const TAG_LEAF = 0;
const TAG_INNER = 1;

interface Leaf {
  kind: typeof TAG_LEAF;
  points: number[];
}
interface Inner {
  kind: typeof TAG_INNER;
  counts: number[];
}
type TrieNode = Leaf | Inner;

/** Exact: a power of two. */
const width = (level: number): number => 16 ** level;

function total(n: TrieNode): number {
  if (n.kind === TAG_LEAF) return n.points.length;
  let sum = 0;
  for (const c of n.counts) sum += c;
  return sum;
}

// --- records ---------------------------------------------------------------

function rootKey(id: Hash): Uint8Array {
  return stateKey(STATE_PAID_RANGES, id);
}

function pageKey(id: Hash, level: number, start: number): Uint8Array {
  const key = new Uint8Array(1 + 32 + 1 + 8);
  key[0] = STATE_PAID_RANGE_PAGE;
  key.set(id, 1);
  key[33] = level;
  putU64(key, 34, start);
  return key;
}

function putU64(b: Uint8Array, at: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  const lo = v >>> 0;
  b[at] = hi >>> 24;
  b[at + 1] = (hi >>> 16) & 0xff;
  b[at + 2] = (hi >>> 8) & 0xff;
  b[at + 3] = hi & 0xff;
  b[at + 4] = lo >>> 24;
  b[at + 5] = (lo >>> 16) & 0xff;
  b[at + 6] = (lo >>> 8) & 0xff;
  b[at + 7] = lo & 0xff;
}

function getU64(b: Uint8Array, at: number, what: string): number {
  const hi = b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
  const lo = b[at + 4]! * 0x1000000 + ((b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!);
  if (hi >= 0x20_0000) throw new DecodeError('BAD_VALUE', `${what}: a value beyond 2^53`, { what });
  return hi * 0x1_0000_0000 + lo;
}

function encodeNode(n: TrieNode, rootLevel?: number): Uint8Array {
  if (n.kind === TAG_LEAF) {
    const out = new Uint8Array(2 + 8 * n.points.length);
    out[0] = TAG_LEAF;
    out[1] = n.points.length;
    for (let i = 0; i < n.points.length; i++) putU64(out, 2 + 8 * i, n.points[i]!);
    return out;
  }
  const head = rootLevel === undefined ? 1 : 2;
  const out = new Uint8Array(head + 8 * FANOUT);
  out[0] = TAG_INNER;
  if (rootLevel !== undefined) out[1] = rootLevel;
  for (let i = 0; i < FANOUT; i++) putU64(out, head + 8 * i, n.counts[i]!);
  return out;
}

/**
 * One node's record, checked against all its position tells: the node's
 * interval [start, start + 16^level), and the count its parent holds for it
 * (a page) or, for the root, that the whole set has an even number of
 * boundaries and that R is the least level that covers them.
 */
function decodeNode(
  raw: Uint8Array,
  at: { root: true } | { root: false; level: number; start: number; count: number },
): { node: TrieNode; level: number } {
  const what = at.root ? 'paid ranges root' : 'paid ranges page';
  const fail = (code: 'TRUNCATED' | 'TRAILING_BYTES' | 'BAD_VALUE' | 'NON_CANONICAL', msg: string): never => {
    throw new DecodeError(code, `${what}: ${msg}`, { what });
  };
  if (raw.length < 2) fail('TRUNCATED', `${raw.length} bytes`);
  if (raw[0] === TAG_LEAF) {
    const n = raw[1]!;
    if (n < 1 || n > LEAF_MAX) fail('BAD_VALUE', `a leaf of ${n} boundaries, 1..${LEAF_MAX}`);
    if (raw.length !== 2 + 8 * n) fail(raw.length < 2 + 8 * n ? 'TRUNCATED' : 'TRAILING_BYTES', 'wrong length');
    const lo = at.root ? 0 : at.start;
    const hi = at.root ? MAX_INDEX + 1 : Math.min(at.start + width(at.level), MAX_INDEX + 1);
    const points: number[] = new Array(n);
    let prev = lo - 1;
    for (let i = 0; i < n; i++) {
      const p = getU64(raw, 2 + 8 * i, what);
      if (p <= prev || p >= hi) fail('NON_CANONICAL', 'boundaries out of order or outside the node');
      points[i] = p;
      prev = p;
    }
    if (at.root ? n % 2 !== 0 : n !== at.count) fail('NON_CANONICAL', `${n} boundaries do not match the tree`);
    return { node: { kind: TAG_LEAF, points }, level: 0 };
  }
  if (raw[0] !== TAG_INNER) fail('BAD_VALUE', `unknown node tag ${raw[0]}`);
  const head = at.root ? 2 : 1;
  if (raw.length !== head + 8 * FANOUT) {
    fail(raw.length < head + 8 * FANOUT ? 'TRUNCATED' : 'TRAILING_BYTES', 'wrong length');
  }
  const level = at.root ? raw[1]! : at.level;
  // An inner node holds more than LEAF_MAX distinct indices, so it is at least 16^2 wide.
  if (level < 2 || level > MAX_LEVEL) fail('BAD_VALUE', `level ${level}, 2..${MAX_LEVEL}`);
  const start = at.root ? 0 : at.start;
  const childWidth = width(level - 1);
  const counts: number[] = new Array(FANOUT);
  let sum = 0;
  for (let i = 0; i < FANOUT; i++) {
    const c = getU64(raw, head + 8 * i, what);
    const childStart = start + i * childWidth;
    const room = Math.max(0, Math.min(childWidth, MAX_INDEX + 1 - childStart));
    if (c > room) fail('BAD_VALUE', `child ${i} cannot hold ${c} boundaries`);
    counts[i] = c;
    sum += c;
  }
  if (sum <= LEAF_MAX) fail('NON_CANONICAL', `an inner node of ${sum} boundaries should be a leaf`);
  if (at.root) {
    if (sum % 2 !== 0) fail('NON_CANONICAL', 'an odd number of boundaries');
    if (counts.every((c, i) => i === 0 || c === 0)) fail('NON_CANONICAL', `level ${level} is not the least`);
  } else if (sum !== at.count) fail('NON_CANONICAL', `${sum} boundaries, the parent counts ${at.count}`);
  return { node: { kind: TAG_INNER, counts }, level };
}

// --- the trie --------------------------------------------------------------

/** Index of the first element > q in a sorted list: how many are ≤ q. */
function countUpTo(points: readonly number[], q: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]! <= q) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface Page {
  level: number;
  start: number;
  node: TrieNode | null;
  /** Read from the state (so a deletion must be written). */
  stored: boolean;
  dirty: boolean;
}

/**
 * One contract's paid ranges, opened for a payout: nodes are read as the
 * queries reach them, changed in memory, and `save` writes back only those
 * that changed.
 */
export class PaidRanges {
  private readonly state: StateReader;
  private readonly id: Hash;
  private root: TrieNode | null;
  /** The root's level; 0 while the root is a leaf. */
  private rootLevel: number;
  private rootStored: boolean;
  private rootDirty = false;
  private readonly pages = new Map<string, Page>();

  private constructor(state: StateReader, id: Hash) {
    this.state = state;
    this.id = id;
    const raw = state.get(rootKey(id));
    this.rootStored = raw !== undefined;
    if (raw === undefined) {
      this.root = null;
      this.rootLevel = 0;
    } else {
      const { node, level } = decodeNode(raw, { root: true });
      this.root = node;
      this.rootLevel = level;
    }
  }

  static open(state: StateReader, id: Hash): PaidRanges {
    return new PaidRanges(state, id);
  }

  /** Whether no index of `r` is paid yet. */
  isFree(r: Range): boolean {
    const before = this.rank(r.start);
    return before % 2 === 0 && this.rank(r.end - 1) === before;
  }

  /**
   * Pays `ranges` (canonical, each free: payout apply checks isFree first;
   * a range already paid here would toggle its boundaries away). Their
   * boundaries are toggled from the highest down, so the set's highest
   * boundary never falls, not even on the way: a boundary is removed only
   * when a higher one (the end just toggled, or the end of the paid range it
   * starts) remains. So the root's level, the least covering every boundary,
   * only ever grows, and toggle needs no step to lower it.
   */
  add(ranges: readonly Range[]): void {
    for (let i = ranges.length - 1; i >= 0; i--) {
      this.toggle(ranges[i]!.end);
      this.toggle(ranges[i]!.start);
    }
  }

  /** Makes the set `ranges` (canonical) whatever it was, in one build rather than a toggle per boundary. */
  replace(ranges: readonly Range[]): void {
    if (this.root !== null) this.collect(this.root, this.rootLevel, 0, [], true);
    this.rootDirty = true;
    const points = ranges.flatMap((r) => [r.start, r.end]);
    if (points.length === 0) {
      this.root = null;
      this.rootLevel = 0;
      return;
    }
    let level = 0;
    if (points.length > LEAF_MAX) {
      level = 1;
      while (width(level) <= points[points.length - 1]!) level++;
    }
    this.rootLevel = level;
    this.root = this.build(points, level, 0);
  }

  /** The whole set, in order. */
  ranges(): Range[] {
    const points: number[] = [];
    if (this.root !== null) this.collect(this.root, this.rootLevel, 0, points);
    const out: Range[] = [];
    for (let i = 0; i < points.length; i += 2) out.push({ start: points[i]!, end: points[i + 1]! });
    return out;
  }

  /** Writes the nodes that changed. */
  save(state: StateWriter): void {
    if (this.rootDirty) {
      if (this.root !== null) state.put(rootKey(this.id), encodeNode(this.root, this.rootLevel || undefined));
      else if (this.rootStored) state.del(rootKey(this.id));
    }
    for (const page of this.pages.values()) {
      if (!page.dirty) continue;
      const key = pageKey(this.id, page.level, page.start);
      if (page.node !== null) state.put(key, encodeNode(page.node));
      else if (page.stored) state.del(key);
      page.dirty = false;
      page.stored = page.node !== null;
    }
    this.rootStored = this.root !== null;
    this.rootDirty = false;
  }

  /** How many boundaries are ≤ q. */
  private rank(q: number): number {
    let node = this.root;
    if (node === null) return 0;
    let level = this.rootLevel;
    let start = 0;
    let acc = 0;
    for (;;) {
      if (node.kind === TAG_LEAF) return acc + countUpTo(node.points, q);
      const w = width(level - 1);
      const c = Math.floor((q - start) / w);
      if (c >= FANOUT) return acc + total(node);
      for (let i = 0; i < c; i++) acc += node.counts[i]!;
      if (node.counts[c] === 0) return acc;
      start += c * w;
      level -= 1;
      node = this.page(level, start, node.counts[c]!);
    }
  }

  /** The node below the root at (level, start), which its parent counts `count` boundaries in. */
  private page(level: number, start: number, count: number): TrieNode {
    const name = `${level}:${start}`;
    const hit = this.pages.get(name);
    if (hit) {
      if (hit.node === null) throw new Error(`paid-range page ${name} read after its removal`);
      return hit.node;
    }
    const raw = this.state.get(pageKey(this.id, level, start));
    if (raw === undefined) {
      throw new DecodeError('TRUNCATED', `paid ranges: page ${name} of a counted child is missing`, {
        what: 'paid ranges page',
      });
    }
    const { node } = decodeNode(raw, { root: false, level, start, count });
    this.pages.set(name, { level, start, node, stored: true, dirty: false });
    return node;
  }

  private setPage(level: number, start: number, node: TrieNode | null): void {
    const name = `${level}:${start}`;
    const hit = this.pages.get(name);
    if (hit) {
      hit.node = node;
      hit.dirty = true;
    } else this.pages.set(name, { level, start, node, stored: false, dirty: true });
  }

  /** Adds q to the boundaries, or removes it if there, keeping the records canonical. */
  private toggle(q: number): void {
    this.rootDirty = true;
    if (this.root === null) {
      this.root = { kind: TAG_LEAF, points: [q] };
      this.rootLevel = 0;
      return;
    }
    if (this.root.kind === TAG_LEAF) {
      const pts = this.root.points;
      const i = countUpTo(pts, q);
      if (i > 0 && pts[i - 1] === q) pts.splice(i - 1, 1);
      else pts.splice(i, 0, q);
      if (pts.length === 0) this.root = null;
      else if (pts.length > LEAF_MAX) {
        // The least level covering every boundary (R ≥ 2: more than LEAF_MAX distinct indices).
        let level = 1;
        while (width(level) <= pts[pts.length - 1]!) level++;
        this.rootLevel = level;
        this.root = this.build(pts, level, 0);
      }
      return;
    }
    // Grow: the old root becomes child 0 of a root one level up, until q is covered.
    while (q >= width(this.rootLevel)) {
      const counts = new Array<number>(FANOUT).fill(0);
      counts[0] = total(this.root);
      this.setPage(this.rootLevel, 0, this.root);
      this.root = { kind: TAG_INNER, counts };
      this.rootLevel += 1;
    }
    // Walk down to the leaf (or the empty child) where q belongs.
    const path: { node: Inner; level: number; start: number; child: number }[] = [];
    let node: TrieNode = this.root;
    let level = this.rootLevel;
    let start = 0;
    while (node.kind === TAG_INNER) {
      const w = width(level - 1);
      const c = Math.floor((q - start) / w);
      path.push({ node, level, start, child: c });
      if (node.counts[c] === 0) break;
      const childStart: number = start + c * w;
      node = this.page(level - 1, childStart, node.counts[c]!);
      level -= 1;
      start = childStart;
    }
    // Every inner node on the way changes its count for q's child; below the root each is a page to rewrite.
    for (const p of path) if (p.level < this.rootLevel) this.setPage(p.level, p.start, p.node);
    const parent = path[path.length - 1]!;
    if (node.kind === TAG_INNER) {
      // An empty child: q is new there, a leaf of one.
      for (const p of path) p.node.counts[p.child]! += 1;
      const w = width(parent.level - 1);
      this.setPage(parent.level - 1, parent.start + parent.child * w, { kind: TAG_LEAF, points: [q] });
      return;
    }
    const pts = node.points;
    const i = countUpTo(pts, q);
    const present = i > 0 && pts[i - 1] === q;
    if (!present) {
      for (const p of path) p.node.counts[p.child]! += 1;
      pts.splice(i, 0, q);
      this.setPage(level, start, pts.length > LEAF_MAX ? this.build(pts, level, start) : node);
      return;
    }
    for (const p of path) p.node.counts[p.child]! -= 1;
    pts.splice(i - 1, 1);
    this.setPage(level, start, pts.length === 0 ? null : node);
    // The highest inner node left with LEAF_MAX boundaries or fewer becomes a leaf of them all.
    const k = path.findIndex((p) => total(p.node) <= LEAF_MAX);
    if (k >= 0) {
      const top = path[k]!;
      const all: number[] = [];
      this.collect(top.node, top.level, top.start, all, true);
      const leaf: Leaf = { kind: TAG_LEAF, points: all };
      if (k === 0) {
        this.root = leaf;
        this.rootLevel = 0;
        return;
      }
      this.setPage(top.level, top.start, leaf);
    }
    // The root's level stays the least: `add` never removes the highest boundary (see there).
  }

  /** The node for `points` (all inside [start, start + 16^level)), its child pages set as needed. */
  private build(points: number[], level: number, start: number): TrieNode {
    if (points.length <= LEAF_MAX) return { kind: TAG_LEAF, points };
    const w = width(level - 1);
    const counts = new Array<number>(FANOUT).fill(0);
    let from = 0;
    for (let c = 0; c < FANOUT && from < points.length; c++) {
      const end = start + (c + 1) * w;
      let to = from;
      while (to < points.length && points[to]! < end) to++;
      counts[c] = to - from;
      if (to > from)
        this.setPage(level - 1, start + c * w, this.build(points.slice(from, to), level - 1, start + c * w));
      from = to;
    }
    return { kind: TAG_INNER, counts };
  }

  /** Appends the boundaries under a node, in order; `remove` deletes the pages below it as it goes. */
  private collect(node: TrieNode, level: number, start: number, out: number[], remove = false): void {
    if (node.kind === TAG_LEAF) {
      for (const p of node.points) out.push(p);
      return;
    }
    const w = width(level - 1);
    for (let c = 0; c < FANOUT; c++) {
      if (node.counts[c] === 0) continue;
      const childStart = start + c * w;
      this.collect(this.page(level - 1, childStart, node.counts[c]!), level - 1, childStart, out, remove);
      if (remove) this.setPage(level - 1, childStart, null);
    }
  }
}

/** A contract's whole paid set (RPC, the explorer, the Solver and the Authority read it; a payout does not). */
export function getPaidRanges(state: StateReader, id: Hash): Range[] {
  return PaidRanges.open(state, id).ranges();
}

/**
 * Writes a contract's paid set as `ranges` (canonical), replacing what was
 * there: for tests and benchmarks that start from a given set. The records
 * are the ones payouts reaching that set would leave (the trie is a function
 * of the set).
 */
export function putPaidRanges(state: StateWriter, id: Hash, ranges: readonly Range[]): void {
  const set = PaidRanges.open(state, id);
  set.replace(ranges);
  set.save(state);
}
