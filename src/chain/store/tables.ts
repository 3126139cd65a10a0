import { mkdir, readFile, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';

/*
 * LevelDB's own checksums, checked from JS. The prebuilt LevelDB 1.20 in
 * classic-level verifies no block checksum on reads (verify_checksums and
 * paranoid_checks are not exposed), so a damaged table block is decoded as
 * it is. In the corrupt-file runs that gave: a range scan that silently
 * stopped early (the chain then failed on a missing index entry), a version
 * record read as another network's, and once an assertion in LevelDB
 * (dbformat.h:99 ExtractUserKey) that aborted the whole process, which JS
 * cannot catch. Every live table is read once here before the database
 * opens, so such damage is a typed error that names the file instead.
 */

/** Slicing-by-16: table k holds the CRC of a byte followed by k zero bytes, all 16 in one array. */
const CRC_TABLE = (() => {
  const t = new Int32Array(16 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c;
  }
  for (let k = 1; k < 16; k++) {
    for (let i = 0; i < 256; i++) t[k * 256 + i] = (t[(k - 1) * 256 + i]! >>> 8) ^ t[t[(k - 1) * 256 + i]! & 0xff]!;
  }
  return t;
})();

/**
 * CRC-32C (Castagnoli), as LevelDB's util/crc32c: every start runs it over
 * the whole database (2 s for a million empty blocks with 4 bytes a step, so
 * 16 bytes a step).
 */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const t = CRC_TABLE;
  const b = bytes;
  let c = -1;
  let i = start;
  for (; i + 16 <= end; i += 16) {
    c ^= b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    c =
      t[3840 + (c & 0xff)]! ^
      t[3584 + ((c >>> 8) & 0xff)]! ^
      t[3328 + ((c >>> 16) & 0xff)]! ^
      t[3072 + (c >>> 24)]! ^
      t[2816 + b[i + 4]!]! ^
      t[2560 + b[i + 5]!]! ^
      t[2304 + b[i + 6]!]! ^
      t[2048 + b[i + 7]!]! ^
      t[1792 + b[i + 8]!]! ^
      t[1536 + b[i + 9]!]! ^
      t[1280 + b[i + 10]!]! ^
      t[1024 + b[i + 11]!]! ^
      t[768 + b[i + 12]!]! ^
      t[512 + b[i + 13]!]! ^
      t[256 + b[i + 14]!]! ^
      t[b[i + 15]!]!;
  }
  for (; i < end; i++) c = t[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** LevelDB stores CRCs masked (util/crc32c.h Mask), so a CRC of data holding CRCs stays apart from them. */
function unmask(masked: number): number {
  const rot = (masked - 0xa282ead8) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

class Damage extends Error {}

class Cursor {
  pos: number;
  readonly end: number;
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array, pos = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
  }
  get done(): boolean {
    return this.pos >= this.end;
  }
  varint(): number {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.end) throw new Damage('a varint runs past its end');
      const b = this.bytes[this.pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    throw new Damage('a varint is too long');
  }
  take(n: number): Uint8Array {
    if (n > this.end - this.pos) throw new Damage('a length runs past its end');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u32(): number {
    const b = this.take(4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }
}

/** Snappy's raw format (LevelDB compresses blocks with it), needed to read a table's index. */
function unsnappy(src: Uint8Array): Uint8Array {
  const r = new Cursor(src);
  const size = r.varint();
  if (size > 64 * 1024 * 1024) throw new Damage('a compressed block claims too large a size');
  const out = new Uint8Array(size);
  let o = 0;
  while (!r.done) {
    const tag = r.take(1)[0]!;
    let len: number;
    let offset = 0;
    if ((tag & 3) === 0) {
      len = (tag >>> 2) + 1;
      if (len > 60) {
        const extra = r.take(len - 60);
        len = 1 + extra.reduce((v, b, k) => v + b * 256 ** k, 0);
      }
      if (o + len > size) throw new Damage('a compressed block overruns its size');
      out.set(r.take(len), o);
      o += len;
      continue;
    }
    if ((tag & 3) === 1) {
      len = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | r.take(1)[0]!;
    } else {
      len = (tag >>> 2) + 1;
      const b = r.take((tag & 3) === 2 ? 2 : 4);
      offset = b.reduce((v, x, k) => v + x * 256 ** k, 0);
    }
    if (offset === 0 || offset > o || o + len > size) throw new Damage('a compressed block copies from outside itself');
    for (let k = 0; k < len; k++, o++) out[o] = out[o - offset]!;
  }
  if (o !== size) throw new Damage('a compressed block is shorter than it claims');
  return out;
}

/** Throws Damage unless the block at a handle lies in the file, names a known compression and passes its checksum. */
function checkBlock(file: Uint8Array, offset: number, size: number, what: string): void {
  if (offset + size + 5 > file.length) throw new Damage(`the ${what} block lies past the end of the file`);
  const type = file[offset + size]!;
  if (type !== 0 && type !== 1) throw new Damage(`the ${what} block at byte ${offset} has unknown compression ${type}`);
  const stored = new Cursor(file, offset + size + 1).u32();
  if (crc32c(file, offset, offset + size + 1) !== unmask(stored)) {
    throw new Damage(`the ${what} block at byte ${offset} fails its checksum`);
  }
}

/** The contents of the block at a handle, its trailer's checksum verified (unless `verify` is false). */
function readBlock(file: Uint8Array, offset: number, size: number, what: string, verify = true): Uint8Array {
  if (verify) checkBlock(file, offset, size, what);
  else if (offset + size + 5 > file.length) throw new Damage(`the ${what} block lies past the end of the file`);
  const type = file[offset + size]!;
  const raw = file.subarray(offset, offset + size);
  if (type === 0) return raw;
  if (type === 1) return unsnappy(raw);
  throw new Damage(`the ${what} block at byte ${offset} has unknown compression ${type}`);
}

/** A block's entries, keys rebuilt from their shared prefixes; with `partial`, those before any damage. */
function blockEntries(block: Uint8Array, partial = false): { key: Uint8Array; value: Uint8Array }[] {
  if (block.length < 4) throw new Damage('a block is too short for its restart count');
  const restarts = new Cursor(block, block.length - 4).u32();
  const end = block.length - 4 - 4 * restarts;
  if (restarts === 0 || end < 0) throw new Damage('a block has a bad restart array');
  const r = new Cursor(block, 0, end);
  const entries: { key: Uint8Array; value: Uint8Array }[] = [];
  let last = new Uint8Array(0);
  try {
    while (!r.done) {
      const shared = r.varint();
      const unshared = r.varint();
      const valueLength = r.varint();
      if (shared > last.length) throw new Damage('a key shares more than the key before it has');
      const key = new Uint8Array(shared + unshared);
      key.set(last.subarray(0, shared));
      key.set(r.take(unshared), shared);
      entries.push({ key, value: r.take(valueLength) });
      last = key;
    }
  } catch (err) {
    if (!(partial && err instanceof Damage)) throw err;
  }
  return entries;
}

const blockValues = (block: Uint8Array) => blockEntries(block).map((e) => e.value);

function handle(bytes: Uint8Array): { offset: number; size: number } {
  const r = new Cursor(bytes);
  return { offset: r.varint(), size: r.varint() };
}

const TABLE_MAGIC = [0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb];

function footerOf(file: Uint8Array): { meta: Uint8Array; index: Uint8Array } {
  if (file.length < 48) throw new Damage('the file is shorter than a table footer');
  const footer = file.subarray(file.length - 48);
  if (!TABLE_MAGIC.every((b, i) => footer[40 + i] === b)) throw new Damage('the table footer has no magic number');
  const f = new Cursor(footer, 0, 40);
  const meta = { offset: f.varint(), size: f.varint() };
  const index = { offset: f.varint(), size: f.varint() };
  return {
    meta: readBlock(file, meta.offset, meta.size, 'meta-index'),
    index: readBlock(file, index.offset, index.size, 'index'),
  };
}

/**
 * Throws Damage unless every block of the table file verifies. The data
 * blocks are not decompressed: their checksum covers the stored bytes, and
 * decompressing them took most of a start's time (a second at 100k blocks).
 */
function verifyTable(file: Uint8Array): void {
  const { meta, index } = footerOf(file);
  for (const v of blockValues(index)) {
    const h = handle(v);
    checkBlock(file, h.offset, h.size, 'data');
  }
  for (const v of blockValues(meta)) {
    const h = handle(v);
    checkBlock(file, h.offset, h.size, 'filter');
  }
}

/** The records of a LevelDB log file (the MANIFEST is one), or undefined when it does not read cleanly. */
function logRecords(log: Uint8Array): Uint8Array[] | undefined {
  const BLOCK = 32 * 1024;
  const records: Uint8Array[] = [];
  let parts: Uint8Array[] = [];
  let pos = 0;
  while (pos + 7 <= log.length) {
    const left = BLOCK - (pos % BLOCK);
    if (left < 7) {
      pos += left;
      continue;
    }
    const h = new Cursor(log, pos);
    const crc = h.u32();
    const length = log[pos + 4]! | (log[pos + 5]! << 8);
    const type = log[pos + 6]!;
    if (type === 0 && length === 0) break; // preallocated zeros: the end
    if (pos + 7 + length > log.length) break; // a record cut short by a crash: LevelDB drops it too
    if (crc32c(log, pos + 6, pos + 7 + length) !== unmask(crc)) return undefined;
    const data = log.subarray(pos + 7, pos + 7 + length);
    pos += 7 + length;
    if (type === 1) records.push(data);
    else if (type === 2) parts = [data];
    else if (type === 3) parts.push(data);
    else if (type === 4) {
      parts.push(data);
      records.push(Uint8Array.from(parts.flatMap((p) => [...p])));
      parts = [];
    } else return undefined;
  }
  return records;
}

/** The numbers of the table files the MANIFEST's version edits leave live, or undefined if it does not parse. */
function liveTables(manifest: Uint8Array): Set<number> | undefined {
  const records = logRecords(manifest);
  if (records === undefined) return undefined;
  const live = new Set<number>();
  try {
    for (const rec of records) {
      const r = new Cursor(rec);
      while (!r.done) {
        const tag = r.varint();
        if (tag === 1) r.take(r.varint());
        else if (tag === 2 || tag === 3 || tag === 4 || tag === 9) r.varint();
        else if (tag === 5) {
          r.varint();
          r.take(r.varint());
        } else if (tag === 6) {
          r.varint();
          live.delete(r.varint());
        } else if (tag === 7) {
          r.varint();
          live.add(r.varint());
          r.varint();
          r.take(r.varint());
          r.take(r.varint());
        } else return undefined;
      }
    }
  } catch (err) {
    if (err instanceof Damage) return undefined;
    throw err;
  }
  return live;
}

async function readIfThere(path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The first live table of the LevelDB in `dir` whose blocks do not verify,
 * and why. Undefined when all verify, and also when CURRENT, the MANIFEST or
 * a table file is missing or does not parse: LevelDB's own open reports
 * those, by name.
 */
export async function damagedTable(dir: string): Promise<{ file: string; why: string } | undefined> {
  const current = await readIfThere(join(dir, 'CURRENT'));
  const name = current && /^(MANIFEST-\d+)\n$/.exec(new TextDecoder().decode(current))?.[1];
  if (!name) return undefined;
  const manifest = await readIfThere(join(dir, name));
  const live = manifest && liveTables(manifest);
  if (!live) return undefined;
  for (const n of [...live].sort((a, b) => a - b)) {
    const base = String(n).padStart(6, '0');
    for (const ext of ['ldb', 'sst']) {
      const file = join(dir, `${base}.${ext}`);
      const bytes = await readIfThere(file);
      if (bytes === undefined) continue;
      try {
        verifyTable(bytes);
      } catch (err) {
        if (err instanceof Damage) return { file, why: err.message };
        throw err;
      }
      break;
    }
  }
  return undefined;
}

/**
 * Moves every live table that fails its checksums to `<dir>/lost/`, as
 * LevelDB's RepairDB does with files it cannot use, so that the repair that
 * follows rebuilds the database without them (salvageTable reads back what
 * still verifies). Returns where the files went.
 */
export async function setAsideDamagedTables(dir: string): Promise<string[]> {
  const moved: string[] = [];
  for (let d = await damagedTable(dir); d; d = await damagedTable(dir)) {
    await mkdir(join(dir, 'lost'), { recursive: true });
    const to = join(dir, 'lost', basename(d.file));
    await rename(d.file, to);
    moved.push(to);
  }
  return moved;
}

/**
 * The newest value of each key a damaged table holds (deleted keys left
 * out), for what can be put back after a repair: every entry of the data
 * blocks that verify, and of those that do not, the entries that still
 * parse (their values may be damaged: the caller checks them). Nothing if
 * the table's index does not verify.
 */
export async function salvageTable(file: string): Promise<{ key: Uint8Array; value: Uint8Array }[]> {
  const bytes = new Uint8Array(await readFile(file));
  const out: { key: Uint8Array; value: Uint8Array }[] = [];
  let index: Uint8Array;
  try {
    index = footerOf(bytes).index;
  } catch (err) {
    if (err instanceof Damage) return out;
    throw err;
  }
  let last: Uint8Array | undefined;
  for (const v of blockValues(index)) {
    try {
      const h = handle(v);
      let entries: { key: Uint8Array; value: Uint8Array }[];
      try {
        entries = blockEntries(readBlock(bytes, h.offset, h.size, 'data'));
      } catch (err) {
        if (!(err instanceof Damage)) throw err;
        entries = blockEntries(readBlock(bytes, h.offset, h.size, 'data', false), true);
      }
      for (const e of entries) {
        // An internal key: the user key, then 8 bytes of sequence number and type (1 = a value).
        if (e.key.length < 8) continue;
        const key = e.key.subarray(0, e.key.length - 8);
        const newest = last === undefined || Buffer.compare(last, key) !== 0;
        last = key;
        if (newest && e.key[e.key.length - 8] === 1) out.push({ key, value: e.value });
      }
    } catch (err) {
      if (!(err instanceof Damage)) throw err;
    }
  }
  return out;
}

/** Where a table's data blocks are and whether each is compressed (diagnosis, and tests that damage one). */
export function dataBlocks(table: Uint8Array): { offset: number; size: number; compressed: boolean }[] {
  return blockValues(footerOf(table).index).map((v) => {
    const h = handle(v);
    return { ...h, compressed: table[h.offset + h.size] !== 0 };
  });
}
