import type { Multiaddr } from '@multiformats/multiaddr';
import type { CID } from 'multiformats/cid';
import { ContentError } from './errors.ts';

/**
 * Largest content this node stores or fetches: one raw block. Kubo refuses
 * blocks over 1 MiB by default (`block put` without --allow-big-block), and a
 * block must cross bitswap whole, so 1 MiB works with every IPFS peer.
 */
export const MAX_BLOCK_BYTES = 1024 * 1024;

/** How long a get or pin waits for a peer to send the block, unless told otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface AbortOptions {
  signal?: AbortSignal;
}

export interface FetchOptions extends AbortOptions {
  /** Give up with TIMEOUT after this long (default DEFAULT_TIMEOUT_MS). */
  timeoutMs?: number;
}

export interface GetOptions extends FetchOptions {
  /** Refuse with TOO_LARGE content larger than this (default and ceiling MAX_BLOCK_BYTES). */
  maxBytes?: number;
  /** Look only in this node's own store: NOT_FOUND instead of asking peers. */
  offline?: boolean;
  /**
   * Peers known to hold the content (multiaddrs ending in /p2p/<peer id>),
   * dialled before asking everyone connected. Used by Helia; a Kubo daemon
   * finds providers itself and ignores this.
   */
  providers?: Multiaddr[];
}

export interface PutOptions extends AbortOptions {
  /** Pin it too, so it survives garbage collection (the authority pins every batch it pays). */
  pin?: boolean;
}

/**
 * The node's IPFS layer. Content is one raw block addressed by its CIDv1
 * (raw, sha2-256, see cid.ts); every method refuses other CIDs with BAD_CID.
 * Every failure is a ContentError.
 */
export interface ContentStore {
  readonly kind: 'helia' | 'kubo';
  /** Stores `bytes` (at most MAX_BLOCK_BYTES) and returns their CID, equal to cidOf(bytes). */
  put(bytes: Uint8Array, opts?: PutOptions): Promise<CID>;
  /**
   * The bytes of `cid`, from this node's store or from peers. The bytes are
   * hashed before they are returned: bytes that do not match are refused
   * with CID_MISMATCH, whatever their source.
   */
  get(cid: CID, opts?: GetOptions): Promise<Uint8Array>;
  /** Keeps `cid` for good, fetching it first if it is not here yet. Pinning twice is harmless. */
  pin(cid: CID, opts?: FetchOptions): Promise<void>;
  isPinned(cid: CID, opts?: AbortOptions): Promise<boolean>;
  /** Whether the block is in this node's own store (never asks peers). */
  has(cid: CID, opts?: AbortOptions): Promise<boolean>;
  /**
   * Disk the store takes and what it holds. Absent for Kubo, whose daemon
   * manages its own storage (`ipfs repo stat`, `Datastore.StorageMax`).
   */
  usage?(): Promise<ContentUsage>;
  /**
   * Frees space: unpins what `keep` refuses and was pinned before
   * `unpinBefore` (ms), then deletes every block that is not pinned. A pin
   * that `keep` accepts is never touched. Absent for Kubo (`ipfs repo gc`).
   */
  gc?(opts: GcOptions): Promise<GcResult>;
  /** Stops serving and releases the store; later calls fail with CLOSED. Idempotent. */
  close(): Promise<void>;
}

export interface ContentUsage {
  /**
   * Bytes of the store's files, blocks and pin records together. It lags
   * behind a gc: the database gives space back as it compacts.
   */
  diskBytes: number;
  blocks: number;
  pins: number;
}

export interface GcOptions extends AbortOptions {
  /** Pins that must stay, by CID. */
  keep(cid: CID): boolean;
  /** Pins made at or after this time (ms) stay too: a batch may be pinned before it is paid. */
  unpinBefore: number;
}

export interface GcResult {
  unpinned: number;
  /** Blocks deleted, and their bytes. */
  deleted: number;
  freedBytes: number;
  /** Bytes of the blocks left, all pinned. */
  keptBytes: number;
}

/** The byte limit of one get: the caller's, never above MAX_BLOCK_BYTES. */
export function byteLimit(maxBytes: number | undefined): number {
  if (maxBytes === undefined) return MAX_BLOCK_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes must be a non-negative integer`);
  return Math.min(maxBytes, MAX_BLOCK_BYTES);
}

export function tooLarge(cid: CID | undefined, size: number, limit: number): ContentError {
  return new ContentError('TOO_LARGE', `content of ${size} bytes or more exceeds the limit of ${limit}`, {
    cid: cid?.toString(),
    size,
    limit,
  });
}

/**
 * One signal for an operation that ends on the caller's signal, on its
 * deadline, or when the store closes, and that turns whichever fired into
 * the matching ContentError (ABORTED, TIMEOUT or CLOSED).
 */
export class Deadline {
  readonly signal: AbortSignal;
  readonly #caller: AbortSignal | undefined;
  readonly #timer: AbortSignal | undefined;
  readonly #closing: AbortSignal;
  readonly #timeoutMs: number | undefined;

  constructor(closing: AbortSignal, opts: FetchOptions, timeoutMs: number | undefined) {
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new RangeError('timeoutMs must be a positive number');
    }
    this.#caller = opts.signal;
    this.#closing = closing;
    this.#timeoutMs = timeoutMs;
    this.#timer = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    const signals = [closing];
    if (this.#caller) signals.push(this.#caller);
    if (this.#timer) signals.push(this.#timer);
    this.signal = AbortSignal.any(signals);
  }

  /** Throws at once if the operation is already over. */
  check(cid?: CID): void {
    const err = this.#reason(cid);
    if (err) throw err;
  }

  /** The error to report for `err`: the abort reason if the signal fired, else `err` mapped by `other`. */
  explain(err: unknown, cid: CID | undefined, other: (err: unknown) => ContentError): ContentError {
    if (err instanceof ContentError) return err;
    return this.#reason(cid, err) ?? other(err);
  }

  #reason(cid: CID | undefined, cause?: unknown): ContentError | undefined {
    const meta = { cid: cid?.toString() };
    if (this.#closing.aborted) return new ContentError('CLOSED', 'the content store was closed', meta, { cause });
    if (this.#caller?.aborted) return new ContentError('ABORTED', 'aborted by the caller', meta, { cause });
    if (this.#timer?.aborted) {
      return new ContentError(
        'TIMEOUT',
        `${cid?.toString() ?? 'content operation'}: no answer within ${this.#timeoutMs} ms`,
        { ...meta, timeoutMs: this.#timeoutMs },
        { cause },
      );
    }
    return undefined;
  }
}
