import type { Address } from '../address.ts';
import { Block } from '../block.ts';
import { concatBytes, equalBytes, keyId, Reader, toHex, Writer } from '../encoding.ts';
import { bigIntToBytes32, type Hash } from '../hash.ts';
import { type BlockHeader, HEADER_SIZE } from '../header.ts';
import type { NetworkParams } from '../params.ts';
import type { StateChange, StateReader } from '../state.ts';
import {
  DB_HEADERS,
  DB_REINDEXING,
  DB_TIP,
  DB_VERSION,
  dbKey,
  PREFIX_ADDRESS,
  PREFIX_BLOCK,
  PREFIX_ENTRY,
  PREFIX_HEADERS,
  PREFIX_HEIGHT,
  PREFIX_INDEX,
  PREFIX_INDEX_UNDO,
  PREFIX_STATE,
  PREFIX_TX,
  PREFIX_UNDO,
  SCHEMA_UPGRADES_IN_PLACE,
  SCHEMA_VERSION,
  u32be,
} from './layout.ts';
import { type LevelDB, openLevel, reindexHint, repairLevel, StoreError } from './open.ts';
import { type DeferredOps, type PendingOp, PendingWrites } from './pending.ts';
import { seal, unseal } from './seal.ts';
import { salvageTable, setAsideDamagedTables } from './tables.ts';

export { StoreError } from './open.ts';

export const STATUS_HAS_BODY = 1;
export const STATUS_INVALID = 2;
/** Connected at least once, so `openProblems` after it is known. */
export const STATUS_CONNECTED = 4;

export interface ChainEntry {
  readonly hash: Hash;
  readonly header: BlockHeader;
  readonly height: number;
  /** Cumulative work of the chain ending here. */
  readonly chainwork: bigint;
  status: number;
  /**
   * |Po| in the state after this block once STATUS_CONNECTED; before that an
   * upper bound of it (the parent's value plus the problems this block can
   * open), which bounds the difficulty its children may claim from below.
   */
  openProblems: number;
}

/** A stored entry: header ‖ u256 chain work ‖ u8 status ‖ u32 |Po|. */
export const ENTRY_BYTES = HEADER_SIZE + 37;

export function encodeEntry(e: ChainEntry): Uint8Array {
  return new Writer(ENTRY_BYTES)
    .bytes(e.header.toBytes())
    .bytes(bigIntToBytes32(e.chainwork))
    .u8(e.status)
    .u32(e.openProblems)
    .finish();
}

/** Undo data: each key a block wrote, with the value it had before. */
export function encodeUndo(changes: readonly StateChange[]): Uint8Array {
  const w = new Writer(64 * changes.length + 4).u32(changes.length);
  for (const c of changes) {
    w.varBytes(c.key, 2);
    if (c.previous === undefined) w.u8(0);
    else w.u8(1).varBytes(c.previous, 4);
  }
  return w.finish();
}

export function decodeUndo(bytes: Uint8Array): { key: Uint8Array; previous: Uint8Array | undefined }[] {
  const r = new Reader(bytes);
  const n = r.u32();
  const out = [];
  for (let i = 0; i < n; i++) {
    const key = r.varBytes(2, 1024, 'undo.key');
    const has = r.u8();
    out.push({ key, previous: has ? r.varBytes(4, 1 << 24, 'undo.value') : undefined });
  }
  r.end('undo');
  return out;
}

type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

/** keyId of a state record's database key: this ‖ keyId of its state key. */
const STATE_ID = String.fromCharCode(PREFIX_STATE);

/** A block's connect batch, prepared by ChainDB.connectBatch. */
export interface PreparedBatch {
  /** By keyId, as they will be staged (pending.ts takes the map itself): a value of undefined deletes the key. */
  readonly ops: Map<string, PendingOp>;
  readonly changes: readonly StateChange[];
  /** Its undo data and history index, laid out when read or flushed (pending.ts). */
  readonly later: DeferredOps;
}

/** One connected block, described by what its batch must write. */
export interface ConnectRecord {
  block: Block;
  entry: ChainEntry;
  changes: readonly StateChange[];
  /** Addresses each tx touches, for the history index (worked out when the index is written). */
  parties: () => readonly Address[][];
  /** What the block's indexers wrote (chain/indexer.ts), undone with it. */
  indexChanges?: readonly StateChange[];
}

const REWARD_POSITION = 0xffffffff;

/** The first key after every key that starts with `prefix`. */
function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  throw new RangeError('prefix has no end');
}

/** What the first half of a reindex found among the stored blocks. */
export interface ReindexScan {
  /** LevelDB's own repair ran first, because the database did not open. */
  repaired: boolean;
  /** Readable stored blocks (genesis left out), with the old main chain's marked. */
  blocks: { hash: Hash; height: number; main: boolean }[];
  /** Stored blocks that failed their checksum, did not decode or did not match their key: deleted. */
  damaged: number;
}

const DERIVED_PREFIXES = [
  PREFIX_ENTRY,
  PREFIX_HEIGHT,
  PREFIX_UNDO,
  PREFIX_TX,
  PREFIX_ADDRESS,
  PREFIX_STATE,
  PREFIX_INDEX,
  PREFIX_INDEX_UNDO,
  PREFIX_HEADERS,
];

/** Range bounds of the keys under `prefix` whose next bytes start with the hex digits `hex` (odd lengths too). */
function hexPrefixRange(prefix: number, hex: string): { gte: Uint8Array; lt: Uint8Array } | undefined {
  const even = hex.length % 2 === 0 ? hex : `${hex}0`;
  const lo = dbKey(prefix, Buffer.from(even, 'hex'));
  if (hex.length % 2 === 0) return { gte: lo, lt: prefixEnd(lo) };
  // An odd digit d covers the bytes d0..df: the end is the key with d+1 in that nibble.
  const hi = lo.slice();
  const last = hi.length - 1;
  if (hi[last]! >= 0xf0) return { gte: lo, lt: prefixEnd(lo.subarray(0, last)) };
  hi[last] = hi[last]! + 0x10;
  return { gte: lo, lt: hi };
}

/** A flush waits this long for more blocks to join its batch (sync brings many in a row). */
const FLUSH_DELAY_MS = 250;
/** Pending writes past this many are flushed before the next block goes on (a bound on memory). */
export const MAX_PENDING = 250_000;

/**
 * The node's only persistent store. A block's body and entry are written
 * before it is connected; what connecting (or disconnecting) it changes
 * (state, undo data, indexes, the new tip) waits in memory (pending.ts) and
 * goes to disk in one atomic level batch with every other block's changes
 * since the last flush, at most FLUSH_DELAY_MS later. So a crash leaves the
 * node at exactly one committed tip, at most a few blocks back, whose stored
 * successors it connects again when it opens (Chain.load). Every value but
 * the version record is sealed with a checksum (seal.ts).
 */
export class ChainDB implements StateReader {
  private readonly stateCache = new Map<string, Uint8Array | null>();
  private readonly pending = new PendingWrites();
  /** The flush under way (flushes run one at a time, in order). */
  private flushing: Promise<void> = Promise.resolve();
  private flushTimer: NodeJS.Timeout | undefined;
  /** A failed flush: memory is ahead of the disk, so nothing more may be written. */
  private broken: StoreError | undefined;

  private readonly db: LevelDB;
  readonly path: string;
  private constructor(db: LevelDB, path: string) {
    this.db = db;
    this.path = path;
  }

  /** `reindexing` lets reindex.ts open a store whose reindex is under way; anyone else is refused. */
  static async open(
    path: string,
    genesis: Block,
    params: NetworkParams,
    opts: { reindexing?: boolean } = {},
  ): Promise<ChainDB> {
    const store = new ChainDB(await openLevel(path), path);
    try {
      await store.init(genesis, params, opts.reindexing ?? false);
    } catch (err) {
      await store.db.close();
      throw err;
    }
    return store;
  }

  private async init(genesis: Block, params: NetworkParams, reindexing: boolean): Promise<void> {
    const version = await this.db.get(DB_VERSION).catch((err) => this.fail(err));
    if (version !== undefined) {
      const schema = checkVersion(version, genesis, params);
      if (!reindexing && (await this.db.get(DB_REINDEXING)) !== undefined) {
        throw new StoreError(
          'DB_REINDEXING',
          `a reindex of ${this.path} was interrupted: run \`zi node --reindex\` again to finish it`,
          { file: this.path },
        );
      }
      // What the newer schemas add is rebuilt at start (layout.ts), so the version is all that changes.
      if (schema < SCHEMA_VERSION) await this.db.put(DB_VERSION, concatBytes(u32be(SCHEMA_VERSION), genesis.hash()));
      return;
    }
    for await (const _ of this.range({ limit: 1 })) {
      throw new StoreError('DB_CORRUPT', `${this.path} has records but no version record: ${reindexHint(this.path)}`, {
        file: this.path,
      });
    }
    await this.writeGenesis(genesis);
  }

  private async writeGenesis(genesis: Block): Promise<void> {
    const entry: ChainEntry = {
      hash: genesis.hash(),
      header: genesis.header,
      height: 0,
      chainwork: 0n,
      status: STATUS_HAS_BODY | STATUS_CONNECTED,
      openProblems: 0,
    };
    await this.write([
      { type: 'put', key: dbKey(PREFIX_BLOCK, entry.hash), value: genesis.toBytes() },
      { type: 'put', key: dbKey(PREFIX_ENTRY, entry.hash), value: encodeEntry(entry) },
      { type: 'put', key: dbKey(PREFIX_HEIGHT, u32be(0)), value: entry.hash },
      { type: 'put', key: DB_TIP, value: entry.hash },
    ]);
    // The version goes last and unsealed: a store without it was never finished.
    await this.db.put(DB_VERSION, concatBytes(u32be(SCHEMA_VERSION), genesis.hash()));
  }

  /**
   * The first half of `zi node --reindex`: keeps the stored blocks and drops
   * everything derived from them (index entries, state, undo data, indexes,
   * tip), leaving a store at genesis whose blocks reindex.ts connects again.
   * A database that does not open goes through LevelDB's repair first, which
   * rebuilds CURRENT and MANIFEST from the tables it finds; what was only in a
   * lost table is gone, and those blocks come back from peers. A marker record
   * makes a start refuse a store whose reindex was interrupted.
   */
  static async prepareReindex(path: string, genesis: Block, params: NetworkParams): Promise<ReindexScan> {
    let repaired = false;
    let db: LevelDB;
    try {
      db = await openLevel(path);
    } catch (err) {
      if (!(err instanceof StoreError) || (err.code !== 'DB_MISSING' && err.code !== 'DB_CORRUPT')) throw err;
      // RepairDB checks no block checksum either: a table that fails them is left out of it.
      const lost = await setAsideDamagedTables(path);
      await repairLevel(path);
      repaired = true;
      db = await openLevel(path);
      // The stored blocks it still holds go back, each checked by the scan (the rest is derived, and rebuilt).
      for (const file of lost) {
        for (const { key, value } of await salvageTable(file)) {
          if (key[0] === PREFIX_BLOCK && (await db.get(key)) === undefined) await db.put(key, value);
        }
      }
    }
    try {
      const version = await db.get(DB_VERSION);
      if (version !== undefined) checkVersion(version, genesis, params, true);
      const store = new ChainDB(db, path);
      await db.put(DB_REINDEXING, new Uint8Array([1]));
      const oldTip = await store.tipHash().catch(() => undefined);
      for (const p of DERIVED_PREFIXES) await db.clear({ gte: new Uint8Array([p]), lt: new Uint8Array([p + 1]) });
      await db.del(DB_TIP);
      await db.del(DB_HEADERS);
      let scan: Omit<ReindexScan, 'repaired'>;
      try {
        scan = await store.scanBlocks(genesis, params, version, oldTip);
      } catch (err) {
        if ((err as { code?: string }).code !== 'LEVEL_CORRUPTION' || repaired) throw err;
        // A table that fails mid-scan: LevelDB's repair keeps what it can still read of it.
        await db.close();
        await repairLevel(path);
        repaired = true;
        db = await openLevel(path);
        scan = await new ChainDB(db, path).scanBlocks(genesis, params, version, oldTip);
      }
      await db.del(DB_VERSION);
      await new ChainDB(db, path).writeGenesis(genesis);
      return { repaired, ...scan };
    } finally {
      await db.close();
    }
  }

  private async scanBlocks(
    genesis: Block,
    params: NetworkParams,
    version: Uint8Array | undefined,
    oldTip: Hash | undefined,
  ): Promise<Omit<ReindexScan, 'repaired'>> {
    // Schema 1 stored blocks unsealed, and schemas 1 and 2 without a votes
    // section: each is rewritten in today's form as it is read.
    const schema =
      version === undefined ? SCHEMA_VERSION : new DataView(version.buffer, version.byteOffset).getUint32(0);
    const unsealed = schema === 1;
    const noVotes = schema < 3;
    const headers = new Map<string, { hash: Hash; height: number; parent: Hash; main: boolean }>();
    const bad: Uint8Array[] = [];
    const resealed: Op[] = [];
    const genesisId = toHex(genesis.hash());
    for await (const [key, raw] of this.db.iterator({
      gt: new Uint8Array([PREFIX_BLOCK]),
      lt: new Uint8Array([PREFIX_BLOCK + 1]),
    })) {
      const hash = new Uint8Array(key.subarray(1));
      try {
        const stored = unsealed ? raw : unseal(key, raw, this.path);
        const bytes = noVotes ? concatBytes(stored, new Uint8Array(2)) : stored;
        const block = Block.fromBytes(bytes, params.maxBlockBytes, params.maxTxBytes);
        if (!equalBytes(block.hash(), hash) || !equalBytes(block.computeMerkleRoot(), block.header.merkleRoot)) {
          throw new StoreError('DB_CORRUPT', 'stored block does not match its key');
        }
        if (unsealed || noVotes) resealed.push({ type: 'put', key: new Uint8Array(key), value: bytes });
        if (toHex(hash) !== genesisId) {
          headers.set(toHex(hash), { hash, height: block.header.height, parent: block.header.parent, main: false });
        }
      } catch {
        bad.push(new Uint8Array(key));
      }
      if (resealed.length >= 256) await this.write(resealed.splice(0));
    }
    await this.write(resealed);
    for (const key of bad) await this.db.del(key);
    // The old main chain goes first at each height, so a tie resolves to the tip the node had.
    for (let h = oldTip && headers.get(toHex(oldTip)); h; h = headers.get(toHex(h.parent))) h.main = true;
    const blocks = [...headers.values()]
      .sort((a, b) => a.height - b.height || Number(b.main) - Number(a.main))
      .map(({ hash, height, main }) => ({ hash, height, main }));
    return { blocks, damaged: bad.length };
  }

  /** The last step of a reindex: the store is whole again. */
  async endReindex(): Promise<void> {
    await this.write([{ type: 'del', key: DB_REINDEXING }]);
  }

  /** A stored block that cannot join the index (its parent is gone): peers send it again. */
  async deleteBlock(hash: Hash): Promise<void> {
    await this.write([{ type: 'del', key: dbKey(PREFIX_BLOCK, hash) }]);
  }

  private async read(key: Uint8Array): Promise<Uint8Array | undefined> {
    const pending = this.pending.lookup(keyId(key));
    if (pending !== undefined) return pending.value;
    const raw = await this.db.get(key).catch((err) => this.fail(err));
    return raw === undefined ? undefined : unseal(key, raw, this.path);
  }

  /** A LevelDB read error (a damaged table, a lost file) as the typed error every caller knows. */
  private fail(err: unknown): never {
    const code = (err as { code?: string })?.code;
    const reason = String((err as Error)?.message);
    // Some read paths of classic-level give LevelDB's status text without a code.
    if (code !== 'LEVEL_CORRUPTION' && code !== 'LEVEL_IO_ERROR' && !/^(Corruption|IO error): /.test(reason)) throw err;
    throw new StoreError(
      'DB_CORRUPT',
      `chain database ${this.path} is damaged (${reason}): ${reindexHint(this.path)}`,
      {
        file: this.path,
      },
    );
  }

  /** Every [key, value] in a range, unsealed, with read errors typed; pending writes included. */
  private async *range(opts: {
    gt?: Uint8Array;
    gte?: Uint8Array;
    lt?: Uint8Array;
    lte?: Uint8Array;
    reverse?: boolean;
    limit?: number;
  }): AsyncGenerator<[Uint8Array, Uint8Array]> {
    const pending = this.pending.inRange(opts, opts.reverse);
    // A pending delete may hide a stored key, so with pending writes the limit is counted here.
    const { limit = Number.POSITIVE_INFINITY, ...dbOpts } = opts;
    const it = this.db.iterator(pending.length === 0 ? opts : dbOpts);
    const next = () => it.next().catch((err) => this.fail(err));
    const first = (a: string, b: string) => (opts.reverse ? a > b : a < b);
    try {
      let n = 0;
      let stored = await next();
      let i = 0;
      while (n < limit) {
        const p = pending[i];
        const storedId = stored && keyId(stored[0]);
        if (p === undefined && stored === undefined) return;
        if (p !== undefined && (storedId === undefined || !first(storedId, p[0]))) {
          i++;
          if (storedId === p[0]) stored = await next();
          if (p[1].value === undefined) continue;
          yield [p[1].key, p[1].value];
        } else {
          yield [stored![0], unseal(stored![0], stored![1], this.path)];
          stored = await next();
        }
        n++;
      }
    } finally {
      await it.close();
    }
  }

  /** Stages ops and writes them, with everything else pending, before it resolves. */
  private async write(ops: Op[]): Promise<void> {
    this.stage(ops.map((op) => ({ key: op.key, value: op.type === 'put' ? op.value : undefined })));
    await this.flush();
  }

  /** Stages the ops themselves: nobody changes them afterwards. */
  private stage(ops: readonly PendingOp[]): void {
    if (this.broken) throw this.broken;
    for (const op of ops) this.pending.stage(op);
  }

  /** Everything pending, to disk in one atomic batch; resolves once it is there. */
  flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const run = this.flushing.then(() => this.writePending());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private async writePending(): Promise<void> {
    if (this.broken) throw this.broken;
    if (this.pending.size === 0) return;
    const ops = this.pending.take();
    try {
      await this.db.batch(sealed(ops));
    } catch (err) {
      const reason = String((err as Error)?.message).split('\n')[0];
      this.broken = new StoreError(
        'DB_WRITE',
        `chain database ${this.path} cannot be written (${reason}); stop the node, free space or fix the disk, and start it again: it connects the stored blocks the write missed`,
        { file: this.path },
      );
      throw this.broken;
    }
    this.pending.written();
  }

  /** A flush soon, so that blocks arriving meanwhile share its batch. */
  private flushSoon(): void {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      // A failure is kept in `broken` and thrown by the next write and by close.
      this.flush().catch(() => undefined);
    }, FLUSH_DELAY_MS);
    this.flushTimer.unref();
  }

  /** After a block's changes are staged: past MAX_PENDING they are written before the next block. */
  private async staged(): Promise<void> {
    if (this.pending.size >= MAX_PENDING) await this.flush();
    else this.flushSoon();
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.db.close();
    }
  }

  async tipHash(): Promise<Hash> {
    const tip = await this.read(DB_TIP);
    if (tip === undefined) {
      throw new StoreError('DB_CORRUPT', `${this.path} records no tip: ${reindexHint(this.path)}`, { file: this.path });
    }
    return new Uint8Array(tip);
  }

  /**
   * `zi node --check-state`: every state record passes its seal, read in
   * full (3 s for a million accounts, linear in the state, so not at every
   * start). A flipped byte in a key moves a record to a key nobody reads,
   * which would look like a record that never existed; its seal (over key
   * and value) fails here instead. At every start the table checksums
   * (tables.ts) already cover such a flip at rest, and each value is checked
   * against its seal whenever it is read.
   */
  async verifyState(): Promise<number> {
    let n = 0;
    for await (const batch of this.batches(dbKey(PREFIX_STATE), 1000)) n += batch.length;
    return n;
  }

  /**
   * Every stored block entry as [hash, value] (ENTRY_BYTES), a thousand at a
   * time: a start without a snapshot of the block index reads them all, and
   * each read costs LevelDB and N-API some microseconds however small.
   */
  async *entryRecords(): AsyncGenerator<[Hash, Uint8Array][]> {
    for await (const batch of this.batches(new Uint8Array([PREFIX_ENTRY]), 1000)) {
      yield batch.map(([key, value]) => {
        if (key.length !== 33) throw this.damage(`a block index key has ${key.length} bytes`);
        return [key.subarray(1), value];
      });
    }
  }

  /** One stored entry's value, as entryRecords gives it. */
  entryRecordSync(hash: Hash): Uint8Array | undefined {
    return this.readSync(dbKey(PREFIX_ENTRY, hash));
  }

  /**
   * How many entries the block index snapshot holds, when there is one that
   * matches the stored entries (layout.ts); undefined when a start must read
   * the entries themselves.
   */
  async headerSnapshot(): Promise<number | undefined> {
    const raw = await this.read(DB_HEADERS);
    if (raw === undefined) return undefined;
    if (raw.length !== 36) throw this.damage(`the block index snapshot record has ${raw.length} bytes`);
    // Only a tool writing blocks behind the node's back leaves another tip; the entries are the truth.
    if (!equalBytes(raw.subarray(4), await this.tipHash())) return undefined;
    return new DataView(raw.buffer, raw.byteOffset).getUint32(0);
  }

  /** The snapshot's chunks in height order, as [chunk, rows]; header-index.ts checks the rows. */
  async *headerChunks(): AsyncGenerator<[number, Uint8Array]> {
    for await (const batch of this.batches(new Uint8Array([PREFIX_HEADERS]), 16)) {
      for (const [key, value] of batch) {
        if (key.length !== 5) throw this.damage(`a block index snapshot key has ${key.length} bytes`);
        yield [new DataView(key.buffer, key.byteOffset).getUint32(1), value];
      }
    }
  }

  /** At every open, before anything is written: the snapshot is trusted again only once a clean close rewrites it. */
  async forgetHeaderSnapshot(): Promise<void> {
    if ((await this.read(DB_HEADERS)) !== undefined) await this.write([{ type: 'del', key: DB_HEADERS }]);
  }

  /** The changed chunks of the snapshot, then the record that says it matches the entries of `entries` blocks. */
  async saveHeaderSnapshot(chunks: Iterable<[number, Uint8Array]>, entries: number, tip: Hash): Promise<void> {
    let ops: Op[] = [];
    let bytes = 0;
    for (const [chunk, rows] of chunks) {
      const key = new Uint8Array(5);
      key[0] = PREFIX_HEADERS;
      new DataView(key.buffer).setUint32(1, chunk);
      ops.push({ type: 'put', key, value: rows });
      bytes += rows.length;
      // A whole snapshot (after a start without one) is 181 MB per million blocks: written in parts.
      if (bytes >= 16 << 20) {
        await this.write(ops);
        ops = [];
        bytes = 0;
      }
    }
    ops.push({ type: 'put', key: DB_HEADERS, value: concatBytes(u32be(entries), tip) });
    await this.write(ops);
  }

  private damage(what: string): StoreError {
    return new StoreError('DB_CORRUPT', `chain database ${this.path} is damaged: ${what}; ${reindexHint(this.path)}`, {
      file: this.path,
    });
  }

  /** Every [key, value] under `prefix`, unsealed, `size` at a time (one N-API call per batch, not per record). */
  private async *batches(prefix: Uint8Array, size: number): AsyncGenerator<[Uint8Array, Uint8Array][]> {
    const it = this.db.iterator({ gte: prefix, lt: prefixEnd(prefix) });
    try {
      for (;;) {
        const batch = await it.nextv(size).catch((err) => this.fail(err));
        if (batch.length === 0) return;
        yield batch.map(([k, v]) => [k, unseal(k, v, this.path)]);
      }
    } finally {
      await it.close();
    }
  }

  async getBlock(hash: Hash, params: NetworkParams): Promise<Block | undefined> {
    const raw = await this.read(dbKey(PREFIX_BLOCK, hash));
    return raw === undefined ? undefined : Block.fromBytes(raw, params.maxBlockBytes, params.maxTxBytes);
  }

  async hasUndo(hash: Hash): Promise<boolean> {
    return (await this.read(dbKey(PREFIX_UNDO, hash))) !== undefined;
  }

  async getBlockBytes(hash: Hash): Promise<Uint8Array | undefined> {
    return this.read(dbKey(PREFIX_BLOCK, hash));
  }

  async hashAtHeight(height: number): Promise<Hash | undefined> {
    return this.read(dbKey(PREFIX_HEIGHT, u32be(height)));
  }

  async txLocation(txid: Hash): Promise<{ block: Hash; position: number } | undefined> {
    const raw = await this.read(dbKey(PREFIX_TX, txid));
    if (raw === undefined) return undefined;
    const r = new Reader(raw);
    return { block: r.bytes(32), position: r.u32() };
  }

  /**
   * Newest first: txids (or the block hash for a mining reward) touching an
   * address, below height `before` if given. `rewards: false` skips mining
   * rewards, so that on a mining node's address the limit still reaches its
   * transactions.
   */
  async history(
    address: Address,
    limit: number,
    opts: { rewards?: boolean; before?: number } = {},
  ): Promise<{ height: number; position: number | 'reward'; id: Hash }[]> {
    const rewards = opts.rewards ?? true;
    const out: { height: number; position: number | 'reward'; id: Hash }[] = [];
    const gt = dbKey(PREFIX_ADDRESS, address);
    const end =
      opts.before === undefined
        ? { lte: dbKey(PREFIX_ADDRESS, address, new Uint8Array(8).fill(0xff)) }
        : { lt: dbKey(PREFIX_ADDRESS, address, u32be(opts.before)) };
    for await (const [key, value] of this.range({ gt, ...end, reverse: true, ...(rewards ? { limit } : {}) })) {
      const r = new Reader(key.subarray(21));
      const height = r.u32();
      const pos = r.u32();
      if (pos === REWARD_POSITION && !rewards) continue;
      out.push({ height, position: pos === REWARD_POSITION ? 'reward' : pos, id: new Uint8Array(value) });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Ledger state at the tip under a key prefix (all of it by default), in key order. */
  async *stateEntries(prefix: Uint8Array = new Uint8Array()): AsyncGenerator<[Uint8Array, Uint8Array]> {
    const gte = dbKey(PREFIX_STATE, prefix);
    const lt = prefixEnd(gte);
    for await (const [k, v] of this.range({ gte, lt })) yield [new Uint8Array(k.subarray(1)), new Uint8Array(v)];
  }

  get(key: Uint8Array, id = keyId(key)): Uint8Array | undefined {
    const hit = this.stateCache.get(id);
    if (hit !== undefined) return hit ?? undefined;
    const value = this.readSync(dbKey(PREFIX_STATE, key));
    if (this.stateCache.size > 1_000_000) this.stateCache.clear();
    this.stateCache.set(id, value ?? null);
    return value;
  }

  /** The read-side indexes (chain/indexer.ts) at the tip, read as synchronously as the state. */
  readonly index: StateReader = { get: (key) => this.readSync(dbKey(PREFIX_INDEX, key)) };

  /** A sealed record read synchronously (state and index lookups sit on block validation's path). */
  private readSync(dbk: Uint8Array): Uint8Array | undefined {
    const pending = this.pending.lookup(keyId(dbk));
    if (pending !== undefined) return pending.value;
    let raw: Uint8Array | undefined;
    try {
      raw = this.db.getSync(dbk);
    } catch (err) {
      this.fail(err);
    }
    return raw === undefined ? undefined : new Uint8Array(unseal(dbk, raw, this.path));
  }

  /** Index records under a key prefix, in key order (or reversed), at most `limit`; `from` starts (or, reversed, ends) there. */
  async *indexEntries(
    prefix: Uint8Array,
    opts: { reverse?: boolean; limit?: number; from?: Uint8Array } = {},
  ): AsyncGenerator<[Uint8Array, Uint8Array]> {
    const start = dbKey(PREFIX_INDEX, prefix);
    const end = prefixEnd(start);
    const from = opts.from && dbKey(PREFIX_INDEX, opts.from);
    const range = opts.reverse
      ? { gte: start, ...(from ? { lte: from } : { lt: end }), reverse: true }
      : { gte: from ?? start, lt: end };
    for await (const [k, v] of this.range({ ...range, limit: opts.limit })) {
      yield [new Uint8Array(k.subarray(1)), new Uint8Array(v)];
    }
  }

  /** Removes an index record (chain.ts: the marker of an index no longer kept). */
  async dropIndex(key: Uint8Array): Promise<void> {
    await this.write([{ type: 'del', key: dbKey(PREFIX_INDEX, key) }]);
  }

  /** Writes an indexer's completeness marker (chain.ts does, on a store at genesis). */
  async putIndex(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.write([{ type: 'put', key: dbKey(PREFIX_INDEX, key), value }]);
  }

  /**
   * Up to `limit` hashes of known blocks (main or side) or of main-chain
   * transactions that start with the hex digits `hex`: a prefix search reads
   * only the keys that match, never the whole chain.
   */
  async hashesWithPrefix(what: 'block' | 'tx', hex: string, limit: number): Promise<Hash[]> {
    const range = hexPrefixRange(what === 'block' ? PREFIX_ENTRY : PREFIX_TX, hex);
    const out: Hash[] = [];
    if (!range) return out;
    for await (const [k] of this.range({ ...range, limit })) out.push(new Uint8Array(k.subarray(1, 33)));
    return out;
  }

  async putEntry(entry: ChainEntry): Promise<void> {
    await this.write([{ type: 'put', key: dbKey(PREFIX_ENTRY, entry.hash), value: encodeEntry(entry) }]);
  }

  /** A block that passed its checks, its body and its entry in one write: the node has accepted it once this resolves. */
  saveBlock(block: Block, entry: ChainEntry): Promise<void> {
    return this.writeNow([
      { type: 'put', key: dbKey(PREFIX_BLOCK, entry.hash), value: block.toBytes() },
      { type: 'put', key: dbKey(PREFIX_ENTRY, entry.hash), value: encodeEntry(entry) },
    ]);
  }

  /**
   * On disk now, ahead of the pending changes: a crash must not lose a block
   * the node has accepted (a restart connects it again). Its keys are new,
   * so nothing pending is overtaken; where one is pending, it goes with them.
   */
  private async writeNow(ops: Op[]): Promise<void> {
    if (this.broken || ops.some((op) => this.pending.has(keyId(op.key)))) return this.write(ops);
    await this.db.batch(sealed(ops));
  }

  /**
   * What connecting a block writes, as one prepared batch: built before the
   * block's signatures have all verified (chain.ts), so that what is left
   * after them is only `commit`.
   */
  connectBatch(rec: ConnectRecord): PreparedBatch {
    const { entry, changes } = rec;
    // Keyed now, while the signatures verify: what is left after them is staging.
    const ops = new Map<string, PendingOp>();
    const add = (op: PendingOp) => ops.set(op.id ?? keyId(op.key), op);
    for (const c of changes) add({ key: dbKey(PREFIX_STATE, c.key), value: c.value, id: STATE_ID + c.id });
    add({ key: dbKey(PREFIX_HEIGHT, u32be(entry.height)), value: entry.hash });
    add({ key: dbKey(PREFIX_ENTRY, entry.hash), value: encodeEntry(entry) });
    const indexed = rec.indexChanges ?? [];
    for (const c of indexed) add({ key: dbKey(PREFIX_INDEX, c.key), value: c.value });
    add({ key: DB_TIP, value: entry.hash });
    // Nothing on a block's path reads its undo data or its history index: the flush lays them out.
    const later: DeferredOps = {
      prefixes: [PREFIX_UNDO, PREFIX_INDEX_UNDO, PREFIX_TX, PREFIX_ADDRESS],
      count: 2 + 3 * rec.block.txs.length,
      expand: () => {
        const out: PendingOp[] = [{ key: dbKey(PREFIX_UNDO, entry.hash), value: encodeUndo(changes) }];
        if (indexed.length > 0) out.push({ key: dbKey(PREFIX_INDEX_UNDO, entry.hash), value: encodeUndo(indexed) });
        for (const op of this.indexOps(rec)) out.push(op);
        return out;
      },
    };
    return { ops, changes, later };
  }

  /** The batch of connectBatch, staged (pending.ts): the state reads the new tip from here on. */
  async commit(batch: PreparedBatch): Promise<void> {
    if (this.broken) throw this.broken;
    this.pending.stageAll(batch.ops);
    this.pending.defer(batch.later);
    for (const c of batch.changes) this.stateCache.set(c.id, c.value ?? null);
    await this.staged();
  }

  async disconnect(rec: ConnectRecord): Promise<void> {
    const { entry } = rec;
    const raw = await this.read(dbKey(PREFIX_UNDO, entry.hash));
    if (raw === undefined) {
      throw new StoreError('DB_CORRUPT', `no undo data for block ${toHex(entry.hash)}: ${reindexHint(this.path)}`, {
        file: this.path,
      });
    }
    const undo = decodeUndo(raw);
    const ops: PendingOp[] = [];
    for (const u of undo) ops.push({ key: dbKey(PREFIX_STATE, u.key), value: u.previous });
    ops.push({ key: dbKey(PREFIX_UNDO, entry.hash) });
    ops.push({ key: dbKey(PREFIX_HEIGHT, u32be(entry.height)) });
    for (const op of this.indexOps(rec)) ops.push({ key: op.key });
    // A block connected before its indexers ran has no index undo: nothing of it is indexed.
    const indexUndo = await this.read(dbKey(PREFIX_INDEX_UNDO, entry.hash));
    if (indexUndo !== undefined) {
      for (const u of decodeUndo(indexUndo)) ops.push({ key: dbKey(PREFIX_INDEX, u.key), value: u.previous });
      ops.push({ key: dbKey(PREFIX_INDEX_UNDO, entry.hash) });
    }
    ops.push({ key: DB_TIP, value: entry.header.parent });
    this.stage(ops);
    for (const u of undo) this.stateCache.set(keyId(u.key), u.previous ?? null);
    await this.staged();
  }
  private indexOps(rec: ConnectRecord): { key: Uint8Array; value: Uint8Array }[] {
    const { block, entry } = rec;
    const parties = rec.parties();
    const h = u32be(entry.height);
    const ops: { key: Uint8Array; value: Uint8Array }[] = [];
    block.txs.forEach((tx, i) => {
      const txid = tx.hash();
      const pos = u32be(i);
      const location = new Uint8Array(36);
      location.set(entry.hash);
      location.set(pos, 32);
      ops.push({ key: dbKey(PREFIX_TX, txid), value: location });
      const touched = [tx.from];
      for (const a of parties[i] ?? []) if (!touched.some((t) => equalBytes(t, a))) touched.push(a);
      for (const a of touched) ops.push({ key: dbKey(PREFIX_ADDRESS, a, h, pos), value: txid });
    });
    ops.push({ key: dbKey(PREFIX_ADDRESS, block.header.miner, h, u32be(REWARD_POSITION)), value: entry.hash });
    return ops;
  }
}

function sealed(ops: readonly PendingOp[]): Op[] {
  return ops.map((op) =>
    op.value === undefined ? { type: 'del', key: op.key } : { type: 'put', key: op.key, value: seal(op.key, op.value) },
  );
}

/**
 * The store's schema, refusing another network's data and other schemas; a
 * reindex upgrades the older ones, and opening those from SCHEMA_UPGRADES_IN_PLACE on.
 */
function checkVersion(version: Uint8Array, genesis: Block, params: NetworkParams, reindexing = false): number {
  if (version.length !== 36 || !equalBytes(version.subarray(4), genesis.hash())) {
    throw new StoreError('WRONG_NETWORK', `this data directory belongs to another network than ${params.name}`);
  }
  const schema = new DataView(version.buffer, version.byteOffset).getUint32(0);
  const older = schema >= 1 && schema < SCHEMA_VERSION;
  if (schema === SCHEMA_VERSION || (older && (reindexing || schema >= SCHEMA_UPGRADES_IN_PLACE))) return schema;
  if (older) {
    throw new StoreError(
      'SCHEMA',
      `this data directory was made by an older zi (schema ${schema}): rebuild it with \`zi node --reindex\``,
    );
  }
  throw new StoreError('SCHEMA', `data directory has an unknown schema version ${schema}`);
}
