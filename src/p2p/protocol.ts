import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import type { Block } from '../chain/block.ts';
import type { Chain } from '../chain/chain.ts';
import { Reader, toHex, Writer } from '../chain/encoding.ts';
import { DecodeError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import type { BlockHeader } from '../chain/header.ts';
import { STATUS_HAS_BODY, STATUS_INVALID } from '../chain/store/chaindb.ts';
import type { Transaction } from '../chain/transaction.ts';
import type { ZiLibp2p } from './host.ts';
import { headersAfter } from './locator.ts';
import {
  blockFrameMax,
  decodeBlockFrame,
  decodeHeaders,
  decodeRequest,
  decodeStatus,
  encodeBlockFrame,
  encodeHeaders,
  encodeRequest,
  encodeStatus,
  headersFrameMax,
  LIMITS,
  type Status,
  type SyncRequest,
} from './messages.ts';
import { PeerError } from './scoring.ts';
import type { WireNames } from './topics.ts';

/**
 * The sync protocol's stream plumbing: one stream per request, as
 * js-libp2p's fetch protocol does. The server answers from the chain; the
 * client gets typed values back or an error for the scoring to judge.
 */

export const TIMEOUTS = { request: 10_000, status: 10_000, headers: 20_000, blocks: 60_000 } as const;

/** Token bucket per peer: honest sync stays far below it, a flood runs dry. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;
  private readonly perSecond: number;
  constructor(burst = 200, perSecond = 100) {
    this.burst = burst;
    this.perSecond = perSecond;
  }

  take(peer: string, now = Date.now()): boolean {
    const b = this.buckets.get(peer) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    this.buckets.set(peer, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  forget(peer: string): void {
    this.buckets.delete(peer);
  }
}

export interface ServeDeps {
  chain: Chain;
  status(): Status;
  /** Throws PeerError WRONG_GENESIS for a peer of another network. */
  onStatus(peer: PeerId, status: Status, connection: Connection): void;
  allow(peer: PeerId): boolean;
  /** The status exchange with this peer is done: anything but a status request before it is out of order. */
  ready(peer: PeerId): boolean;
  /** Admits pushed transactions; returns how many were new and valid. */
  receiveTxs(peer: PeerId, txs: Transaction[]): Promise<number>;
  misconduct(peer: PeerId, err: unknown, what: 'request'): void;
}

export function syncHandler(deps: ServeDeps) {
  return async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer;
    const signal = AbortSignal.timeout(TIMEOUTS.request);
    try {
      if (!deps.allow(peer)) throw new PeerError('RATE_LIMITED', 'too many sync requests');
      const lp = lpStream(stream, { maxDataLength: LIMITS.requestBytes, maxBufferSize: 64 * 1024 });
      const req = decodeRequest((await lp.read({ signal })).subarray(), deps.chain.params.maxTxBytes);
      if (req.type !== 'status' && !deps.ready(peer)) {
        throw new PeerError('OUT_OF_ORDER', `${req.type} request before the status exchange`);
      }
      switch (req.type) {
        case 'status': {
          // Answer first: a peer of another network learns why it is refused.
          await lp.write(encodeStatus(deps.status()), { signal });
          deps.onStatus(peer, req.status, connection);
          break;
        }
        case 'getHeaders':
          await lp.write(encodeHeaders(headersAfter(deps.chain, req.locator, req.target, req.max)), { signal });
          break;
        case 'getBlocks': {
          const found = await readBlocks(deps.chain, req.hashes);
          await lp.write(new Writer(2).u16(found.length).finish(), { signal });
          for (const bytes of found) await lp.write(encodeBlockFrame(bytes), { signal });
          break;
        }
        case 'txs': {
          const accepted = await deps.receiveTxs(peer, req.txs);
          await lp.write(new Writer(2).u16(accepted).finish(), { signal });
          break;
        }
      }
      await stream.close({ signal });
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      deps.misconduct(peer, err, 'request');
    }
  };
}

/** Bodies in request order, stopping at the byte budget; undefined for what we lack. */
async function readBlocks(chain: Chain, hashes: readonly Hash[]): Promise<(Uint8Array | undefined)[]> {
  const out: (Uint8Array | undefined)[] = [];
  let bytes = 0;
  for (const h of hashes) {
    const e = chain.entry(h);
    const body =
      e && e.status & STATUS_HAS_BODY && !(e.status & STATUS_INVALID) ? await chain.store.getBlockBytes(h) : undefined;
    out.push(body);
    bytes += body?.length ?? 0;
    if (bytes >= LIMITS.blocksResponseBytes) break;
  }
  return out;
}

async function exchange<T>(
  host: ZiLibp2p,
  peer: PeerId,
  names: WireNames,
  req: SyncRequest,
  timeoutMs: number,
  maxFrame: number,
  read: (next: () => Promise<Uint8Array>) => Promise<T>,
): Promise<T> {
  const signal = AbortSignal.timeout(timeoutMs);
  const stream = await host.dialProtocol(peer, names.sync, { signal });
  try {
    const lp = lpStream(stream, { maxDataLength: maxFrame, maxBufferSize: maxFrame + 1024 });
    await lp.write(encodeRequest(req), { signal });
    const result = await read(async () => (await lp.read({ signal })).subarray());
    await stream.close({ signal });
    return result;
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}

export function requestStatus(host: ZiLibp2p, peer: PeerId, names: WireNames, ours: Status): Promise<Status> {
  return exchange(host, peer, names, { type: 'status', status: ours }, TIMEOUTS.status, 256, async (next) =>
    decodeStatus(await next()),
  );
}

export function requestHeaders(
  host: ZiLibp2p,
  peer: PeerId,
  names: WireNames,
  locator: Hash[],
  target: Hash | undefined,
  max: number,
): Promise<BlockHeader[]> {
  const req: SyncRequest = { type: 'getHeaders', locator, max, ...(target ? { target } : {}) };
  return exchange(host, peer, names, req, TIMEOUTS.headers, headersFrameMax(), async (next) =>
    decodeHeaders(await next(), max),
  );
}

/**
 * Bodies for `hashes`, in order; the answer may stop early (byte budget) and
 * holds undefined where the peer lacks a block. A body whose hash is not the
 * one asked for is the peer's lie, not bad luck.
 */
export function requestBlocks(
  host: ZiLibp2p,
  peer: PeerId,
  names: WireNames,
  params: Chain['params'],
  hashes: Hash[],
): Promise<(Block | undefined)[]> {
  return exchange(
    host,
    peer,
    names,
    { type: 'getBlocks', hashes },
    TIMEOUTS.blocks,
    blockFrameMax(params),
    async (next) => {
      const r = new Reader(await next());
      const count = r.u16('blocks.count');
      r.end('blocks.count');
      if (count === 0 || count > hashes.length) {
        throw new DecodeError('BAD_VALUE', `${count} blocks for ${hashes.length} asked`, { what: 'blocks.count' });
      }
      const out: (Block | undefined)[] = [];
      for (let i = 0; i < count; i++) {
        const block = decodeBlockFrame(await next(), params);
        if (block && toHex(block.hash()) !== toHex(hashes[i]!)) {
          throw new PeerError('BAD_RESPONSE', `block ${i} is not the one asked for`);
        }
        out.push(block);
      }
      return out;
    },
  );
}

/** Pushes transactions to one peer; resolves with how many it took. */
export function pushTxs(host: ZiLibp2p, peer: PeerId, names: WireNames, txs: Transaction[]): Promise<number> {
  return exchange(host, peer, names, { type: 'txs', txs }, TIMEOUTS.request, 16, async (next) => {
    const r = new Reader(await next());
    const n = r.u16('txs.accepted');
    r.end('txs.accepted');
    return n;
  });
}
