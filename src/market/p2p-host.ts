import type { Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { DecodeError } from '../chain/errors.ts';
import type { FrameStream, MarketHost } from './host.ts';
import {
  DISCOVERY_MAX_AGE_MS,
  type Discovery,
  decodeDiscovery,
  decodeFrame,
  encodeDiscovery,
  encodeFrame,
  type Frame,
  MAX_FRAME_BYTES,
  verifyDiscovery,
} from './messages.ts';

/** The market's names on a network (P2pPort.name prefixes them with /zi/<network>/). */
export const MARKET_PROTOCOL = 'market/1.0.0';
export const DISCOVERY_TOPIC = 'market/discovery/1';

/**
 * Streams of the market protocol per connection. A stream counts until both
 * ends have closed it (or one reset it): a side that stops using a stream
 * without closing it holds one of these for good.
 */
export const MARKET_STREAM_LIMITS = { maxInboundStreams: 8, maxOutboundStreams: 64 } as const;

/** Points a market protocol breach costs a peer (the p2p ban score is 100). */
const MARKET_PENALTY = 25;

/** What the market needs of the node's network (the node's P2pPort has it). */
export interface MarketP2p {
  readonly peerId: string;
  addrs(): string[];
  name(suffix: string): string;
  handle(
    protocol: string,
    handler: (stream: Stream, peer: string) => void,
    limits: { maxInboundStreams: number; maxOutboundStreams: number },
  ): Promise<void>;
  dial(peer: string, addrs: string[], protocol: string, timeoutMs: number): Promise<Stream>;
  subscribe(topic: string, validate: (from: string, data: Uint8Array) => 'accept' | 'reject' | 'ignore'): void;
  publish(topic: string, data: Uint8Array): Promise<void>;
  penalize(peer: string, points: number, reason: string): void;
  judge(err: unknown, what: 'request' | 'response'): { verdict: 'accept' | 'ignore' | 'reject'; reason: string };
}

function frameStream(stream: Stream, remotePeer: string): FrameStream {
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: MAX_FRAME_BYTES + 1024 });
  return {
    remotePeer,
    async read(timeoutMs: number): Promise<Frame> {
      // AbortSignal.timeout takes whole milliseconds only.
      const bytes = await lp.read({ signal: AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs))) });
      return decodeFrame(bytes.subarray());
    },
    async write(frame: Frame): Promise<void> {
      await lp.write(encodeFrame(frame), { signal: AbortSignal.timeout(60_000) });
    },
    async close(): Promise<void> {
      await stream.close({ signal: AbortSignal.timeout(5_000) });
    },
    abort(err: Error): void {
      stream.abort(err);
    },
  };
}

/**
 * The market on the node's network: discoveries on a gossip topic,
 * validated before they are forwarded, and the direct, Noise-encrypted
 * `/zi/<network>/market/1.0.0` stream between Solver and authority.
 */
export async function createMarketHost(p2p: MarketP2p, clock: () => number = Date.now): Promise<MarketHost> {
  const protocol = p2p.name(MARKET_PROTOCOL);
  const topic = p2p.name(DISCOVERY_TOPIC);
  const discoveryHandlers: ((d: Discovery) => void)[] = [];
  let streamHandler: ((s: FrameStream) => void) | undefined;

  const penalize = (peer: string, reason: string) => p2p.penalize(peer, MARKET_PENALTY, `market: ${reason}`);

  p2p.subscribe(topic, (from, data) => {
    let d: Discovery;
    try {
      d = decodeDiscovery(data);
    } catch (err) {
      penalize(from, err instanceof DecodeError ? err.code : 'MALFORMED');
      return 'reject';
    }
    if (!verifyDiscovery(d)) {
      penalize(from, 'BAD_SIGNATURE');
      return 'reject';
    }
    // Stale or early: not proof of misbehaviour (clocks drift), just not worth relaying.
    if (Math.abs(clock() - d.timestamp) > DISCOVERY_MAX_AGE_MS) return 'ignore';
    for (const h of discoveryHandlers) h(d);
    return 'accept';
  });

  await p2p.handle(
    protocol,
    (stream, peer) => {
      const s = frameStream(stream, peer);
      if (streamHandler) streamHandler(s);
      else stream.abort(new Error('this node is not solving'));
    },
    MARKET_STREAM_LIMITS,
  );

  return {
    get peerId() {
      return p2p.peerId;
    },
    addrs: () => p2p.addrs(),
    onStream(handler) {
      streamHandler = handler;
    },
    async dial(peerId, addrs, timeoutMs) {
      return frameStream(await p2p.dial(peerId, addrs, protocol, timeoutMs), peerId);
    },
    async publishDiscovery(d) {
      // Our own discovery skips our validator: deliver it to local handlers too (a Solver and its Bidder in one node).
      for (const h of discoveryHandlers) h(d);
      await p2p.publish(topic, encodeDiscovery(d));
    },
    onDiscovery(handler) {
      discoveryHandlers.push(handler);
    },
    penalize,
    judge: (err) => p2p.judge(err, 'request'),
  };
}
