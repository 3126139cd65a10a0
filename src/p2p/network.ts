import { EventEmitter } from 'node:events';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Connection, PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Block } from '../chain/block.ts';
import type { Chain, ChainEntry, TipChange } from '../chain/chain.ts';
import { targetFromDifficulty, workFromTarget } from '../chain/difficulty.ts';
import { equalBytes, toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import type { Log } from '../chain/log.ts';
import type { Mempool } from '../chain/mempool.ts';
import type { Transaction } from '../chain/transaction.ts';
import { Gossip } from './gossip.ts';
import { createHost, loadPeerKey, type ZiLibp2p } from './host.ts';
import { LIMITS, type Status } from './messages.ts';
import { HeldBlocks } from './orphans.ts';
import { pushTxs, RateLimiter, requestBlocks, requestHeaders, requestStatus, syncHandler } from './protocol.ts';
import { type BanEntry, judge, PARTITION_BLOCKS, PeerBook } from './scoring.ts';
import { checkStatus, localStatus } from './status.ts';
import { Sync, type SyncOptions, type SyncStatus } from './sync.ts';
import { type WireNames, wireNames } from './topics.ts';

export class NetworkError extends ZiError<'NOT_STARTED' | 'BAD_ADDRESS' | 'DIAL_FAILED'> {}

export interface NetworkOptions {
  chain: Chain;
  mempool: Mempool;
  logger: Log;
  /** Where peer.key lives; a fresh key each start when neither this nor privateKey is given. */
  datadir?: string;
  privateKey?: PrivateKey;
  listen: string[];
  /** Peers to stay connected to (redialled when the connection drops). */
  peers?: string[];
  mdns?: boolean;
  /** Gossip topics the node's domains use besides blocks and transactions (full names). */
  topics?: string[];
  maxPeers?: number;
  banMs?: number;
  /** Each peer's status is asked again this often, so missed gossip is noticed. */
  statusIntervalMs?: number;
  inboundPerSecond?: number;
  sync?: Partial<Omit<SyncOptions, 'chain' | 'logger' | 'peers' | 'fetchHeaders' | 'fetchBlocks' | 'misconduct'>>;
}

export interface PeerInfo {
  id: string;
  address: string;
  direction: 'inbound' | 'outbound';
  connectedAt: string;
  /** False until the status exchange is done. */
  ready: boolean;
  height?: number;
  tip?: string;
  chainwork?: string;
  /** Misconduct points (BAN_SCORE bans). */
  score: number;
}

/** How long a miner holds back for a tie it lost (yieldsTie). */
const TIE_YIELD_MS = 2_000;

interface PeerState {
  id: PeerId;
  key: string;
  address: string;
  direction: 'inbound' | 'outbound';
  connectedAt: number;
  status?: Status;
  /** The last block it relayed that ends a chain with exactly our tip's work: a tie to settle (caughtUp). */
  rival?: { hash: string; work: bigint; at: number };
  statusInFlight: boolean;
  /** Our pending transactions went to it (once its chain had caught up with ours). */
  pendingSent?: boolean;
}

export interface NetworkEvents {
  'peer:ready': [PeerInfo];
  'peer:left': [string];
  banned: [BanEntry];
}

/**
 * The node's p2p service: a libp2p host, the status exchange with every
 * peer, block and transaction gossip, headers-first sync and the ban list.
 */
export class Network extends EventEmitter<NetworkEvents> {
  readonly host: ZiLibp2p;
  readonly names: WireNames;
  readonly book: PeerBook;
  private readonly opts: NetworkOptions;
  private readonly chain: Chain;
  private readonly log: Log;
  private readonly peerStates = new Map<string, PeerState>();
  private readonly limiter = new RateLimiter();
  private readonly orphans = new HeldBlocks();
  private readonly future = new HeldBlocks();
  private readonly sync: Sync;
  private readonly gossip: Gossip;
  private readonly persistent: string[];
  private timer?: NodeJS.Timeout;
  /** Our tip when a sync last ended: a later one that moved it tells the peers at once. */
  private syncedAt?: Hash;
  private heldTimer?: NodeJS.Timeout;
  private stopped = false;

  private constructor(host: ZiLibp2p, opts: NetworkOptions, book: PeerBook) {
    super();
    this.host = host;
    this.opts = opts;
    this.chain = opts.chain;
    this.log = opts.logger;
    this.book = book;
    this.names = wireNames(opts.chain.params.name);
    this.persistent = opts.peers ?? [];
    this.sync = new Sync({
      ...opts.sync,
      chain: this.chain,
      logger: this.log,
      peers: () =>
        [...this.peerStates.values()]
          .filter((p) => p.status !== undefined && !this.book.isBanned(p.key))
          .map((p) => ({ id: p.key, height: p.status!.height, chainwork: p.status!.chainwork })),
      fetchHeaders: (peer, locator, target, max) =>
        requestHeaders(this.host, peerIdFromString(peer), this.names, locator, target, max),
      fetchBlocks: (peer, hashes) =>
        requestBlocks(this.host, peerIdFromString(peer), this.names, this.chain.params, hashes),
      misconduct: (peer, err, what) => this.misconduct(peer, err, what),
      tie: (peer, tip, work) => this.tie(peer, tip, work),
    });
    this.gossip = new Gossip(host.services.pubsub, {
      chain: this.chain,
      mempool: opts.mempool,
      names: this.names,
      misconduct: (peer, err, what) => this.misconduct(peer, err, what),
      accepted: (peer, _block, _result) => {
        const entry = this.chain.entry(_block.hash());
        if (entry) this.learn(peer, entry);
      },
      held: (peer, block, why) => this.hold(peer, block, why),
      tie: (peer, tip, work) => this.tie(peer, tip, work),
      debug: (obj, msg) => this.log.debug(obj, msg),
    });
  }

  static async start(opts: NetworkOptions): Promise<Network> {
    const names = wireNames(opts.chain.params.name);
    const book = new PeerBook({ banMs: opts.banMs });
    const privateKey =
      opts.privateKey ??
      (opts.datadir !== undefined ? await loadPeerKey(opts.datadir) : await generateKeyPair('Ed25519'));
    const host = await createHost({
      params: opts.chain.params,
      names,
      privateKey,
      listen: opts.listen,
      mdns: opts.mdns ?? false,
      topics: opts.topics,
      maxConnections: opts.maxPeers ?? 64,
      inboundPerSecond: opts.inboundPerSecond ?? 10,
      isBanned: (peer) => book.isBanned(peer.toString()),
    });
    const net = new Network(host, opts, book);
    await net.begin();
    return net;
  }

  private async begin(): Promise<void> {
    const { host } = this;
    await host.handle(
      this.names.sync,
      syncHandler({
        chain: this.chain,
        status: () => localStatus(this.chain),
        onStatus: (peer, status, connection) => this.onStatus(peer, status, connection),
        allow: (peer) => !this.book.isBanned(peer.toString()) && this.limiter.take(peer.toString()),
        ready: (peer) => this.peerStates.get(peer.toString())?.status !== undefined,
        receiveTxs: (peer, txs) => this.receiveTxs(peer.toString(), txs),
        misconduct: (peer, err, what) => this.misconduct(peer.toString(), err, what),
      }),
      { maxInboundStreams: 8, maxOutboundStreams: 16 },
    );
    host.addEventListener('peer:connect', (evt) => this.onConnect(evt.detail));
    host.addEventListener('peer:disconnect', (evt) => this.onDisconnect(evt.detail));
    host.addEventListener('peer:discovery', (evt) => this.onDiscovery(evt.detail.id));
    this.gossip.start();
    this.sync.on('synced', this.onSynced);
    this.chain.on('block', this.onChainBlock);
    this.chain.on('tip', this.onTip);
    this.timer = setInterval(() => this.tick(), this.opts.statusIntervalMs ?? 15_000);
    this.timer.unref();
    this.heldTimer = setInterval(() => this.retryFuture(), 1000);
    this.heldTimer.unref();
    this.log.info({ peerId: this.peerId, listen: this.addresses(), network: this.chain.params.name }, 'p2p started');
    for (const addr of this.persistent) void this.dialQuietly(addr);
  }

  get peerId(): string {
    return this.host.peerId.toString();
  }

  /** Listening addresses with our peer id, as another node's --peer wants them. */
  addresses(): string[] {
    return this.host.getMultiaddrs().map((m) => m.toString());
  }

  get peerCount(): number {
    return [...this.peerStates.values()].filter((p) => p.status !== undefined).length;
  }

  peers(): PeerInfo[] {
    return [...this.peerStates.values()].map((p) => ({
      id: p.key,
      address: p.address,
      direction: p.direction,
      connectedAt: new Date(p.connectedAt).toISOString(),
      ready: p.status !== undefined,
      ...(p.status
        ? { height: p.status.height, tip: toHex(p.status.tip), chainwork: p.status.chainwork.toString() }
        : {}),
      score: Math.round(this.book.score(p.key) * 10) / 10,
    }));
  }

  syncStatus(): SyncStatus & { peers: number } {
    return { ...this.sync.status(), peers: this.peerCount };
  }

  bans(): BanEntry[] {
    return this.book.bans();
  }

  isBanned(peer: string): boolean {
    return this.book.isBanned(peer);
  }

  /** Dials a multiaddr; resolves with the peer id once the connection is up. */
  async connect(addr: string): Promise<string> {
    let ma: ReturnType<typeof multiaddr>;
    try {
      ma = multiaddr(addr);
    } catch (err) {
      throw new NetworkError('BAD_ADDRESS', `not a multiaddr: ${addr}`, { addr }, { cause: err });
    }
    try {
      const conn = await this.host.dial(ma, { signal: AbortSignal.timeout(10_000) });
      return conn.remotePeer.toString();
    } catch (err) {
      throw new NetworkError(
        'DIAL_FAILED',
        `cannot connect to ${addr}: ${(err as Error).message}`,
        { addr },
        {
          cause: err,
        },
      );
    }
  }

  async disconnect(peer: string): Promise<void> {
    await this.host.hangUp(peerIdFromString(peer));
  }

  publishBlock(block: Block): void {
    this.gossip.publishBlock(block);
  }

  publishTx(tx: Transaction): void {
    this.gossip.publishTx(tx);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.heldTimer);
    this.chain.off('block', this.onChainBlock);
    this.chain.off('tip', this.onTip);
    this.sync.off('synced', this.onSynced);
    this.sync.stop();
    this.gossip.stop();
    await this.host.stop();
    this.log.info({}, 'p2p stopped');
  }

  /**
   * Whether this node has the chain its peers have: nothing downloading, no
   * peer with more work, and, when it was given peers, the status of at
   * least one of them. A miner waits for it, as Bitcoin Core does not mine
   * during its initial download: blocks on a stale tip only cost its peers.
   */
  caughtUp(): boolean {
    if (this.sync.status().syncing) return false;
    const known = [...this.peerStates.values()].filter((p) => p.status);
    if ((this.opts.peers?.length ?? 0) > 0 && known.length === 0) return false;
    return !known.some((p) => p.status!.chainwork > this.chain.tip.chainwork) && !this.yieldsTie();
  }

  /** A peer showed us a tip (its proof of work checked) of exactly `work`: remembered if that ties ours. */
  private tie(peer: string, hash: string, work: bigint): void {
    const p = this.peerStates.get(peer);
    if (p && work === this.chain.tip.chainwork) p.rival = { hash, work, at: Date.now() };
  }

  /**
   * Whether a peer showed us, within TIE_YIELD_MS, a tip with exactly our
   * tip's work and a lower hash. Miners that find each block at the same
   * moment (devnet's 1 s minimum interval at trivial difficulty) keep the tip
   * each saw first, and two such branches grew side by side for dozens of
   * blocks. The side whose tip hash is higher stops mining for a moment, the
   * other pulls ahead and everyone follows it. Holding our miner back costs
   * a peer a block of our tip's work each time, and two seconds at most: on
   * a network of minute blocks the next block settles a tie as usual, and a
   * longer pause would only waste hash power.
   */
  private yieldsTie(): boolean {
    const tip = this.chain.tip;
    const ours = toHex(tip.hash);
    const since = Date.now() - TIE_YIELD_MS;
    for (const p of this.peerStates.values()) {
      const r = p.rival;
      if (r && r.at > since && r.work === tip.chainwork && r.hash < ours) return true;
    }
    return false;
  }

  /** Resolves when no peer we know of has more work than our tip and nothing is downloading. */
  async waitSynced(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const st = this.sync.status();
      const ahead = [...this.peerStates.values()].some(
        (p) => p.status && p.status.chainwork > this.chain.tip.chainwork,
      );
      if (!st.syncing && !ahead) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new NetworkError('NOT_STARTED', 'not synced in time');
  }

  // --- peers ---

  private onConnect(id: PeerId): void {
    const key = id.toString();
    if (this.book.isBanned(key)) {
      void this.host.hangUp(id).catch(() => undefined);
      return;
    }
    const conn: Connection | undefined = this.host.getConnections(id)[0];
    this.peerStates.set(key, {
      id,
      key,
      address: conn?.remoteAddr.toString() ?? '',
      direction: conn?.direction ?? 'outbound',
      connectedAt: Date.now(),
      statusInFlight: false,
    });
    void this.refreshStatus(key);
  }

  private onDisconnect(id: PeerId): void {
    const key = id.toString();
    const p = this.peerStates.get(key);
    if (p === undefined) return;
    this.peerStates.delete(key);
    this.limiter.forget(key);
    this.book.forget(key);
    if (p.status !== undefined) {
      this.log.info({ peer: key, address: p.address, peers: this.peerCount }, 'peer disconnected');
    }
    this.emit('peer:left', key);
    this.sync.poke();
  }

  private onDiscovery(id: PeerId): void {
    const key = id.toString();
    if (key === this.peerId || this.peerStates.has(key) || this.book.isBanned(key)) return;
    if (this.peerStates.size >= (this.opts.maxPeers ?? 64) / 2) return;
    this.host.dial(id, { signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
      this.log.debug({ peer: key, err: String(err) }, 'discovered peer not reachable');
    });
  }

  private async refreshStatus(key: string): Promise<void> {
    const p = this.peerStates.get(key);
    if (p === undefined || p.statusInFlight) return;
    p.statusInFlight = true;
    try {
      const status = await requestStatus(this.host, p.id, this.names, localStatus(this.chain));
      checkStatus(this.chain, status);
      this.setStatus(p, status);
    } catch (err) {
      if (this.peerStates.get(key) !== p) return;
      if (p.status === undefined && (err as Error).name === 'UnsupportedProtocolError') {
        // Some other libp2p node (or another network's): nothing to say to each other.
        void this.host.hangUp(p.id).catch(() => undefined);
        return;
      }
      this.misconduct(key, err, 'response');
    } finally {
      p.statusInFlight = false;
    }
  }

  /** A status that came with a peer's own request (the server side of the exchange). */
  private onStatus(peer: PeerId, status: Status, _connection: Connection): void {
    checkStatus(this.chain, status);
    const p = this.peerStates.get(peer.toString());
    if (p) this.setStatus(p, status);
  }

  private setStatus(p: PeerState, status: Status): void {
    const first = p.status === undefined;
    p.status = status;
    if (first) {
      this.log.info(
        { peer: p.key, address: p.address, direction: p.direction, height: status.height, peers: this.peerCount },
        'peer connected',
      );
      const info = this.peers().find((x) => x.id === p.key);
      if (info) this.emit('peer:ready', info);
    }
    // What we have pending (mempool.dat's too), it may lack: it was away, or on the other
    // side of a partition. Not before its chain has caught up with ours: a peer still
    // syncing refuses what spends coins of blocks it lacks, and would lose it for good.
    if (!p.pendingSent && status.chainwork >= this.chain.tip.chainwork) {
      p.pendingSent = true;
      const pending = this.opts.mempool
        .entries()
        .sort((a, b) => b.feeRate - a.feeRate)
        .slice(0, 1024)
        .map((e) => e.tx);
      if (pending.length > 0) void this.push([p.key], pending);
    }
    this.sync.poke();
  }

  /** A peer's chain holds `entry`: it has at least that much work. */
  private learn(peer: string, entry: ChainEntry): void {
    const p = this.peerStates.get(peer);
    if (p?.status && entry.chainwork > p.status.chainwork) {
      p.status = { ...p.status, tip: entry.hash, height: entry.height, chainwork: entry.chainwork };
    }
  }

  private misconduct(peer: string, err: unknown, what: 'block' | 'tx' | 'request' | 'response'): void {
    const tip = this.chain.tip;
    const partitionWork = this.chain.entryAtHeight(Math.max(0, tip.height - PARTITION_BLOCKS))!.chainwork;
    const j = judge(err, what, { peerWork: this.peerStates.get(peer)?.status?.chainwork, partitionWork });
    if (j.penalty === 0) {
      this.log.debug({ peer, what, reason: j.reason }, 'peer message ignored');
      return;
    }
    const banned = this.book.penalize(peer, j.penalty, j.reason);
    const fields = { peer, what, reason: j.reason, score: Math.round(this.book.score(peer)) };
    if (!banned) {
      this.log.debug(fields, 'peer penalized');
      return;
    }
    this.log.warn({ ...fields, banMinutes: Math.round(this.book.banMs / 60_000) }, 'peer banned');
    this.orphans.dropFrom(peer);
    this.future.dropFrom(peer);
    const entry = this.book.bans().find((b) => b.peer === peer);
    if (entry) this.emit('banned', entry);
    void this.host.hangUp(peerIdFromString(peer)).catch(() => undefined);
  }

  // --- transactions pushed peer to peer ---

  private async receiveTxs(peer: string, txs: Transaction[]): Promise<number> {
    let accepted = 0;
    for (const tx of txs) {
      try {
        await this.opts.mempool.accept(tx);
        accepted++;
      } catch (err) {
        this.misconduct(peer, err, 'tx');
        if (this.book.isBanned(peer)) break;
      }
    }
    return accepted;
  }

  /**
   * Transactions a reorg took out of blocks and put back in the mempool: the
   * peers that saw them already in gossip will not see them again there, and
   * the other side of a partition never saw them at all.
   */
  /**
   * Caught up: our status goes to every peer now rather than at the next
   * round, so a peer that held back its pending transactions while we were
   * behind (setStatus) pushes them at once, and a miner that just joined does
   * not mine for a status round without them.
   */
  private readonly onSynced = (): void => {
    const tip = this.chain.tip.hash;
    if (this.syncedAt !== undefined && equalBytes(this.syncedAt, tip)) return;
    this.syncedAt = tip;
    for (const [key, p] of this.peerStates) if (p.status !== undefined) void this.refreshStatus(key);
  };

  private readonly onTip = (change: TipChange): void => {
    if (change.disconnected.length === 0) return;
    const back = change.disconnected.flatMap((b) => b.txs).filter((tx) => this.opts.mempool.has(tx.hash()));
    if (back.length > 0) void this.push([...this.peerStates.keys()], back);
  };

  private async push(peers: string[], txs: Transaction[]): Promise<void> {
    const batches: Transaction[][] = [];
    let batch: Transaction[] = [];
    let bytes = 3;
    for (const tx of txs) {
      if (batch.length >= LIMITS.txsPerRequest || bytes + tx.size + 4 > LIMITS.requestBytes) {
        batches.push(batch);
        batch = [];
        bytes = 3;
      }
      batch.push(tx);
      bytes += tx.size + 4;
    }
    if (batch.length > 0) batches.push(batch);
    for (const key of peers) {
      const p = this.peerStates.get(key);
      if (p === undefined) continue;
      for (const b of batches) {
        try {
          await pushTxs(this.host, p.id, this.names, b);
        } catch (err) {
          this.log.debug({ peer: key, err: String(err) }, 'transaction push failed');
          this.misconduct(key, err, 'response');
          break;
        }
      }
    }
  }

  // --- held blocks ---

  private hold(peer: string, block: Block, why: 'orphan' | 'future'): void {
    if (why === 'future') {
      this.future.add(block, peer);
      return;
    }
    if (this.orphans.add(block, peer)) {
      this.log.debug(
        { peer, hash: toHex(block.hash()), height: block.header.height },
        'orphan block: fetching ancestors',
      );
    }
    const work = workFromTarget(targetFromDifficulty(block.header.difficulty));
    this.sync.want(peer, block.header.parent, work, toHex(block.hash()));
  }

  private readonly onChainBlock = (block: Block): void => {
    for (const child of this.orphans.takeChildren(block.hash())) void this.addHeld(child.peer, child.block);
  };

  private retryFuture(): void {
    const limit = this.chain.now() + this.chain.params.futureLimitMs;
    for (const h of this.future.take((x) => x.block.header.timestamp <= limit)) void this.addHeld(h.peer, h.block);
  }

  private async addHeld(peer: string, block: Block): Promise<void> {
    try {
      const result = await this.chain.addBlock(block, { requested: false });
      const entry = this.chain.entry(block.hash());
      if (entry && result !== 'duplicate') this.learn(peer, entry);
    } catch (err) {
      if (judge(err, 'block').reason === 'FUTURE_BLOCK') this.future.add(block, peer);
      else if (judge(err, 'block').reason === 'UNKNOWN_PARENT') this.hold(peer, block, 'orphan');
      else this.misconduct(peer, err, 'block');
    }
  }

  private tick(): void {
    for (const key of this.peerStates.keys()) void this.refreshStatus(key);
    const connected = new Set([...this.peerStates.keys()]);
    for (const addr of this.persistent) {
      const id = peerIdIn(addr);
      if (id !== undefined && (connected.has(id) || this.book.isBanned(id))) continue;
      void this.dialQuietly(addr);
    }
    this.sync.poke();
  }

  private async dialQuietly(addr: string): Promise<void> {
    try {
      await this.connect(addr);
    } catch (err) {
      this.log.debug({ addr, err: err instanceof ZiError ? err.message : String(err) }, 'peer not reachable');
    }
  }
}

function peerIdIn(addr: string): string | undefined {
  const m = /\/p2p\/([^/]+)/.exec(addr);
  return m?.[1];
}
