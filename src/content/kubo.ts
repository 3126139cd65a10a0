import { type BlockPutOptions, create, type HTTPRPCOptions, type KuboRPCClient } from 'kubo-rpc-client';
import type { CID } from 'multiformats/cid';
import type { Logger } from 'pino';
import { checkCid, cidOf, verifyCid } from './cid.ts';
import { ContentError } from './errors.ts';
import {
  type AbortOptions,
  byteLimit,
  type ContentStore,
  DEFAULT_TIMEOUT_MS,
  Deadline,
  type FetchOptions,
  type GetOptions,
  MAX_BLOCK_BYTES,
  type PutOptions,
  tooLarge,
} from './store.ts';

export interface KuboStoreOptions {
  /** The daemon's RPC API, e.g. `http://127.0.0.1:5001` (the node's --ipfs-api). */
  url: string;
  logger?: Logger;
  /** Deadline of every call to the daemon unless a get or pin names its own (DEFAULT_TIMEOUT_MS). */
  timeoutMs?: number;
  /** How long the first contact with the daemon may take before UNAVAILABLE. */
  connectTimeoutMs?: number;
}

// Kubo RPC flags the client's option types do not name; the client passes
// unknown options through as kebab-cased query parameters.
type KuboFlags = { cidCodec?: string; offline?: boolean };

/**
 * Opens the content store over a Kubo daemon's RPC API and checks that the
 * daemon answers, so a wrong --ipfs-api fails at start, not at the first
 * batch. Kubo verifies blocks it fetches from peers; this adapter verifies
 * again whatever the daemon returns.
 */
export async function openKuboStore(opts: KuboStoreOptions): Promise<KuboContentStore> {
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch (err) {
    throw new ContentError('UNAVAILABLE', `--ipfs-api ${JSON.stringify(opts.url)} is not a URL`, {}, { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ContentError('UNAVAILABLE', `--ipfs-api must be an http(s) URL, not ${url.protocol}`);
  }
  const client = create({ url });
  let version: string;
  try {
    const v = await client.version({ signal: AbortSignal.timeout(opts.connectTimeoutMs ?? 5_000) });
    version = String(v.version);
  } catch (err) {
    throw new ContentError(
      'UNAVAILABLE',
      `no Kubo RPC API answers at ${url.origin}: ${(err as Error).message}`,
      {
        url: url.origin,
      },
      { cause: err },
    );
  }
  opts.logger?.info({ url: url.origin, version }, 'using the Kubo daemon for IPFS content');
  return new KuboContentStore(client, opts.logger, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

export class KuboContentStore implements ContentStore {
  readonly kind = 'kubo' as const;
  readonly #client: KuboRPCClient;
  readonly #log: Logger | undefined;
  readonly #timeoutMs: number;
  readonly #closing = new AbortController();

  constructor(client: KuboRPCClient, log: Logger | undefined, timeoutMs: number) {
    this.#client = client;
    this.#log = log;
    this.#timeoutMs = timeoutMs;
  }

  async put(bytes: Uint8Array, opts: PutOptions = {}): Promise<CID> {
    if (bytes.length > MAX_BLOCK_BYTES) throw tooLarge(undefined, bytes.length, MAX_BLOCK_BYTES);
    const cid = cidOf(bytes);
    const d = new Deadline(this.#closing.signal, opts, this.#timeoutMs);
    d.check(cid);
    const putOpts: BlockPutOptions & KuboFlags = {
      signal: d.signal,
      cidCodec: 'raw',
      mhtype: 'sha2-256',
      pin: opts.pin === true,
    };
    let got: CID;
    try {
      got = await this.#client.block.put(bytes, putOpts);
    } catch (err) {
      throw d.explain(err, cid, (e) => kuboFailure('store', cid, e));
    }
    // A daemon that ignores cid-codec (Kubo before 0.13) would answer a
    // dag-pb CIDv0: the same bytes under a name no Zi node uses.
    if (!cid.equals(got)) {
      throw new ContentError('CID_MISMATCH', `the Kubo daemon stored the block as ${got}, expected ${cid}`, {
        cid: cid.toString(),
        actual: String(got),
      });
    }
    return cid;
  }

  async get(cid: CID, opts: GetOptions = {}): Promise<Uint8Array> {
    const c = checkCid(cid);
    const limit = byteLimit(opts.maxBytes);
    const d = new Deadline(this.#closing.signal, opts, opts.timeoutMs ?? this.#timeoutMs);
    d.check(c);
    const flags: HTTPRPCOptions & KuboFlags = { signal: d.signal, offline: opts.offline === true };
    let bytes: Uint8Array;
    try {
      // The client buffers a whole block/get response, so the size comes
      // first from block/stat (which also makes the daemon fetch the block).
      const stat = await this.#client.block.stat(c, flags);
      if (!Number.isSafeInteger(stat.size) || stat.size > limit) throw tooLarge(c, stat.size, limit);
      bytes = await this.#client.block.get(c, flags);
    } catch (err) {
      throw d.explain(err, c, (e) => kuboFailure('read', c, e));
    }
    if (bytes.length > limit) throw tooLarge(c, bytes.length, limit);
    verifyCid(c, bytes);
    return bytes;
  }

  async pin(cid: CID, opts: FetchOptions = {}): Promise<void> {
    const c = checkCid(cid);
    const d = new Deadline(this.#closing.signal, opts, opts.timeoutMs ?? this.#timeoutMs);
    d.check(c);
    try {
      // Kubo fetches a missing block itself and checks its hash; pinning a
      // pinned CID is a no-op there.
      await this.#client.pin.add(c, { signal: d.signal, recursive: true });
    } catch (err) {
      throw d.explain(err, c, (e) => kuboFailure('pin', c, e));
    }
  }

  async isPinned(cid: CID, opts: AbortOptions = {}): Promise<boolean> {
    const c = checkCid(cid);
    const d = new Deadline(this.#closing.signal, opts, this.#timeoutMs);
    d.check(c);
    try {
      for await (const pin of this.#client.pin.ls({ paths: [c], signal: d.signal })) {
        if (pin.cid.equals(c)) return true;
      }
      return false;
    } catch (err) {
      const e = d.explain(err, c, (e) => kuboFailure('read pins of', c, e));
      // Kubo answers "path '…' is not pinned" with an error.
      if (e.code === 'NOT_FOUND') return false;
      throw e;
    }
  }

  async has(cid: CID, opts: AbortOptions = {}): Promise<boolean> {
    const c = checkCid(cid);
    const d = new Deadline(this.#closing.signal, opts, this.#timeoutMs);
    d.check(c);
    try {
      const flags: HTTPRPCOptions & KuboFlags = { signal: d.signal, offline: true };
      await this.#client.block.stat(c, flags);
      return true;
    } catch (err) {
      const e = d.explain(err, c, (e) => kuboFailure('read', c, e));
      if (e.code === 'NOT_FOUND') return false;
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    this.#log?.debug('Kubo content store closed');
  }
}

/**
 * Kubo reports every failure as HTTP 500 with a message; "not found" and
 * "not pinned" are the only ones a caller acts on differently.
 */
function kuboFailure(what: string, cid: CID, err: unknown): ContentError {
  const message = (err as Error | undefined)?.message ?? String(err);
  const meta = { cid: cid.toString() };
  if ((err as Error | undefined)?.name === 'HTTPError') {
    if (/not found|could not find|is not pinned/i.test(message)) {
      return new ContentError('NOT_FOUND', `${cid}: ${message}`, meta, { cause: err });
    }
    return new ContentError('UNAVAILABLE', `the Kubo daemon could not ${what} ${cid}: ${message}`, meta, {
      cause: err,
    });
  }
  if ((err as Error | undefined)?.name === 'TimeoutError') {
    return new ContentError('TIMEOUT', `the Kubo daemon timed out on ${cid}`, meta, { cause: err });
  }
  return new ContentError('UNAVAILABLE', `cannot reach the Kubo daemon to ${what} ${cid}: ${message}`, meta, {
    cause: err,
  });
}
