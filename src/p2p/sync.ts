import { EventEmitter } from 'node:events';
import type { Block } from '../chain/block.ts';
import { type Chain, OrphanBlockError } from '../chain/chain.ts';
import { checkHeader, earliestChildTime, FutureBlockError } from '../chain/checks.ts';
import { targetFromDifficulty, workFromTarget } from '../chain/difficulty.ts';
import { toHex } from '../chain/encoding.ts';
import { ValidationError, ZiError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import type { BlockHeader } from '../chain/header.ts';
import type { Log } from '../chain/log.ts';
import { buildLocator } from './locator.ts';
import { LIMITS } from './messages.ts';
import { PeerError } from './scoring.ts';

/** What the sync needs to know of a peer: how far its chain goes, as far as we know. */
export interface SyncPeer {
  id: string;
  height: number;
  chainwork: bigint;
}

export interface SyncOptions {
  chain: Chain;
  logger: Log;
  /** Connected peers whose status we know, banned ones left out. */
  peers(): SyncPeer[];
  fetchHeaders(peer: string, locator: Hash[], target: Hash | undefined, max: number): Promise<BlockHeader[]>;
  fetchBlocks(peer: string, hashes: Hash[]): Promise<(Block | undefined)[]>;
  misconduct(peer: string, err: unknown, what: 'response' | 'block'): void;
  /** A peer's chain (its headers checked) ends at `tip` with exactly our tip's work: a tie (Network.yieldsTie). */
  tie?(peer: string, tip: string, work: bigint): void;
  /** Block bodies downloaded ahead of the next one to connect, at most. */
  window?: number;
  /** ...and their bytes, at most. */
  maxBufferedBytes?: number;
  /** Bodies per request. */
  batch?: number;
  /** Body requests in flight per peer. */
  perPeer?: number;
  /** Headers kept ahead of the chain tip, at most, once their chain has shown more work than the tip. */
  headersAhead?: number;
  /**
   * Headers kept at most while their chain has not yet shown more work than
   * our tip (no body is fetched before it has): how deep a reorg can be.
   */
  presyncHeaders?: number;
  /** Side blocks (never on the main chain) stored from one peer's sessions, at most. */
  maxSidePerPeer?: number;
  /** How often progress is logged while a long sync runs. */
  progressMs?: number;
  /** How long a peer that claimed more work than it delivered is not followed again. */
  cooldownMs?: number;
  /** How long before bodies are asked of a peer again after a request to it failed. */
  bodyRetryMs?: number;
}

export interface SyncStatus {
  syncing: boolean;
  /** The peer whose chain we follow, while syncing. */
  peer?: string;
  height: number;
  /** The best height a peer has told us of (or a downloaded header reaches). */
  target: number;
  /** Blocks connected per second, over the last ten seconds. */
  rate: number;
  /** Seconds left at that rate, when known. */
  eta?: number;
  pendingHeaders: number;
  bufferedBlocks: number;
  bufferedBytes: number;
  /** Block bodies downloaded from each peer since the node started. */
  downloaded: Record<string, number>;
}

interface Pending {
  header: BlockHeader;
  hash: string;
  height: number;
  block?: Block;
  /** We already hold this block (it came by gossip meanwhile). */
  have?: boolean;
  /** Peer serving the body, while a request is out. */
  requested?: string;
  /** Peer that served the body. */
  from?: string;
  /** Peers that said they do not have it. */
  lacking: Set<string>;
}

interface Session {
  peer: string;
  target?: Hash;
  /** Work of the held block waiting on `target`: its chain's work is the target's plus this. */
  heldWork: bigint;
  /** That held block's hash: the tip of the peer's chain. */
  heldTip?: string;
  exhausted: boolean;
  startHeight: number;
  startedAt: number;
  /** The newest header of this session's chain seen so far (pending or already held). */
  cursor?: { hash: string; raw: Hash; height: number; timestamp: number; work: bigint };
  /**
   * The headers' chain has shown more work than our tip: only then are
   * bodies fetched (Bitcoin Core's headers pre-sync work threshold, without
   * the second pass: Zi keeps the headers, within presyncHeaders).
   */
  workShown: boolean;
  /** Blocks of this session stored as side blocks since one last moved the tip. */
  side: number;
}

/**
 * Headers-first sync. One session at a time follows one peer's chain:
 * headers come from that peer in batches located by a block locator and are
 * checked (linkage, height, proof of work, spacing) before any body is asked
 * for; bodies are then fetched in parallel from every peer that may have
 * them, within a window ahead of the tip (count and bytes bounded), and fed
 * to the chain strictly in order. Blocks that are not yet connected live
 * only here, so memory stays bounded however long the peer's chain is.
 */
export class Sync extends EventEmitter<{ synced: [SyncStatus] }> {
  private readonly opts: Required<
    Pick<
      SyncOptions,
      | 'window'
      | 'maxBufferedBytes'
      | 'batch'
      | 'perPeer'
      | 'headersAhead'
      | 'presyncHeaders'
      | 'maxSidePerPeer'
      | 'progressMs'
      | 'cooldownMs'
      | 'bodyRetryMs'
    >
  > &
    SyncOptions;
  private readonly chain: Chain;
  private session?: Session;
  private pending: Pending[] = [];
  private readonly byHash = new Map<string, Pending>();
  private bufferedBytes = 0;
  private headersInFlight = false;
  private connecting = false;
  private readonly inflight = new Map<string, number>();
  /** Ancestors to fetch: a peer sent a block whose parent we lack (`work`: that block's own). */
  private wants: { peer: string; hash: Hash; work: bigint; tip?: string }[] = [];
  /** Peers that just failed to give us their claimed chain: not followed again for a while. */
  private readonly cooldown = new Map<string, number>();
  private readonly samples: { at: number; height: number }[] = [];
  private readonly downloaded = new Map<string, number>();
  private readonly backoff = new Map<string, number>();
  /** Side blocks stored per peer that never became main: past maxSidePerPeer the peer is not followed. */
  private readonly staleSide = new Map<string, number>();
  private retryTimer?: NodeJS.Timeout;
  private progressTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(opts: SyncOptions) {
    super();
    this.opts = {
      window: 1024,
      maxBufferedBytes: 64 * 1024 * 1024,
      batch: 32,
      perPeer: 2,
      headersAhead: 2 * LIMITS.headers,
      presyncHeaders: 50 * LIMITS.headers,
      maxSidePerPeer: 1024,
      progressMs: 2000,
      cooldownMs: 10_000,
      bodyRetryMs: 1000,
      ...opts,
    };
    this.chain = opts.chain;
    this.progressTimer = setInterval(() => this.logProgress(), this.opts.progressMs);
    this.progressTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.progressTimer);
    clearTimeout(this.retryTimer);
    this.clear();
    this.session = undefined;
  }

  /** Re-evaluates everything: call when a peer's status changes or a peer comes or goes. */
  poke(): void {
    if (this.stopped) return;
    if (this.session && !this.peerIds().has(this.session.peer)) this.endSession('peer left');
    if (this.session === undefined) this.startSession();
    const s = this.session;
    if (s === undefined) return;
    if (s.exhausted && this.pending.length === 0 && !this.headersInFlight && !this.connecting) {
      this.endSession();
      this.poke();
      return;
    }
    const ahead = s.workShown ? this.opts.headersAhead : this.opts.presyncHeaders;
    if (!this.headersInFlight && !s.exhausted && this.pending.length < ahead) {
      void this.fetchHeaders(s);
    }
    this.scheduleBodies();
    void this.connectReady();
  }

  /**
   * A block from `peer` had an unknown parent: fetch its ancestors from that
   * peer. `work` is the held block's own, which counts towards its chain's;
   * `tip` is its hash.
   */
  want(peer: string, hash: Hash, work = 0n, tip?: string): void {
    const hex = toHex(hash);
    if (this.wants.some((w) => toHex(w.hash) === hex) || this.byHash.has(hex)) return;
    if (this.wants.length >= 64) this.wants.shift();
    this.wants.push({ peer, hash, work, ...(tip ? { tip } : {}) });
    this.poke();
  }

  status(): SyncStatus {
    const height = this.chain.height;
    const best = Math.max(0, ...this.opts.peers().map((p) => p.height));
    const target = Math.max(height, best, this.pending.at(-1)?.height ?? 0);
    const rate = this.rate();
    return {
      syncing: this.session !== undefined,
      ...(this.session ? { peer: this.session.peer } : {}),
      height,
      target,
      rate: Math.round(rate * 10) / 10,
      ...(rate > 0 && target > height ? { eta: Math.round((target - height) / rate) } : {}),
      pendingHeaders: this.pending.length,
      bufferedBlocks: this.pending.filter((p) => p.block).length,
      bufferedBytes: this.bufferedBytes,
      downloaded: Object.fromEntries(this.downloaded),
    };
  }

  private peerIds(): Set<string> {
    return new Set(this.opts.peers().map((p) => p.id));
  }

  private startSession(): void {
    const now = Date.now();
    const ids = this.peerIds();
    const followable = (id: string) => (this.staleSide.get(id) ?? 0) < this.opts.maxSidePerPeer;
    this.wants = this.wants.filter(
      (w) => this.chain.entry(w.hash) === undefined && ids.has(w.peer) && followable(w.peer),
    );
    const want = this.wants.shift();
    let peer = want?.peer;
    if (peer === undefined) {
      const work = this.chain.tip.chainwork;
      const best = this.opts
        .peers()
        .filter((p) => p.chainwork > work && (this.cooldown.get(p.id) ?? 0) <= now && followable(p.id))
        .sort((a, b) => (b.chainwork > a.chainwork ? 1 : b.chainwork < a.chainwork ? -1 : 0))[0];
      peer = best?.id;
    }
    if (peer === undefined) return;
    this.session = {
      peer,
      ...(want ? { target: want.hash } : {}),
      heldWork: want?.work ?? 0n,
      ...(want?.tip ? { heldTip: want.tip } : {}),
      exhausted: false,
      startHeight: this.chain.height,
      startedAt: now,
      workShown: false,
      side: 0,
    };
    this.opts.logger.debug({ peer, target: want ? toHex(want.hash) : undefined }, 'sync session started');
  }

  private endSession(reason?: string): void {
    const s = this.session;
    if (s === undefined) return;
    this.session = undefined;
    this.clear();
    if (s.side > 0) this.staleSide.set(s.peer, (this.staleSide.get(s.peer) ?? 0) + s.side);
    const peer = this.opts.peers().find((p) => p.id === s.peer);
    if (reason !== undefined || (peer && peer.chainwork > this.chain.tip.chainwork)) {
      // It claimed more work than it delivered (or went away): try others first.
      this.cooldown.set(s.peer, Date.now() + this.opts.cooldownMs);
    }
    const blocks = this.chain.height - s.startHeight;
    const seconds = (Date.now() - s.startedAt) / 1000;
    if (blocks > 1) {
      this.opts.logger.info(
        { height: this.chain.height, blocks, seconds: Math.round(seconds * 10) / 10, peer: s.peer, reason },
        'sync finished',
      );
    }
    this.emit('synced', this.status());
  }

  private clear(): void {
    this.pending = [];
    this.byHash.clear();
    this.bufferedBytes = 0;
  }

  private async fetchHeaders(s: Session): Promise<void> {
    this.headersInFlight = true;
    const locator = buildLocator(this.chain);
    if (s.cursor) locator.unshift(s.cursor.raw);
    if (locator.length > LIMITS.locator) locator.splice(LIMITS.locator - 1, locator.length - LIMITS.locator);
    let headers: BlockHeader[];
    try {
      headers = await this.opts.fetchHeaders(s.peer, locator, s.target, LIMITS.headers);
    } catch (err) {
      this.headersInFlight = false;
      if (this.session !== s) return;
      this.opts.misconduct(s.peer, err, 'response');
      this.endSession('headers request failed');
      this.retryLater();
      return;
    }
    this.headersInFlight = false;
    if (this.session !== s || this.stopped) return;
    try {
      this.acceptHeaders(s, headers);
    } catch (err) {
      this.opts.misconduct(s.peer, err, 'response');
      this.endSession(err instanceof ZiError ? err.code : 'bad headers');
    }
    this.poke();
  }

  private acceptHeaders(s: Session, headers: BlockHeader[]): void {
    if (headers.length === 0) {
      if (s.target && s.cursor === undefined && this.chain.entry(s.target) === undefined) {
        // It relayed a block it cannot give the ancestors of: it never had them.
        throw new PeerError('UNEXPECTED', 'peer cannot serve the ancestors of the block it sent');
      }
      s.exhausted = true;
      this.checkWork(s);
      return;
    }
    const { params } = this.chain;
    const first = headers[0]!;
    let prev = s.cursor;
    if (prev === undefined || toHex(first.parent) !== prev.hash) {
      // No cursor yet, or the peer's chain moved under us: start from where it connects.
      const parent = this.chain.entry(first.parent);
      if (parent === undefined) throw new PeerError('BAD_RESPONSE', 'headers do not connect to the locator');
      if (prev !== undefined) this.clear();
      prev = {
        hash: toHex(parent.hash),
        raw: parent.hash,
        height: parent.height,
        timestamp: parent.header.timestamp,
        work: parent.chainwork,
      };
    }
    const targetHex = s.target ? toHex(s.target) : undefined;
    for (const h of headers) {
      const hash = toHex(h.hash());
      if (toHex(h.parent) !== prev.hash) throw new PeerError('BAD_RESPONSE', 'headers are not a chain');
      if (h.height !== prev.height + 1) throw new ValidationError('BAD_HEIGHT', `header height ${h.height}`);
      checkHeader(h, params);
      if (h.timestamp < earliestChildTime(prev.timestamp, params)) {
        throw new ValidationError('TOO_SOON', 'header is earlier than parent + T allows');
      }
      if (h.timestamp > this.chain.now() + params.futureLimitMs) {
        // Not invalid, just early: stop here and come back when the clock has caught up.
        s.exhausted = true;
        this.retryLater(5000);
        return;
      }
      const known = this.chain.entry(h.hash());
      const work: bigint = prev.work + workFromTarget(targetFromDifficulty(h.difficulty));
      prev = { hash, raw: h.hash(), height: h.height, timestamp: h.timestamp, work };
      s.cursor = prev;
      if (work + s.heldWork > this.chain.tip.chainwork) s.workShown = true;
      if (!(known && this.pending.length === 0)) {
        const p: Pending = { header: h, hash, height: h.height, lacking: new Set(), ...(known ? { have: true } : {}) };
        this.pending.push(p);
        this.byHash.set(hash, p);
      }
      if (hash === targetHex) {
        s.exhausted = true;
        break;
      }
    }
    if (headers.length < LIMITS.headers) s.exhausted = true;
    this.checkWork(s);
  }

  /**
   * A chain whose headers end (or fill the pre-sync window) without more
   * work than our tip is not worth a body: the sender of a low-work branch
   * pays for it, as an unrequested low-work block does.
   */
  private checkWork(s: Session): void {
    if (s.workShown || (!s.exhausted && this.pending.length < this.opts.presyncHeaders)) return;
    if (s.cursor === undefined || this.pending.length === 0) return;
    const low = this.chain.lowWork(s.cursor.work + s.heldWork, s.cursor.hash, s.cursor.height);
    if (low?.meta.work === this.chain.tip.chainwork) this.opts.tie?.(s.peer, s.heldTip ?? s.cursor.hash, low.meta.work);
    if (low) throw low;
  }

  private scheduleBodies(): void {
    if (this.session === undefined || !this.session.workShown) return;
    if (this.bufferedBytes >= this.opts.maxBufferedBytes) return;
    const sessionPeer = this.session.peer;
    const todo = this.pending
      .slice(0, this.opts.window)
      .filter((p) => p.block === undefined && !p.have && p.requested === undefined);
    if (todo.length === 0) return;
    // Full batches only, unless the chain ends here: a few slots freed in the window
    // are not worth a request each (and many small ones would trip the peer's rate limit).
    const needed = this.pending.filter((p) => p.block === undefined && !p.have && p.requested === undefined).length;
    if (todo.length < Math.min(this.opts.batch, needed)) return;
    const now = Date.now();
    const peers = this.opts.peers().filter((p) => (this.backoff.get(p.id) ?? 0) <= now);
    for (const peer of peers) {
      while ((this.inflight.get(peer.id) ?? 0) < this.opts.perPeer) {
        const mine = todo
          .filter(
            (p) =>
              p.requested === undefined &&
              !p.lacking.has(peer.id) &&
              (peer.id === sessionPeer || peer.height >= p.height),
          )
          .slice(0, this.opts.batch);
        if (mine.length === 0 || mine.length < Math.min(this.opts.batch, needed, todo.length)) break;
        void this.fetchBodies(peer.id, mine);
      }
    }
  }

  private async fetchBodies(peer: string, items: Pending[]): Promise<void> {
    for (const p of items) p.requested = peer;
    this.inflight.set(peer, (this.inflight.get(peer) ?? 0) + 1);
    try {
      const blocks = await this.opts.fetchBlocks(
        peer,
        items.map((p) => p.header.hash()),
      );
      items.forEach((p, i) => {
        if (this.byHash.get(p.hash) !== p) return; // dropped meanwhile
        p.requested = undefined;
        const block = blocks[i];
        if (block !== undefined) {
          p.block = block;
          p.from = peer;
          this.bufferedBytes += block.size;
          this.downloaded.set(peer, (this.downloaded.get(peer) ?? 0) + 1);
        } else if (i < blocks.length) {
          p.lacking.add(peer);
        }
      });
      const s = this.session;
      const lied = s && s.peer === peer && blocks.some((b) => b === undefined);
      if (lied) {
        // The peer whose headers we follow must have the bodies.
        this.opts.misconduct(peer, new PeerError('UNEXPECTED', 'peer lacks a block of its own chain'), 'response');
        this.endSession('peer lacks its blocks');
      }
    } catch (err) {
      for (const p of items) if (p.requested === peer) p.requested = undefined;
      this.opts.misconduct(peer, err, 'response');
      // Ask again, from this peer too, after a pause rather than at once.
      this.backoff.set(peer, Date.now() + this.opts.bodyRetryMs);
      this.retryLater(this.opts.bodyRetryMs);
    } finally {
      this.inflight.set(peer, (this.inflight.get(peer) ?? 1) - 1);
    }
    this.poke();
  }

  private async connectReady(): Promise<void> {
    if (this.connecting) return;
    this.connecting = true;
    let progressed = false;
    try {
      while (!this.stopped) {
        const p = this.pending[0];
        if (p === undefined || (p.block === undefined && !p.have)) break;
        this.pending.shift();
        this.byHash.delete(p.hash);
        if (p.have || p.block === undefined) continue;
        this.bufferedBytes -= p.block.size;
        try {
          const result = await this.chain.addBlock(p.block);
          const s = this.session;
          if (s && result === 'side') s.side++;
          else if (s && result !== 'duplicate') s.side = 0;
          progressed = true;
          this.sample();
        } catch (err) {
          if (err instanceof FutureBlockError) {
            this.pending.unshift(p);
            this.byHash.set(p.hash, p);
            this.bufferedBytes += p.block.size;
            this.retryLater();
            break;
          }
          if (err instanceof ValidationError) {
            if (p.from !== undefined) this.opts.misconduct(p.from, err, 'block');
            if (this.session && this.session.peer !== p.from) this.opts.misconduct(this.session.peer, err, 'block');
          } else if (!(err instanceof OrphanBlockError)) {
            this.opts.logger.warn(
              { err: err instanceof ZiError ? err.toJSON() : String(err) },
              'sync: block not stored',
            );
          }
          this.endSession(err instanceof ZiError ? err.code : 'error');
          break;
        }
      }
    } finally {
      this.connecting = false;
    }
    if (progressed || (this.session?.exhausted && this.pending.length === 0)) this.poke();
  }

  private retryLater(ms = 1000): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.poke(), ms);
    this.retryTimer.unref();
  }

  private sample(): void {
    const now = Date.now();
    this.samples.push({ at: now, height: this.chain.height });
    while (this.samples.length > 2 && this.samples[0]!.at < now - 10_000) this.samples.shift();
  }

  private rate(): number {
    if (this.samples.length < 2) return 0;
    const a = this.samples[0]!;
    const b = this.samples.at(-1)!;
    if (Date.now() - b.at > 10_000 || b.at === a.at) return 0;
    return (b.height - a.height) / ((b.at - a.at) / 1000);
  }

  private logProgress(): void {
    const s = this.session;
    if (s === undefined) return;
    const st = this.status();
    if (st.target - st.height < 2) return;
    this.opts.logger.info(
      {
        height: st.height,
        target: st.target,
        done: st.height - s.startHeight,
        total: st.target - s.startHeight,
        rate: st.rate,
        eta: st.eta,
        peer: s.peer,
      },
      'sync progress',
    );
  }
}
