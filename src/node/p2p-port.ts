import type { Message, TopicValidatorResult } from '@libp2p/gossipsub';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { NetworkName } from '../chain/params.ts';
import type { Network } from '../p2p/network.ts';
import { judge } from '../p2p/scoring.ts';
import { domainName } from '../p2p/topics.ts';
import type { P2pPort } from './domain.ts';

/** Binds the domain-neutral P2pPort to the node's libp2p host. */
export function p2pPort(net: Network, network: NetworkName): P2pPort {
  const { host } = net;
  const pubsub = host.services.pubsub;
  return {
    get peerId() {
      return host.peerId.toString();
    },
    addrs: () => net.addresses().slice(0, 8),
    name: (suffix) => domainName(network, suffix),
    async handle(protocol, handler, limits) {
      await host.handle(protocol, (stream, connection) => handler(stream, connection.remotePeer.toString()), limits);
    },
    async dial(peer, addrs, protocol, timeoutMs) {
      const id = peerIdFromString(peer);
      const known = addrs.flatMap((a) => {
        try {
          return [multiaddr(a)];
        } catch {
          return [];
        }
      });
      if (known.length > 0) await host.peerStore.merge(id, { multiaddrs: known });
      return host.dialProtocol(id, protocol, { signal: AbortSignal.timeout(timeoutMs) });
    },
    subscribe(topic, validate) {
      pubsub.topicValidators.set(
        topic,
        (from, msg: Message) => validate(from.toString(), msg.data) as TopicValidatorResult,
      );
      pubsub.subscribe(topic);
    },
    async publish(topic, data) {
      await pubsub.publish(topic, data);
    },
    penalize: (peer, points, reason) => void net.book.penalize(peer, points, reason),
    judge,
  };
}
