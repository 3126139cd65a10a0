import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type BitswapOptions, withBitswap } from '@helia/bitswap';
import type { HeliaWithLibp2p } from '@helia/libp2p';
import type { Libp2p } from '@libp2p/interface';
import { LevelBlockstore } from 'blockstore-level';
import { LevelDatastore } from 'datastore-level';
import { createHeliaLight, type Helia } from 'helia';
import type { CID } from 'multiformats/cid';
import type { Logger } from 'pino';
import { diagnoseLevel, isNewDatabase, StoreError } from '../chain/store/open.ts';
import { damagedTable } from '../chain/store/tables.ts';
import { checkCid, cidOf, verifyCid } from './cid.ts';
import { ContentError } from './errors.ts';
import {
  type AbortOptions,
  byteLimit,
  type ContentStore,
  type ContentUsage,
  DEFAULT_TIMEOUT_MS,
  Deadline,
  type FetchOptions,
  type GcOptions,
  type GcResult,
  type GetOptions,
  MAX_BLOCK_BYTES,
  type PutOptions,
  tooLarge,
} from './store.ts';

/**
 * Bitswap on a Zi host: its defaults accept 1,024 inbound streams and 4 MiB
 * messages from anyone; a Zi node needs little of that, and a peer should not
 * be able to make it buffer much. A message carries at most a few blocks of
 * MAX_BLOCK_BYTES plus a want list.
 */
export const BITSWAP_LIMITS = {
  maxInboundStreams: 32,
  maxOutboundStreams: 32,
  maxIncomingMessageSize: 4 * MAX_BLOCK_BYTES,
  maxOutgoingMessageSize: 2 * MAX_BLOCK_BYTES,
  maxWantlistSize: 256,
  sendBlocksMaxQueueLength: 64,
  sendWantlistDebounce: 1,
} satisfies BitswapOptions;

export interface HeliaStoreOptions {
  /** The node's data dir; blocks go to `<datadir>/ipfs/blocks`, pins to `<datadir>/ipfs/datastore`. */
  datadir: string;
  /** The Zi node's own, started libp2p host. Helia only adds the bitswap protocol; it never stops the host. */
  libp2p: Libp2p;
  logger?: Logger;
  /** Default deadline of get and pin (DEFAULT_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Stamps each pin, so gc can tell a pin made a moment ago (default Date.now). */
  clock?: () => number;
}

export function ipfsDir(datadir: string): { blocks: string; datastore: string } {
  return { blocks: join(datadir, 'ipfs', 'blocks'), datastore: join(datadir, 'ipfs', 'datastore') };
}

/**
 * An embedded Helia node on the Zi node's own libp2p host: blocks and pins
 * persist in the data dir, bitswap fetches from and serves to connected
 * peers, so a node needs no IPFS daemon.
 */
export async function openHeliaStore(opts: HeliaStoreOptions): Promise<HeliaContentStore> {
  const dirs = ipfsDir(opts.datadir);
  const hint = (dir: string) =>
    `restore ${dir} from a backup, or move it away to start an empty IPFS store (what you pinned is then only where peers have it)`;
  // As for the chain: created only when new, never over the files of a damaged store.
  const create = {
    blocks: await isNewDatabase(dirs.blocks, hint(dirs.blocks)),
    datastore: await isNewDatabase(dirs.datastore, hint(dirs.datastore)),
  };
  // Their tables' checksums too, before LevelDB reads a block (src/chain/store/tables.ts).
  for (const [dir, isNew] of [
    [dirs.blocks, create.blocks],
    [dirs.datastore, create.datastore],
  ] as const) {
    const damage = isNew ? undefined : await damagedTable(dir);
    if (damage) {
      const { file, why } = damage;
      throw new StoreError('DB_CORRUPT', `IPFS store file ${file} is damaged (${why}): ${hint(dir)}`, { file });
    }
  }
  await mkdir(dirs.blocks, { recursive: true });
  await mkdir(dirs.datastore, { recursive: true });
  const blocks = new LevelBlockstore(dirs.blocks, { createIfMissing: create.blocks });
  const datastore = new LevelDatastore(dirs.datastore, { createIfMissing: create.datastore });
  try {
    await blocks.open();
    await datastore.open();
  } catch (err) {
    await blocks.close().catch(() => {});
    await datastore.close().catch(() => {});
    for (const dir of [dirs.blocks, dirs.datastore]) {
      const why = await diagnoseLevel(dir, 'IPFS store', hint(dir));
      if (why !== undefined) throw why;
    }
    throw new ContentError(
      'UNAVAILABLE',
      `cannot open the IPFS store in ${join(opts.datadir, 'ipfs')}`,
      {},
      {
        cause: err,
      },
    );
  }
  // Helia's light constructor takes no host; its libp2p mixin would create
  // (and stop) one of its own. Bitswap only needs `helia.libp2p`, so the
  // node's host is lent to it here and stays owned by the node.
  const light = createHeliaLight({ blockstore: blocks, datastore });
  Object.defineProperty(light, 'libp2p', { value: opts.libp2p, enumerable: true });
  const helia = withBitswap(light as HeliaWithLibp2p, BITSWAP_LIMITS);
  try {
    await helia.start();
  } catch (err) {
    await helia.stop().catch(() => {});
    await blocks.close().catch(() => {});
    await datastore.close().catch(() => {});
    // Helia reads its datastore as it starts: a damaged one shows here first.
    const reason = String((err as Error)?.message ?? err).split('\n')[0];
    const dir = join(opts.datadir, 'ipfs');
    throw new ContentError(
      'UNAVAILABLE',
      `cannot start the embedded IPFS node (${reason}): ${hint(dir)}`,
      {},
      { cause: err },
    );
  }
  return new HeliaContentStore(
    helia,
    blocks,
    datastore,
    opts.logger,
    opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    join(opts.datadir, 'ipfs'),
    opts.clock ?? Date.now,
  );
}

export class HeliaContentStore implements ContentStore {
  readonly kind = 'helia' as const;
  readonly #helia: Helia;
  readonly #blocks: LevelBlockstore;
  readonly #datastore: LevelDatastore;
  readonly #log: Logger | undefined;
  readonly #timeoutMs: number;
  readonly #closing = new AbortController();
  readonly #dir: string;
  readonly #clock: () => number;
  #closed: Promise<void> | undefined;
  /** Writes that end in a pin, in flight: gc waits for them, so it never deletes a block about to be pinned. */
  #writes = 0;
  #drained?: PromiseWithResolvers<void>;
  #collecting?: Promise<GcResult>;

  constructor(
    helia: Helia,
    blocks: LevelBlockstore,
    datastore: LevelDatastore,
    log: Logger | undefined,
    timeoutMs: number,
    dir: string,
    clock: () => number,
  ) {
    this.#helia = helia;
    this.#blocks = blocks;
    this.#datastore = datastore;
    this.#log = log;
    this.#timeoutMs = timeoutMs;
    this.#dir = dir;
    this.#clock = clock;
  }

  /** Runs a write that pins outside any gc, and holds gc off until it is done. */
  async #write<T>(op: () => Promise<T>): Promise<T> {
    while (this.#collecting) await this.#collecting.catch(() => undefined);
    this.#writes++;
    try {
      return await op();
    } finally {
      if (--this.#writes === 0) this.#drained?.resolve();
    }
  }

  put(bytes: Uint8Array, opts: PutOptions = {}): Promise<CID> {
    return opts.pin ? this.#write(() => this.#put(bytes, opts)) : this.#put(bytes, opts);
  }

  async #put(bytes: Uint8Array, opts: PutOptions): Promise<CID> {
    if (bytes.length > MAX_BLOCK_BYTES) throw tooLarge(undefined, bytes.length, MAX_BLOCK_BYTES);
    const cid = cidOf(bytes);
    const d = new Deadline(this.#closing.signal, opts, undefined);
    d.check(cid);
    try {
      await this.#helia.blockstore.put(cid, bytes, { signal: d.signal });
    } catch (err) {
      throw d.explain(err, cid, (e) => failed('store', cid, e));
    }
    if (opts.pin) await this.#pin(cid, opts);
    return cid;
  }

  async get(cid: CID, opts: GetOptions = {}): Promise<Uint8Array> {
    const c = checkCid(cid);
    const limit = byteLimit(opts.maxBytes);
    const d = new Deadline(this.#closing.signal, opts, opts.timeoutMs ?? this.#timeoutMs);
    d.check(c);
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      // Helia checks the hash of blocks that arrive over bitswap (and drops
      // bad ones); it does not check what its own store returns.
      for await (const chunk of this.#helia.blockstore.get(c, {
        signal: d.signal,
        offline: opts.offline === true,
        providers: opts.providers,
      })) {
        size += chunk.length;
        if (size > limit) throw tooLarge(c, size, limit);
        chunks.push(chunk);
      }
    } catch (err) {
      throw d.explain(err, c, (e) => {
        const name = (e as Error | undefined)?.name;
        if (name === 'BlockNotFoundWhileOfflineError' || name === 'NotFoundError') {
          return new ContentError('NOT_FOUND', `${c} is not in this node's store`, { cid: c.toString() }, { cause: e });
        }
        return failed('read', c, e);
      });
    }
    // A plain Uint8Array view, whatever the store hands out (level gives Buffers).
    const joined = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const bytes = new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
    try {
      verifyCid(c, bytes);
    } catch (err) {
      // A corrupt copy on disk: drop it so the next get fetches a good one
      // from peers instead of failing forever (its pin record stays).
      this.#log?.warn({ cid: c.toString() }, 'dropping a stored IPFS block whose bytes do not match its CID');
      await this.#blocks.delete(c).catch(() => {});
      throw err;
    }
    return bytes;
  }

  pin(cid: CID, opts: FetchOptions = {}): Promise<void> {
    return this.#write(() => this.#pin(cid, opts));
  }

  async #pin(cid: CID, opts: FetchOptions): Promise<void> {
    const c = checkCid(cid);
    // Fetch (and verify) first, under the deadline: Helia's pin would
    // otherwise wait for a missing block without limit.
    await this.get(c, opts);
    const d = new Deadline(this.#closing.signal, opts, undefined);
    try {
      if (await this.#helia.pins.isPinned(c, { signal: d.signal })) return;
      const metadata = { pinnedAt: this.#clock() };
      for await (const _ of this.#helia.pins.add(c, { signal: d.signal, depth: 0, metadata })) {
        // pins.add yields each block it pins; a raw block has no children.
      }
    } catch (err) {
      // Two concurrent pins of one CID: the second finds it pinned.
      if ((err as Error | undefined)?.name === 'AlreadyPinnedError') return;
      throw d.explain(err, c, (e) => failed('pin', c, e));
    }
  }

  async isPinned(cid: CID, opts: AbortOptions = {}): Promise<boolean> {
    const c = checkCid(cid);
    const d = new Deadline(this.#closing.signal, opts, undefined);
    d.check(c);
    try {
      return await this.#helia.pins.isPinned(c, { signal: d.signal });
    } catch (err) {
      throw d.explain(err, c, (e) => failed('read pins of', c, e));
    }
  }

  async has(cid: CID, opts: AbortOptions = {}): Promise<boolean> {
    const c = checkCid(cid);
    const d = new Deadline(this.#closing.signal, opts, undefined);
    d.check(c);
    try {
      return await this.#helia.blockstore.has(c, { signal: d.signal });
    } catch (err) {
      throw d.explain(err, c, (e) => failed('read', c, e));
    }
  }

  async usage(): Promise<ContentUsage> {
    new Deadline(this.#closing.signal, {}, undefined).check();
    let blocks = 0;
    let pins = 0;
    for await (const _ of this.#blocks.db.keys()) blocks++;
    for await (const _ of this.#helia.pins.ls()) pins++;
    return { diskBytes: await dirBytes(this.#dir), blocks, pins };
  }

  gc(opts: GcOptions): Promise<GcResult> {
    this.#collecting ??= this.#gc(opts).finally(() => {
      this.#collecting = undefined;
    });
    return this.#collecting;
  }

  async #gc(opts: GcOptions): Promise<GcResult> {
    const d = new Deadline(this.#closing.signal, opts, undefined);
    d.check();
    if (this.#writes > 0) {
      this.#drained = Promise.withResolvers();
      await this.#drained.promise;
    }
    let unpinned = 0;
    let deleted = 0;
    let freedBytes = 0;
    let keptBytes = 0;
    try {
      const drop: CID[] = [];
      for await (const pin of this.#helia.pins.ls({ signal: d.signal })) {
        if (opts.keep(pin.cid)) continue;
        const at = typeof pin.metadata.pinnedAt === 'number' ? pin.metadata.pinnedAt : 0;
        if (at < opts.unpinBefore) drop.push(pin.cid);
      }
      for (const cid of drop) {
        for await (const _ of this.#helia.pins.rm(cid, { signal: d.signal })) {
          // rm yields each block it unpins; a raw block has no children.
        }
        unpinned++;
      }
      // Helia's own gc, but counting the bytes it frees, under the lock that keeps
      // bitswap from writing a block while it is judged.
      const lock = (this.#helia.blockstore as unknown as { lock?: { writeLock(): Promise<() => void> } }).lock;
      const release = await lock?.writeLock();
      try {
        const doomed: CID[] = [];
        for await (const { cid, bytes } of this.#blocks.getAll({ signal: d.signal })) {
          let size = 0;
          for await (const chunk of bytes) size += chunk.length;
          if (await this.#helia.pins.isPinned(cid, { signal: d.signal })) {
            keptBytes += size;
          } else {
            doomed.push(cid);
            freedBytes += size;
          }
        }
        for (const cid of doomed) await this.#blocks.delete(cid, { signal: d.signal });
        deleted = doomed.length;
      } finally {
        release?.();
      }
      // LevelDB gives the space back as it compacts; this starts it.
      const db = this.#blocks.db as unknown as { compactRange?(start: string, end: string): Promise<void> };
      if (deleted > 0) await db.compactRange?.('\x00', '\uffff');
    } catch (err) {
      throw d.explain(err, undefined, (e) => failed('collect garbage in', undefined, e));
    }
    this.#log?.info({ unpinned, deleted, freedBytes, keptBytes }, 'IPFS garbage collected');
    return { unpinned, deleted, freedBytes, keptBytes };
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      // Unregisters bitswap from the host; the host itself keeps running.
      await this.#helia.stop();
      await this.#blocks.close();
      await this.#datastore.close();
    })();
    return this.#closed;
  }
}

function failed(what: string, cid: CID | undefined, err: unknown): ContentError {
  return new ContentError(
    'UNAVAILABLE',
    `cannot ${what} ${cid ?? 'the IPFS store'}: ${(err as Error | undefined)?.message ?? String(err)}`,
    { cid: cid?.toString() },
    { cause: err },
  );
}

/** Bytes of the files under `dir`: what the store takes on disk. */
async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
