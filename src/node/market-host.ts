import type { Message, TopicValidatorResult } from '@libp2p/gossipsub';
import type { Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { DecodeError } from '../chain/errors.ts';
import type { FrameStream, MarketHost } from '../market/host.ts';
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
} from '../market/messages.ts';
import type { Network } from '../p2p/network.ts';

/** Points a market protocol breach costs a peer (the p2p ban score is 100). */
const MARKET_PENALTY = 25;

function frameStream(stream: Stream, remotePeer: string): FrameStream {
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: MAX_FRAME_BYTES + 1024 });
  return {
    remotePeer,
    async read(timeoutMs: number): Promise<Frame> {
      const bytes = await lp.read({ signal: AbortSignal.timeout(timeoutMs) });
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
 * The market on the node's libp2p host: discoveries on a gossip topic,
 * validated before they are forwarded, and the direct, Noise-encrypted
 * `/zi/<network>/market/1.0.0` stream between Solver and authority.
 */
export async function createMarketHost(net: Network, clock: () => number = Date.now): Promise<MarketHost> {
  const { host } = net;
  const names = { protocol: net.names.market, discovery: net.names.discovery };
  const pubsub = host.services.pubsub;
  const discoveryHandlers: ((d: Discovery) => void)[] = [];
  let streamHandler: ((s: FrameStream) => void) | undefined;

  const penalize = (peer: string, reason: string) => {
    net.book.penalize(peer, MARKET_PENALTY, `market: ${reason}`);
  };

  pubsub.topicValidators.set(names.discovery, (from, msg: Message): TopicValidatorResult => {
    let d: Discovery;
    try {
      d = decodeDiscovery(msg.data);
    } catch (err) {
      penalize(from.toString(), err instanceof DecodeError ? err.code : 'MALFORMED');
      return 'reject' as TopicValidatorResult;
    }
    if (!verifyDiscovery(d)) {
      penalize(from.toString(), 'BAD_SIGNATURE');
      return 'reject' as TopicValidatorResult;
    }
    // Stale or early: not proof of misbehaviour (clocks drift), just not worth relaying.
    if (Math.abs(clock() - d.timestamp) > DISCOVERY_MAX_AGE_MS) return 'ignore' as TopicValidatorResult;
    for (const h of discoveryHandlers) h(d);
    return 'accept' as TopicValidatorResult;
  });
  pubsub.subscribe(names.discovery);

  await host.handle(
    names.protocol,
    async (stream: Stream, connection) => {
      const s = frameStream(stream, connection.remotePeer.toString());
      if (streamHandler) streamHandler(s);
      else stream.abort(new Error('this node is not solving'));
    },
    { maxInboundStreams: 8, maxOutboundStreams: 64 },
  );

  return {
    get peerId() {
      return host.peerId.toString();
    },
    addrs: () => net.addresses().slice(0, 8),
    onStream(handler) {
      streamHandler = handler;
    },
    async dial(peerId, addrs, timeoutMs) {
      const id = peerIdFromString(peerId);
      const known = addrs.flatMap((a) => {
        try {
          return [multiaddr(a)];
        } catch {
          return [];
        }
      });
      if (known.length > 0) await host.peerStore.merge(id, { multiaddrs: known });
      const stream = await host.dialProtocol(id, names.protocol, { signal: AbortSignal.timeout(timeoutMs) });
      return frameStream(stream, peerId);
    },
    async publishDiscovery(d) {
      // Our own discovery skips our validator: deliver it to local handlers too (a Solver and its Bidder in one node).
      for (const h of discoveryHandlers) h(d);
      await pubsub.publish(names.discovery, encodeDiscovery(d));
    },
    onDiscovery(handler) {
      discoveryHandlers.push(handler);
    },
    penalize,
  };
}
