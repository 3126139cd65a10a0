import { Level } from 'level';
import type { Address } from '../address.ts';
import { Block } from '../block.ts';
import { concatBytes, equalBytes, Reader, toHex, Writer } from '../encoding.ts';
import { ZiError } from '../errors.ts';
import { bigIntToBytes32, type Hash, hashToBigInt } from '../hash.ts';
import { BlockHeader, HEADER_SIZE } from '../header.ts';
import type { NetworkParams } from '../params.ts';
import type { StateChange, StateReader } from '../state.ts';
import {
  DB_TIP,
  DB_VERSION,
  dbKey,
  PREFIX_ADDRESS,
  PREFIX_BLOCK,
  PREFIX_ENTRY,
  PREFIX_HEIGHT,
  PREFIX_STATE,
  PREFIX_TX,
  PREFIX_UNDO,
  SCHEMA_VERSION,
  u32be,
} from './layout.ts';

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
  /** |Po| in the state after this block; valid once STATUS_CONNECTED. */
  openProblems: number;
}

export class StoreError extends ZiError<'WRONG_NETWORK' | 'CORRUPT' | 'SCHEMA'> {}

export function encodeEntry(e: ChainEntry): Uint8Array {
  return new Writer(HEADER_SIZE + 37)
    .bytes(e.header.toBytes())
    .bytes(bigIntToBytes32(e.chainwork))
    .u8(e.status)
    .u32(e.openProblems)
    .finish();
}

export function decodeEntry(bytes: Uint8Array): ChainEntry {
  const r = new Reader(bytes);
  const header = BlockHeader.read(r);
  const chainwork = hashToBigInt(r.bytes(32));
  const status = r.u8();
  const openProblems = r.u32();
  r.end('chain entry');
  return { hash: header.hash(), header, height: header.height, chainwork, status, openProblems };
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

/** One connected block, described by what its batch must write. */
export interface ConnectRecord {
  block: Block;
  entry: ChainEntry;
  changes: readonly StateChange[];
  /** Addresses each tx touches, for the history index. */
  parties: readonly Address[][];
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

/**
 * The node's only persistent store. Every connect and disconnect is one
 * atomic level batch holding the state changes, undo data, indexes and the
 * new tip together, so a crash leaves the node at exactly one committed tip.
 */
export class ChainDB implements StateReader {
  private readonly stateCache = new Map<string, Uint8Array | null>();

  private readonly db: Level<Uint8Array, Uint8Array>;
  private constructor(db: Level<Uint8Array, Uint8Array>) {
    this.db = db;
  }

  static async open(path: string, genesis: Block, params: NetworkParams): Promise<ChainDB> {
    const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const store = new ChainDB(db);
    try {
      await store.init(genesis, params);
    } catch (err) {
      await db.close();
      throw err;
    }
    return store;
  }

  private async init(genesis: Block, params: NetworkParams): Promise<void> {
    const version = await this.db.get(DB_VERSION);
    const expected = concatBytes(u32be(SCHEMA_VERSION), genesis.hash());
    if (version !== undefined) {
      if (!equalBytes(version.subarray(4), genesis.hash())) {
        throw new StoreError('WRONG_NETWORK', `this data directory belongs to another network than ${params.name}`);
      }
      if (!equalBytes(version, expected))
        throw new StoreError('SCHEMA', 'data directory has an unknown schema version');
      return;
    }
    const entry: ChainEntry = {
      hash: genesis.hash(),
      header: genesis.header,
      height: 0,
      chainwork: 0n,
      status: STATUS_HAS_BODY | STATUS_CONNECTED,
      openProblems: 0,
    };
    await this.db.batch([
      { type: 'put', key: dbKey(PREFIX_BLOCK, entry.hash), value: genesis.toBytes() },
      { type: 'put', key: dbKey(PREFIX_ENTRY, entry.hash), value: encodeEntry(entry) },
      { type: 'put', key: dbKey(PREFIX_HEIGHT, u32be(0)), value: entry.hash },
      { type: 'put', key: DB_TIP, value: entry.hash },
      { type: 'put', key: DB_VERSION, value: expected },
    ]);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async tipHash(): Promise<Hash> {
    const tip = await this.db.get(DB_TIP);
    if (tip === undefined) throw new StoreError('CORRUPT', 'no tip recorded');
    return new Uint8Array(tip);
  }

  /** Every known block entry, for the in-memory index. */
  async *entries(): AsyncGenerator<ChainEntry> {
    for await (const value of this.db.values({
      gt: new Uint8Array([PREFIX_ENTRY]),
      lt: new Uint8Array([PREFIX_ENTRY + 1]),
    })) {
      yield decodeEntry(value);
    }
  }

  async getBlock(hash: Hash, params: NetworkParams): Promise<Block | undefined> {
    const raw = await this.db.get(dbKey(PREFIX_BLOCK, hash));
    return raw === undefined ? undefined : Block.fromBytes(raw, params.maxBlockBytes, params.maxTxBytes);
  }

  async getBlockBytes(hash: Hash): Promise<Uint8Array | undefined> {
    return this.db.get(dbKey(PREFIX_BLOCK, hash));
  }

  async hashAtHeight(height: number): Promise<Hash | undefined> {
    return this.db.get(dbKey(PREFIX_HEIGHT, u32be(height)));
  }

  async txLocation(txid: Hash): Promise<{ block: Hash; position: number } | undefined> {
    const raw = await this.db.get(dbKey(PREFIX_TX, txid));
    if (raw === undefined) return undefined;
    const r = new Reader(raw);
    return { block: r.bytes(32), position: r.u32() };
  }

  /** Newest first: txids (or the block hash for a mining reward) touching an address. */
  async history(address: Address, limit: number): Promise<{ height: number; position: number | 'reward'; id: Hash }[]> {
    const out: { height: number; position: number | 'reward'; id: Hash }[] = [];
    const gt = dbKey(PREFIX_ADDRESS, address);
    const lt = dbKey(PREFIX_ADDRESS, address, new Uint8Array(8).fill(0xff));
    for await (const [key, value] of this.db.iterator({ gt, lte: lt, reverse: true, limit })) {
      const r = new Reader(key.subarray(21));
      const height = r.u32();
      const pos = r.u32();
      out.push({ height, position: pos === REWARD_POSITION ? 'reward' : pos, id: new Uint8Array(value) });
    }
    return out;
  }

  /** Ledger state at the tip under a key prefix (all of it by default), in key order. */
  async *stateEntries(prefix: Uint8Array = new Uint8Array()): AsyncGenerator<[Uint8Array, Uint8Array]> {
    const gte = dbKey(PREFIX_STATE, prefix);
    const lt = prefixEnd(gte);
    for await (const [k, v] of this.db.iterator({ gte, lt })) yield [new Uint8Array(k.subarray(1)), new Uint8Array(v)];
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const id = toHex(key);
    const hit = this.stateCache.get(id);
    if (hit !== undefined) return hit ?? undefined;
    const raw = this.db.getSync(dbKey(PREFIX_STATE, key));
    const value = raw === undefined ? undefined : new Uint8Array(raw);
    if (this.stateCache.size > 1_000_000) this.stateCache.clear();
    this.stateCache.set(id, value ?? null);
    return value;
  }

  async putEntry(entry: ChainEntry): Promise<void> {
    await this.db.put(dbKey(PREFIX_ENTRY, entry.hash), encodeEntry(entry));
  }

  /** A block that may or may not join the main chain: stored with its entry. */
  async saveBlock(block: Block, entry: ChainEntry): Promise<void> {
    await this.db.batch([
      { type: 'put', key: dbKey(PREFIX_BLOCK, entry.hash), value: block.toBytes() },
      { type: 'put', key: dbKey(PREFIX_ENTRY, entry.hash), value: encodeEntry(entry) },
    ]);
  }

  async connect(rec: ConnectRecord): Promise<void> {
    const { entry, changes } = rec;
    const ops: Op[] = [];
    for (const c of changes) {
      const key = dbKey(PREFIX_STATE, c.key);
      ops.push(c.value === undefined ? { type: 'del', key } : { type: 'put', key, value: c.value });
    }
    ops.push({ type: 'put', key: dbKey(PREFIX_UNDO, entry.hash), value: encodeUndo(changes) });
    ops.push({ type: 'put', key: dbKey(PREFIX_HEIGHT, u32be(entry.height)), value: entry.hash });
    ops.push({ type: 'put', key: dbKey(PREFIX_ENTRY, entry.hash), value: encodeEntry(entry) });
    for (const op of this.indexOps(rec)) ops.push({ ...op, type: 'put' });
    ops.push({ type: 'put', key: DB_TIP, value: entry.hash });
    await this.db.batch(ops);
    for (const c of changes) this.stateCache.set(toHex(c.key), c.value ?? null);
  }

  async disconnect(rec: ConnectRecord): Promise<void> {
    const { entry } = rec;
    const raw = await this.db.get(dbKey(PREFIX_UNDO, entry.hash));
    if (raw === undefined) throw new StoreError('CORRUPT', `no undo data for block ${toHex(entry.hash)}`);
    const undo = decodeUndo(raw);
    const ops: Op[] = [];
    for (const u of undo) {
      const key = dbKey(PREFIX_STATE, u.key);
      ops.push(u.previous === undefined ? { type: 'del', key } : { type: 'put', key, value: u.previous });
    }
    ops.push({ type: 'del', key: dbKey(PREFIX_UNDO, entry.hash) });
    ops.push({ type: 'del', key: dbKey(PREFIX_HEIGHT, u32be(entry.height)) });
    for (const op of this.indexOps(rec)) ops.push({ type: 'del', key: op.key });
    ops.push({ type: 'put', key: DB_TIP, value: entry.header.parent });
    await this.db.batch(ops);
    for (const u of undo) this.stateCache.set(toHex(u.key), u.previous ?? null);
  }

  private indexOps(rec: ConnectRecord): { key: Uint8Array; value: Uint8Array }[] {
    const { block, entry, parties } = rec;
    const h = u32be(entry.height);
    const ops: { key: Uint8Array; value: Uint8Array }[] = [];
    block.txs.forEach((tx, i) => {
      const txid = tx.hash();
      const pos = u32be(i);
      ops.push({ key: dbKey(PREFIX_TX, txid), value: concatBytes(entry.hash, pos) });
      const seen = new Set<string>();
      for (const a of [tx.from, ...(parties[i] ?? [])]) {
        if (seen.has(toHex(a))) continue;
        seen.add(toHex(a));
        ops.push({ key: dbKey(PREFIX_ADDRESS, a, h, pos), value: txid });
      }
    });
    ops.push({ key: dbKey(PREFIX_ADDRESS, block.header.miner, h, u32be(REWARD_POSITION)), value: entry.hash });
    return ops;
  }
}
