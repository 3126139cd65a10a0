import { randomBytes } from 'node:crypto';
import type { Address } from '../../src/chain/address.ts';
import { toHex } from '../../src/chain/encoding.ts';
import type { Hash } from '../../src/chain/hash.ts';
import type { Log } from '../../src/chain/log.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import type { Transaction } from '../../src/chain/transaction.ts';
import { cidOf } from '../../src/content/cid.ts';
import type { MarketChain } from '../../src/market/chain-view.ts';
import { ContractNotFoundError } from '../../src/market/contract-body.ts';
import { type ContractRecord, VALIDATION_BIDDER } from '../../src/market/contract-state.ts';
import { type ContractBody, openedRecord, payoutRules } from '../../src/market/contract-tx.ts';
import type { FrameStream, MarketHost, ResultStore } from '../../src/market/host.ts';
import {
  type Discovery,
  decodeDiscovery,
  decodeFrame,
  encodeDiscovery,
  encodeFrame,
  type Frame,
  verifyDiscovery,
} from '../../src/market/messages.ts';
import { MARKET_STREAM_LIMITS } from '../../src/market/p2p-host.ts';
import { type Range, rangeCount, union } from '../../src/market/ranges.ts';
import type { PayoutSink } from '../../src/market/solver.ts';
import { type Judgement, judge } from '../../src/p2p/scoring.ts';
import { contractBody } from './market.ts';

/*
 * In-memory fakes of the market services' narrow ports (src/market/host.ts,
 * chain-view.ts, solver.ts PayoutSink), for unit tests of the Authority and
 * the Solver. Frames and discoveries still go through their real codecs, so
 * what one side sends is exactly what the other could receive off the wire.
 */

/**
 * One end of an in-memory stream; the other end is `peer`. It behaves as a
 * libp2p stream does: `close()` ends this end's writing only (the other end
 * reads what was sent, then the end of the stream, and may still write back),
 * `abort()` resets both ends, and the stream is gone only once both ends have
 * closed or one reset it. Until then it counts against its host's
 * inbound-stream limit.
 */
export class FakeFrameStream implements FrameStream {
  readonly remotePeer: string;
  peer!: FakeFrameStream;
  /** Every frame that arrived at this end, read or not. */
  readonly received: Frame[] = [];
  #inbox: Uint8Array[] = [];
  #reader?: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void };
  /** Why nothing more will arrive here: the remote closed its writing, or the stream was reset. */
  #ended?: Error;
  /** This end writes no more: it closed, or the stream was reset. */
  #writeClosed = false;
  #reset = false;

  constructor(remotePeer: string) {
    this.remotePeer = remotePeer;
  }

  /** This end can write no more. */
  get closed(): boolean {
    return this.#writeClosed;
  }

  /** Not yet closed at both ends nor reset: libp2p still counts it on its connection. */
  get open(): boolean {
    return !this.#reset && !(this.#writeClosed && this.peer.#writeClosed);
  }

  read(timeoutMs: number): Promise<Frame> {
    const next = this.#inbox.shift();
    if (next) return Promise.resolve(decodeFrame(next));
    if (this.#ended) return Promise.reject(this.#ended);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#reader = undefined;
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#reader = {
        resolve: (b) => {
          clearTimeout(timer);
          try {
            resolve(decodeFrame(b));
          } catch (err) {
            reject(err);
          }
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  async write(frame: Frame): Promise<void> {
    // libp2p's own words for it (StreamStateError).
    if (this.#writeClosed) throw new Error('Cannot write to a stream that is closed');
    this.peer.#deliver(encodeFrame(frame));
  }

  async close(): Promise<void> {
    if (this.#writeClosed) return;
    this.#writeClosed = true;
    // What was already sent stays readable at the other end, then its reads end.
    this.peer.#end(new Error('the remote closed the stream'));
  }

  abort(err: Error): void {
    if (this.#reset) return;
    this.#inbox = [];
    this.#resetEnd(err);
    this.peer.#inbox = [];
    this.peer.#resetEnd(new Error(`the remote reset the stream: ${err.message}`));
  }

  #resetEnd(err: Error): void {
    this.#reset = true;
    this.#writeClosed = true;
    this.#end(err);
  }

  #deliver(bytes: Uint8Array): void {
    if (this.#ended) return;
    // A frame that does not decode still arrives: the reader fails on it, as on a real stream.
    try {
      this.received.push(decodeFrame(bytes));
    } catch {}
    const reader = this.#reader;
    this.#reader = undefined;
    if (reader) reader.resolve(bytes);
    else this.#inbox.push(bytes);
  }

  #end(err: Error): void {
    if (this.#ended) return;
    this.#ended = err;
    if (this.#inbox.length === 0) {
      const reader = this.#reader;
      this.#reader = undefined;
      reader?.reject(err);
    }
  }
}

function framePipe(a: string, b: string): [FakeFrameStream, FakeFrameStream] {
  const atA = new FakeFrameStream(b);
  const atB = new FakeFrameStream(a);
  atA.peer = atB;
  atB.peer = atA;
  return [atA, atB];
}

/**
 * Hosts that see each other's discoveries, as gossip would deliver them
 * (signed and well formed only), and dial each other by peer id.
 */
export class FakeMarketNet {
  readonly #hosts = new Map<string, FakeMarketHost>();

  host(peerId: string): FakeMarketHost {
    let h = this.#hosts.get(peerId);
    if (!h) {
      h = new FakeMarketHost(this, peerId);
      this.#hosts.set(peerId, h);
    }
    return h;
  }

  get(peerId: string): FakeMarketHost | undefined {
    return this.#hosts.get(peerId);
  }

  others(peerId: string): FakeMarketHost[] {
    return [...this.#hosts.values()].filter((h) => h.peerId !== peerId);
  }
}

export class FakeMarketHost implements MarketHost {
  readonly peerId: string;
  readonly #net: FakeMarketNet;
  /** Peers this host dialled, in order. */
  readonly dialed: string[] = [];
  /** Discoveries this host published. */
  readonly published: Discovery[] = [];
  readonly penalties: { peer: string; reason: string }[] = [];
  readonly #discoveryHandlers: ((d: Discovery) => void)[] = [];
  /** What onStream registered: the dialling side delivers to it. */
  streamHandler?: (s: FrameStream) => void;
  readonly #publishedWaiters: (() => void)[] = [];
  /** Inbound streams by the peer that opened them, as libp2p counts them per connection. */
  readonly #inbound = new Map<string, FakeFrameStream[]>();

  constructor(net: FakeMarketNet, peerId: string) {
    this.#net = net;
    this.peerId = peerId;
  }

  addrs(): string[] {
    return [`/memory/${this.peerId}`];
  }

  onStream(handler: (stream: FrameStream) => void): void {
    this.streamHandler = handler;
  }

  async dial(peerId: string, _addrs: string[], _timeoutMs: number): Promise<FrameStream> {
    this.dialed.push(peerId);
    const target = this.#net.get(peerId);
    const handler = target?.streamHandler;
    if (!target || !handler) throw new Error(`no route to ${peerId}`);
    const [mine, theirs] = framePipe(this.peerId, peerId);
    const inbound = target.#inbound.get(this.peerId)?.filter((s) => s.open) ?? [];
    inbound.push(theirs);
    target.#inbound.set(this.peerId, inbound);
    // Over the protocol's limit, libp2p resets the new stream once it is negotiated:
    // the dialer holds a stream it cannot write to.
    if (inbound.filter((s) => s.open).length > MARKET_STREAM_LIMITS.maxInboundStreams) {
      theirs.abort(new Error('Too many inbound protocol streams'));
    } else handler(theirs);
    return mine;
  }

  /** Streams other peers opened to this host that are not yet gone at both ends. */
  openInbound(): number {
    return [...this.#inboundStreams()].filter((s) => s.open).length;
  }

  *#inboundStreams(): Iterable<FakeFrameStream> {
    for (const list of this.#inbound.values()) yield* list;
  }

  /** Delivered to every other host's handlers before it returns, like a gossip validator's accept. */
  async publishDiscovery(d: Discovery): Promise<void> {
    const copy = decodeDiscovery(encodeDiscovery(d));
    this.published.push(copy);
    for (const w of this.#publishedWaiters.splice(0)) w();
    if (!verifyDiscovery(copy)) return;
    for (const other of this.#net.others(this.peerId)) for (const h of other.#discoveryHandlers) h(copy);
  }

  onDiscovery(handler: (d: Discovery) => void): void {
    this.#discoveryHandlers.push(handler);
  }

  penalize(peer: string, reason: string): void {
    this.penalties.push({ peer, reason });
  }

  /** The network's own table, as the node wires it. */
  judge(err: unknown): Judgement {
    return judge(err, 'request');
  }

  /** Resolves once this host has published more than `count` discoveries. */
  async publishedMoreThan(count: number, timeoutMs = 10_000): Promise<Discovery> {
    const deadline = performance.now() + timeoutMs;
    while (this.published.length <= count) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${this.peerId} published no discovery ${count + 1} within ${timeoutMs} ms`);
      const { promise, resolve } = Promise.withResolvers<void>();
      const timer = setTimeout(resolve, left);
      this.#publishedWaiters.push(resolve);
      await promise;
      clearTimeout(timer);
    }
    return this.published[count]!;
  }
}

/** Content addressed in a Map: what IPFS does for the market, minus the network. */
export class FakeResultStore implements ResultStore {
  readonly #bytes = new Map<string, Uint8Array>();

  async put(bytes: Uint8Array): Promise<Uint8Array> {
    const cid = cidOf(bytes).bytes;
    this.#bytes.set(toHex(cid), bytes.slice());
    return cid;
  }

  async get(cid: Uint8Array): Promise<Uint8Array> {
    const b = this.#bytes.get(toHex(cid));
    if (!b) throw new Error(`no content ${toHex(cid)}`);
    return b;
  }

  has(cid: Uint8Array): boolean {
    return this.#bytes.has(toHex(cid));
  }

  get size(): number {
    return this.#bytes.size;
  }
}

interface FakeContract {
  record: ContractRecord;
  body: ContractBody;
  paid: Range[];
}

/** A chain of contracts in memory; tests change them and then call tip(). */
export class FakeMarketChain implements MarketChain {
  height = 100;
  readonly genesisHash: Hash = new Uint8Array(32).fill(7);
  readonly minFeePerByte = NETWORKS.devnet.minFeePerByte;
  readonly #contracts = new Map<string, FakeContract>();
  readonly #tipHandlers = new Set<() => void>();

  /** Opens a contract of `bidder` (bidder-validated unless `record` says otherwise); returns its id. */
  open(bidder: Address, body: Partial<ContractBody> = {}, record: Partial<ContractRecord> = {}): Hash {
    const id = new Uint8Array(randomBytes(32));
    const b = contractBody(body);
    this.#contracts.set(toHex(id), {
      body: b,
      paid: [],
      record: { ...openedRecord(bidder, b, this.height), validation: VALIDATION_BIDDER, ...record },
    });
    return id;
  }

  /** Changes a contract's record, as a block would; call tip() to announce it. */
  update(id: Hash, change: Partial<ContractRecord>): void {
    const c = this.#get(id);
    c.record = { ...c.record, ...change };
  }

  /** Marks a range paid, as a mined payout would, and announces the new tip. */
  pay(id: Hash, range: Range): void {
    const c = this.#get(id);
    c.paid = union(c.paid, [range]);
    this.tip();
  }

  /** Applies a payout as its block would (escrow, paid MCUs and ranges, payout heights) and announces the tip. */
  mine(tx: Transaction): void {
    const body = payoutRules.decode(tx.payload, NETWORKS.devnet);
    const c = this.#get(body.contract);
    const mcus = BigInt(rangeCount(body.ranges));
    const height = this.height + 1;
    c.record = {
      ...c.record,
      escrow: c.record.escrow - mcus * (c.record.price + c.record.validationFee) - tx.fee,
      heldFees: c.record.heldFees + mcus * c.record.validationFee,
      paidMcus: c.record.paidMcus + mcus,
      firstPayoutHeight: c.record.firstPayoutHeight || height,
      lastPayoutHeight: height,
    };
    c.paid = union(c.paid, body.ranges);
    this.tip();
  }

  tip(): void {
    this.height++;
    for (const h of this.#tipHandlers) h();
  }

  contract(id: Hash): ContractRecord | undefined {
    const c = this.#contracts.get(toHex(id));
    return c && { ...c.record };
  }

  paidRanges(id: Hash): Range[] {
    return [...(this.#contracts.get(toHex(id))?.paid ?? [])];
  }

  async *contracts(): AsyncIterable<[Hash, ContractRecord]> {
    for (const [key, c] of this.#contracts) yield [Buffer.from(key, 'hex'), { ...c.record }];
  }

  async contractBody(id: Hash): Promise<ContractBody> {
    const c = this.#contracts.get(toHex(id));
    if (!c) throw new ContractNotFoundError('NOT_FOUND', `no contract ${toHex(id)}`);
    return c.body;
  }

  onTip(handler: () => void): () => void {
    this.#tipHandlers.add(handler);
    return () => this.#tipHandlers.delete(handler);
  }

  #get(id: Hash): FakeContract {
    const c = this.#contracts.get(toHex(id));
    if (!c) throw new Error(`no fake contract ${toHex(id)}`);
    return c;
  }
}

/** The mempool as the Solver uses it: it keeps what it is given, and may mine it at once (`onAccept`). */
export class FakeMempool implements PayoutSink {
  readonly accepted: Transaction[] = [];
  onAccept?: (tx: Transaction) => void;
  /** An error to refuse a transaction with, as the real mempool would; undefined takes it. */
  refuse?: (tx: Transaction) => Error | undefined;

  nextNonce(address: Address): bigint {
    return BigInt(this.accepted.filter((tx) => toHex(tx.from) === toHex(address)).length);
  }

  async accept(tx: Transaction): Promise<void> {
    const refused = this.refuse?.(tx);
    if (refused) throw refused;
    this.accepted.push(tx);
    this.onAccept?.(tx);
  }
}

/** A logger that keeps its lines, to print when a test fails. */
export function fakeLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const line = (level: string) => (obj: object, msg?: string) =>
    lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj, (_k, v) => (typeof v === 'bigint' ? `${v}` : v))}`);
  return { lines, info: line('info'), warn: line('warn'), debug: line('debug') };
}
