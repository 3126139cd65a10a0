import { EventEmitter } from 'node:events';
import type { Address } from './address.ts';
import type { Block } from './block.ts';
import {
  type CheckDeps,
  checkHeader,
  earliestChildTime,
  startBlockCheck,
  VerifiedTxCache,
  verifyHeaderContext,
} from './checks.ts';
import {
  difficultyFloor,
  nextDifficulty,
  problemsOpenedAtMost,
  targetFromDifficulty,
  workFromTarget,
} from './difficulty.ts';
import { equalBytes, toHex } from './encoding.ts';
import { ValidationError, ZiError } from './errors.ts';
import { genesisBlock } from './genesis.ts';
import { type Hash, warnIfSlowHashing } from './hash.ts';
import { HeaderIndex, ROW_BYTES } from './header-index.ts';
import type { BlockIndexer } from './indexer.ts';
import { applyBlock, txBody } from './ledger.ts';
import type { NetworkParams } from './params.ts';
import { SignatureVerifier } from './sig-verifier.ts';
import { StateOverlay, type StateReader } from './state.ts';
import {
  ChainDB,
  type ChainEntry,
  type ConnectRecord,
  type PreparedBatch,
  STATUS_CONNECTED,
  STATUS_HAS_BODY,
  STATUS_INVALID,
  StoreError,
} from './store/chaindb.ts';
import { dbKey, INDEX_MARKER, STATE_OPEN_PROBLEMS, u32be } from './store/layout.ts';
import { reindexHint } from './store/open.ts';
import type { TxContext, TxRulesRegistry } from './tx-rules.ts';

export type { ChainEntry };

/** Main-chain blocks whose body and undo data are read back at every start. */
const CHECK_BLOCKS = 6;

/** A block whose parent we do not have: the caller fetches ancestors. */
export class OrphanBlockError extends ZiError<'UNKNOWN_PARENT', { parent: string; hash: string }> {}

/**
 * An unrequested block whose chain would not have more work than the tip:
 * not stored (Bitcoin Core's AcceptBlock does the same), so low-work side
 * chains cost their sender, not our disk. NOT_AHEAD is within RACE_BLOCKS of
 * our tip's work (two miners racing: nobody's fault); LOW_WORK is further
 * behind (a branch its relayer no longer calls its best). `work` is the
 * chainwork of the chain the block ends.
 */
export class LowWorkBlockError extends ZiError<
  'LOW_WORK' | 'NOT_AHEAD',
  { hash: string; height: number; work: bigint }
> {}

/** How many of our newest blocks' work a competing chain may trail by and still be a race. */
export const RACE_BLOCKS = 6;

export interface AddOptions {
  /**
   * We asked for this block (sync, on a header chain with more work than the
   * tip): stored even as a side block. Default true; gossip and held blocks
   * pass false, and are then stored only if they make a chain with more work.
   */
  requested?: boolean;
}

export interface ChainOptions {
  path: string;
  params: NetworkParams;
  rules: TxRulesRegistry;
  /** Milliseconds since the epoch; injected so tests can mine history fast. */
  clock?: () => number;
  /** Extra threads for block signature checks (default: all cores but one). */
  verifyThreads?: number;
  /** Open a store whose reindex is under way (reindex.ts only). */
  reindexing?: boolean;
  /** Read every state record back through its seal before the chain opens (`zi node --check-state`). */
  checkState?: boolean;
  /**
   * Read-side indexes written in each block's batch (chain/indexer.ts). One
   * runs only on a store it has indexed since genesis (its marker says so);
   * on an older store it waits for `zi node --reindex` (see `indexing`).
   */
  indexers?: readonly BlockIndexer[];
}

export interface TipChange {
  tip: ChainEntry;
  /** Blocks taken off the main chain, tip first. */
  disconnected: Block[];
  /** Blocks put on the main chain, in height order. */
  connected: Block[];
}

/** A block applied to an overlay of the tip's state, not yet committed (chain.ts only). */
interface PreparedConnect {
  /** The tip it was applied on: committed only while that is still the tip. */
  parent: Hash;
  openProblems: number;
  batch: PreparedBatch;
}

export type AddResult = 'connected' | 'reorganized' | 'side' | 'duplicate';

export interface ChainEvents {
  tip: [TipChange];
  block: [Block, ChainEntry];
}

/**
 * Block index, fork choice and the main chain's state. All headers are kept
 * in memory (as Bitcoin Core does), as rows of a HeaderIndex; bodies, undo
 * data and state live in the store. Every mutation runs under one lock, so
 * blocks are processed one at a time in arrival order, which is what "ties
 * go to the first seen" needs.
 */
export class Chain extends EventEmitter<ChainEvents> {
  readonly params: NetworkParams;
  readonly rules: TxRulesRegistry;
  readonly genesis: Block;
  readonly verified = new VerifiedTxCache();
  readonly verifier: SignatureVerifier;
  private readonly clock: () => number;
  private index!: HeaderIndex;
  /** Set once the index is whole: only then may close() save it. */
  private loaded = false;
  private readonly checkState: boolean;
  private lock: Promise<unknown> = Promise.resolve();
  #tip!: ChainEntry;
  /** The indexers whose index is whole on this store, so kept up to date. */
  private readonly indexers: BlockIndexer[] = [];
  private readonly wanted: readonly BlockIndexer[];

  readonly store: ChainDB;

  private constructor(store: ChainDB, opts: ChainOptions, genesis: Block) {
    super();
    this.store = store;
    this.params = opts.params;
    this.rules = opts.rules;
    this.genesis = genesis;
    this.clock = opts.clock ?? Date.now;
    this.verifier = new SignatureVerifier(opts.verifyThreads);
    warnIfSlowHashing();
    this.wanted = opts.indexers ?? [];
    this.checkState = opts.checkState ?? false;
  }

  static async open(opts: ChainOptions): Promise<Chain> {
    const genesis = genesisBlock(opts.params);
    const store = await ChainDB.open(opts.path, genesis, opts.params, { reindexing: opts.reindexing });
    const chain = new Chain(store, opts, genesis);
    try {
      await chain.load();
    } catch (err) {
      await chain.close();
      throw err;
    }
    return chain;
  }

  private async load(): Promise<void> {
    const tip = await this.store.tipHash();
    // A clean close left the index in chunks of rows, read in one go each; otherwise
    // (the first start, or after a crash) every stored entry is read, a thousand at a time.
    const snapshot = await this.store.headerSnapshot();
    const index = new HeaderIndex((what) => this.damaged(what), (snapshot ?? 0) + 1024);
    if (snapshot !== undefined) {
      for await (const [chunk, rows] of this.store.headerChunks()) index.putChunk(chunk, rows);
      if (index.size !== snapshot) {
        throw this.damaged(`the block index snapshot holds ${index.size} entries, not ${snapshot}`);
      }
    } else {
      for await (const batch of this.store.entryRecords()) {
        for (const [hash, value] of batch) index.putRecord(hash, value);
      }
      index.markAllChanged();
    }
    await this.store.forgetHeaderSnapshot();
    this.index = index;
    this.#tip = index.linkMain(tip);
    await this.loadIndexers();
    await this.replay();
    if (this.checkState) await this.store.verifyState();
    // As Bitcoin Core's -checkblocks=6: the newest blocks and their undo data are read back at start.
    // The state is not read in full (that is --check-state): its values are checked as they are read.
    const top = this.#tip.height;
    for (let h = top; h > Math.max(0, top - CHECK_BLOCKS); h--) {
      const e = this.entryAtHeight(h)!;
      if ((await this.store.getBlockBytes(e.hash)) === undefined) throw this.damaged(`block ${h} has no body`);
      if (!(await this.store.hasUndo(e.hash))) throw this.damaged(`block ${h} has no undo data`);
    }
    this.loaded = true;
  }

  /**
   * A clean close leaves the index as a snapshot the next start reads in
   * chunks (layout.ts). The chunks this run touched take their rows from the
   * store's own entries, so the snapshot is what a scan of them would give,
   * even if a write failed after the index had changed; an entry the store
   * lacks leaves no snapshot, and the next start reads the entries.
   */
  private async saveIndex(): Promise<void> {
    const ix = this.index;
    const changed = ix.changedChunks();
    const members = ix.chunkMembers(changed.map((c) => c.chunk));
    const chunks: [number, Uint8Array][] = [];
    for (const { chunk, fromStore } of changed) {
      const positions = members.get(chunk)!;
      const rows = new Uint8Array(positions.length * ROW_BYTES);
      for (const [i, pos] of positions.entries()) {
        rows.set(ix.rowAt(pos), i * ROW_BYTES);
        if (!fromStore) continue;
        const value = this.store.entryRecordSync(ix.hashAt(pos));
        if (value === undefined) return;
        rows.set(value, i * ROW_BYTES + 32);
      }
      chunks.push([chunk, rows]);
    }
    await this.store.saveHeaderSnapshot(chunks, ix.size, await this.store.tipHash());
    ix.saved();
  }

  /**
   * The store writes connected blocks' changes a moment after connecting
   * them (store/pending.ts), so after a crash its tip can be a few blocks
   * behind blocks it has stored: they are connected again here, as Bitcoin
   * Core replays blocks after its coins cache was lost. A block that fails
   * now is marked invalid, as it would have been then.
   */
  private async replay(): Promise<void> {
    const best = this.bestCandidate(this.#tip);
    if (best === this.#tip) return;
    try {
      await this.reorganize(best);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
    }
  }

  /** A store at genesis starts each index; one with blocks keeps those it has kept from genesis at this version. */
  private async loadIndexers(): Promise<void> {
    // An index this run does not keep stops being whole: its marker goes, so a later run that wants it
    // rebuilds it (--reindex) rather than trusting an index that missed blocks.
    const names = new Set(this.wanted.map((ix) => ix.name));
    for await (const [key] of this.store.indexEntries(new Uint8Array([INDEX_MARKER]))) {
      if (!names.has(new TextDecoder().decode(key.subarray(1)))) await this.store.dropIndex(key);
    }
    for (const ix of this.wanted) {
      const key = dbKey(INDEX_MARKER, new TextEncoder().encode(ix.name));
      const marker = this.store.index.get(key);
      if (marker === undefined && this.#tip.height === 0) await this.store.putIndex(key, u32be(ix.version));
      else if (marker === undefined || new DataView(marker.buffer, marker.byteOffset).getUint32(0) !== ix.version) {
        continue;
      }
      this.indexers.push(ix);
    }
  }

  /** Whether an indexer keeps its index on this store (false: it needs `zi node --reindex` first). */
  indexing(name: string): boolean {
    return this.indexers.some((ix) => ix.name === name);
  }

  private damaged(what: string): StoreError {
    const dir = this.store.path;
    return new StoreError('DB_CORRUPT', `chain database ${dir} is damaged: ${what}; ${reindexHint(dir)}`, {
      file: dir,
    });
  }

  close(): Promise<void> {
    return this.exclusive(async () => {
      await this.verifier.close();
      try {
        if (this.loaded) await this.saveIndex();
      } finally {
        this.loaded = false;
        await this.store.close();
      }
    });
  }

  get tip(): ChainEntry {
    return this.#tip;
  }

  get height(): number {
    return this.#tip.height;
  }

  get genesisHash(): Hash {
    return this.genesis.hash();
  }

  /** The ledger state at the tip. */
  get state(): StateReader {
    return this.store;
  }

  get checkDeps(): CheckDeps {
    return {
      params: this.params,
      rules: this.rules,
      genesis: this.genesisHash,
      cache: this.verified,
      verifier: this.verifier,
    };
  }

  entry(hash: Hash): ChainEntry | undefined {
    return this.index.get(hash);
  }

  entryAtHeight(height: number): ChainEntry | undefined {
    return this.index.atHeight(height);
  }

  isMain(entry: ChainEntry): boolean {
    return this.index.isMain(entry);
  }

  /** A stored block; one whose entry says it is stored but that is not there is damage (DB_CORRUPT). */
  async getBlock(hash: Hash): Promise<Block | undefined> {
    const block = await this.store.getBlock(hash, this.params);
    const entry = this.entry(hash);
    if (block === undefined && entry && entry.status & STATUS_HAS_BODY) {
      throw this.damaged(`the body of block ${entry.height} (${toHex(hash)}) is missing`);
    }
    return block;
  }

  openProblems(state: StateReader = this.state): number {
    const raw = state.get(new Uint8Array([STATE_OPEN_PROBLEMS]));
    return raw === undefined ? 0 : new DataView(raw.buffer, raw.byteOffset).getUint32(0);
  }

  /** The difficulty a child of `parent` must carry. */
  difficultyAfter(parent: ChainEntry): number {
    return nextDifficulty(this.params, parent.height, parent.openProblems);
  }

  /**
   * The lowest difficulty a child of `parent` may claim: exact once the
   * parent is connected, else the floor from its |Po| bound (difficultyFloor).
   */
  lowestDifficultyAfter(parent: ChainEntry): number {
    if (parent.status & STATUS_CONNECTED) return this.difficultyAfter(parent);
    return difficultyFloor(this.params, parent.height, parent.openProblems);
  }

  /** The refusal for a chain of `work` that would not move the tip, or undefined if it would. */
  lowWork(work: bigint, hash: string, height: number): LowWorkBlockError | undefined {
    const tip = this.#tip;
    if (work > tip.chainwork) return undefined;
    const base = this.entryAtHeight(Math.max(0, tip.height - RACE_BLOCKS))!;
    const code = work >= base.chainwork ? 'NOT_AHEAD' : 'LOW_WORK';
    return new LowWorkBlockError(code, `block ${hash} would not make a chain with more work than the tip`, {
      hash,
      height,
      work,
    });
  }

  /** Context for a block built on the tip (templates, mempool checks). */
  nextContext(timestamp = this.nextTimestamp()): TxContext {
    return { params: this.params, height: this.#tip.height + 1, timestamp, position: 0, ports: this.rules.ports };
  }

  now(): number {
    return this.clock();
  }

  /** The timestamp a block built on the tip now carries: the clock, or the earliest a child may be stamped. */
  nextTimestamp(): number {
    return Math.max(this.clock(), this.earliestNext());
  }

  /** The earliest timestamp a child of the tip may carry. */
  earliestNext(): number {
    return earliestChildTime(this.#tip.header.timestamp, this.params);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /**
   * Validates and stores a block, and moves the tip if its chain has more
   * work. Throws ValidationError (the sender is at fault), OrphanBlockError
   * or FutureBlockError (nobody is at fault), or LowWorkBlockError (an
   * unrequested block that would not move the tip).
   */
  addBlock(block: Block, opts: AddOptions = {}): Promise<AddResult> {
    return this.exclusive(() => this.add(block, opts.requested ?? true));
  }

  private async add(block: Block, requested: boolean): Promise<AddResult> {
    const hash = block.hash();
    const known = this.entry(hash);
    if (known && known.status & STATUS_INVALID) {
      throw new ValidationError('KNOWN_INVALID', `block ${toHex(hash)} is known to be invalid`);
    }
    if (known && known.status & STATUS_HAS_BODY) return 'duplicate';
    const parent = this.entry(block.header.parent);
    if (parent === undefined) {
      throw new OrphanBlockError('UNKNOWN_PARENT', `parent ${toHex(block.header.parent)} is unknown`, {
        parent: toHex(block.header.parent),
        hash: toHex(hash),
      });
    }
    if (parent.status & STATUS_INVALID) {
      await this.markInvalid(block, parent.chainwork);
      throw new ValidationError('INVALID_PARENT', 'block builds on an invalid block');
    }
    // Everything that costs one hash or less comes before the signatures.
    checkHeader(block.header, this.params);
    const floor = this.lowestDifficultyAfter(parent);
    if (block.header.difficulty < floor) {
      throw new ValidationError(
        'DIFFICULTY_TOO_LOW',
        `difficulty ${block.header.difficulty} is below the lowest ${floor} its parent's chain allows`,
      );
    }
    verifyHeaderContext(
      block.header,
      {
        parentHeight: parent.height,
        parentTimestamp: parent.header.timestamp,
        // Only known once the parent has been connected; otherwise checked at connect.
        expectedDifficulty: parent.status & STATUS_CONNECTED ? this.difficultyAfter(parent) : block.header.difficulty,
        now: this.clock(),
      },
      this.params,
    );
    const chainwork = parent.chainwork + workFromTarget(targetFromDifficulty(block.header.difficulty));
    if (!requested) {
      const low = this.lowWork(chainwork, toHex(hash), block.header.height);
      if (low) throw low;
    }
    const entry: ChainEntry = {
      hash,
      header: block.header,
      height: block.header.height,
      chainwork,
      status: STATUS_HAS_BODY,
      // An upper bound until connected (see ChainEntry.openProblems).
      openProblems: parent.openProblems + problemsOpenedAtMost(block.txs),
    };
    const check = startBlockCheck(block, this.checkDeps);
    // While its signatures are verified, a block on the tip is applied (as Bitcoin Core's
    // check queue runs during ConnectBlock); what it would change is kept only once they pass.
    const onTip = chainwork > this.#tip.chainwork && equalBytes(block.header.parent, this.#tip.hash);
    const prepared = onTip ? this.tryPrepare(block, entry) : undefined;
    // Nothing of a refused block is kept.
    await check.finish();
    // Body and entry in one write: accepted from here on, a crash or not.
    await this.store.saveBlock(block, entry);
    this.index.add(entry);
    this.emit('block', block, entry);
    if (entry.chainwork <= this.#tip.chainwork) return 'side';
    const reorg = toHex(block.header.parent) !== toHex(this.#tip.hash);
    await this.reorganize(entry, block, prepared);
    return reorg ? 'reorganized' : 'connected';
  }

  private async markInvalid(block: Block, parentWork: bigint): Promise<void> {
    const entry: ChainEntry = {
      hash: block.hash(),
      header: block.header,
      height: block.header.height,
      chainwork: parentWork,
      status: STATUS_INVALID,
      openProblems: 0,
    };
    this.index.add(entry);
    await this.store.putEntry(entry);
  }

  /** The last common block of the main chain and `entry`'s chain. */
  findFork(entry: ChainEntry): ChainEntry {
    let e: ChainEntry = entry;
    while (!this.isMain(e)) {
      const parent = this.entry(e.header.parent);
      if (parent === undefined) throw this.damaged('a side chain has a gap in the block index');
      e = parent;
    }
    return e;
  }

  /** Find the fork, disconnect down to it, connect up to the new tip. */
  private async reorganize(target: ChainEntry, targetBlock?: Block, prepared?: PreparedConnect): Promise<void> {
    const previous = this.#tip;
    const fork = this.findFork(target);
    const path: ChainEntry[] = [];
    for (let e = target; e.height > fork.height; e = this.entry(e.header.parent)!) path.push(e);
    path.reverse();

    const disconnected: Block[] = [];
    while (this.#tip.height > fork.height) disconnected.push(await this.disconnectTip());

    const connected: Block[] = [];
    for (const e of path) {
      const block = e === target && targetBlock ? targetBlock : await this.getBlock(e.hash);
      if (block === undefined) throw this.damaged(`block body ${toHex(e.hash)} is missing`);
      try {
        await this.connectTip(block, e, e === target ? prepared : undefined);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        await this.invalidate(e);
        this.emitTip(disconnected, connected);
        // Back to the valid chain with the most work; on a tie, the one we left (seen first).
        const best = this.bestCandidate(previous);
        if (best !== this.#tip && best.chainwork >= this.#tip.chainwork) await this.reorganize(best);
        throw err;
      }
      connected.push(block);
    }
    this.emitTip(disconnected, connected);
  }

  private emitTip(disconnected: Block[], connected: Block[]): void {
    if (disconnected.length === 0 && connected.length === 0) return;
    this.emit('tip', { tip: this.#tip, disconnected, connected });
  }

  private async invalidate(bad: ChainEntry): Promise<void> {
    for (const e of this.index.validFrom(bad.height)) {
      let a: ChainEntry | undefined = e;
      while (a && a.height > bad.height) a = this.entry(a.header.parent);
      if (a && toHex(a.hash) === toHex(bad.hash)) {
        e.status |= STATUS_INVALID;
        await this.store.putEntry(e);
      }
    }
  }

  private bestCandidate(start: ChainEntry): ChainEntry {
    let best = start;
    for (const e of this.index.moreWork(start.chainwork)) {
      if (e.chainwork > best.chainwork && this.hasBodies(e)) best = e;
    }
    return best;
  }

  private hasBodies(e: ChainEntry): boolean {
    for (let a: ChainEntry | undefined = e; a && !this.isMain(a); a = this.entry(a.header.parent)) {
      if (!(a.status & STATUS_HAS_BODY) || a.status & STATUS_INVALID) return false;
    }
    return true;
  }

  private record(block: Block, entry: ChainEntry, changes: ConnectRecord['changes']): ConnectRecord {
    const parties = (): Address[][] =>
      block.txs.map((tx) => this.rules.get(tx.kind).parties?.(txBody(tx, this.rules, this)) ?? []);
    return { block, entry, changes, parties };
  }

  /** What connecting `block` on the tip would change; throws ValidationError if it breaks a rule in context. */
  private prepareConnect(block: Block, entry: ChainEntry): PreparedConnect {
    const parent = this.#tip;
    verifyHeaderContext(
      block.header,
      {
        parentHeight: parent.height,
        parentTimestamp: parent.header.timestamp,
        expectedDifficulty: this.difficultyAfter(parent),
        // The clock was checked on arrival; a stored side block is not re-judged by it.
        now: Math.max(this.clock(), block.header.timestamp),
      },
      this.params,
    );
    // Stateless checks passed before the block was stored; only context remains.
    const overlay = new StateOverlay(this.store);
    applyBlock(overlay, block, this.rules, {
      params: this.params,
      height: entry.height,
      timestamp: block.header.timestamp,
      position: 0,
      ports: this.rules.ports,
    });
    const changes = overlay.changes();
    const index = new StateOverlay(this.store.index);
    for (const ix of this.indexers) {
      ix.connect(index, {
        block,
        hash: entry.hash,
        height: entry.height,
        timestamp: block.header.timestamp,
        changes,
        state: overlay,
        rules: this.rules,
        params: this.params,
      });
    }
    const openProblems = this.openProblems(overlay);
    // The entry as connecting makes it; the indexed one changes only at commit.
    const connected = { ...entry, status: entry.status | STATUS_CONNECTED, openProblems };
    const record = { ...this.record(block, connected, changes), indexChanges: index.changes() };
    return { parent: parent.hash, openProblems, batch: this.store.connectBatch(record) };
  }

  /** prepareConnect, or undefined where it fails: the block is then stored and refused as any other (connectTip). */
  private tryPrepare(block: Block, entry: ChainEntry): PreparedConnect | undefined {
    try {
      return this.prepareConnect(block, entry);
    } catch (err) {
      if (err instanceof ZiError) return undefined;
      throw err;
    }
  }

  private async connectTip(block: Block, entry: ChainEntry, prepared?: PreparedConnect): Promise<void> {
    const ready =
      prepared && equalBytes(prepared.parent, this.#tip.hash) ? prepared : this.prepareConnect(block, entry);
    entry.openProblems = ready.openProblems;
    entry.status |= STATUS_CONNECTED;
    await this.store.commit(ready.batch);
    this.#tip = this.index.setMain(entry);
  }

  private async disconnectTip(): Promise<Block> {
    const entry = this.#tip;
    if (entry.height === 0) throw this.damaged('the chain wants to disconnect genesis');
    const block = await this.getBlock(entry.hash);
    if (block === undefined) throw this.damaged(`block body ${toHex(entry.hash)} is missing`);
    await this.store.disconnect(this.record(block, entry, []));
    this.index.truncateMain(entry.height);
    this.#tip = this.entry(entry.header.parent)!;
    return block;
  }
}
