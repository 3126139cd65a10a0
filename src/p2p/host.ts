import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { type GossipSub, gossipsub, StrictNoSign } from '@libp2p/gossipsub';
import type { Identify, IdentifyPush } from '@libp2p/identify';
import { identify, identifyPush } from '@libp2p/identify';
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import { mdns } from '@libp2p/mdns';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import { ZiError } from '../chain/errors.ts';
import type { NetworkParams } from '../chain/params.ts';
import type { WireNames } from './topics.ts';

export class HostError extends ZiError<'BAD_PEER_KEY' | 'LISTEN_FAILED' | 'ADDRESS_IN_USE'> {}

export type ZiLibp2p = Libp2p<{ identify: Identify; identifyPush: IdentifyPush; pubsub: GossipSub }>;

export const PEER_KEY_FILE = 'peer.key';

/**
 * The node's libp2p identity, kept in the data dir so its peer id survives
 * restarts (peers' --peer lists and ban lists name it). Ed25519, stored as
 * libp2p's protobuf encoding with owner-only permissions.
 */
export async function loadPeerKey(datadir: string): Promise<PrivateKey> {
  const path = join(datadir, PEER_KEY_FILE);
  let bytes: Uint8Array | undefined;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (bytes !== undefined) {
    try {
      return privateKeyFromProtobuf(bytes);
    } catch (err) {
      throw new HostError(
        'BAD_PEER_KEY',
        `${path} is not a libp2p private key: move it away to get a new identity`,
        {
          path,
        },
        { cause: err },
      );
    }
  }
  const key = await generateKeyPair('Ed25519');
  const tmp = `${path}.tmp`;
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return key;
}

export interface HostOptions {
  params: NetworkParams;
  names: WireNames;
  privateKey: PrivateKey;
  listen: string[];
  mdns: boolean;
  /** Gossip topics of the node's domains, besides blocks and transactions. */
  topics?: string[];
  /** Connections kept at most, inbound and outbound together. */
  maxConnections: number;
  /** Inbound connection attempts per second from one host. */
  inboundPerSecond: number;
  isBanned(peer: PeerId): boolean;
}

/**
 * libp2p's defaults are made for a friendly network; a blockchain node's
 * peers are strangers. Every limit that bounds what a peer can make us buffer
 * or decode is set here explicitly (docs/P2P.md lists them).
 */
export function hostLimits(params: NetworkParams) {
  // One gossip RPC carries at most one full block plus protobuf framing.
  const gossipFrame = params.maxBlockBytes + 64 * 1024;
  return {
    gossipFrame,
    gossipOutboundBuffer: 4 * gossipFrame,
    streamReadBuffer: 2 * gossipFrame,
    streamWriteBuffer: 4 * gossipFrame,
    decodeRpc: {
      maxSubscriptions: 16,
      maxMessages: 32,
      maxIhaveMessageIDs: 1000,
      maxIwantMessageIDs: 1000,
      maxIdontwantMessageIDs: 512,
      maxControlMessages: 64,
      maxPeerInfos: 16,
    },
  };
}

/**
 * gossipsub's peer scoring, set explicitly. Its default IP-colocation term
 * graylists every peer behind one IP once more than 10 peer ids come from
 * it (a LAN, a NAT, loopback): their blocks would be dropped unvalidated and
 * a bad-PoW sender among them never judged. Zi's unit of blame is the peer
 * id (scoring.ts PeerBook bans it), so colocation is off. No topic scores:
 * invalid messages cost the sender through judge(), not through gossipsub.
 * What remains is gossipsub's own protocol-behaviour penalty (IWANT spam,
 * grafting during backoff) and these thresholds.
 */
export const GOSSIP_SCORE = {
  params: {
    topics: {},
    appSpecificScore: () => 0,
    IPColocationFactorWeight: 0,
    IPColocationFactorThreshold: 10,
    IPColocationFactorWhitelist: new Set<string>(),
    behaviourPenaltyWeight: -10,
    behaviourPenaltyThreshold: 0,
    behaviourPenaltyDecay: 0.2,
  },
  thresholds: {
    /** Below it no gossip (IHAVE/IWANT) is exchanged with the peer. */
    gossipThreshold: -10,
    /** Below it our own messages are not flood-published to the peer. */
    publishThreshold: -50,
    /** Below it everything the peer sends is dropped unread. */
    graylistThreshold: -80,
    /** Peer exchange is taken only from peers above this. */
    acceptPXThreshold: 10,
    /** Mesh median below this triggers opportunistic grafting. */
    opportunisticGraftThreshold: 20,
  },
} as const;

export async function createHost(opts: HostOptions): Promise<ZiLibp2p> {
  const limits = hostLimits(opts.params);
  const gater = (peer: PeerId) => opts.isBanned(peer);
  try {
    return await createLibp2p({
      privateKey: opts.privateKey,
      addresses: { listen: opts.listen },
      transports: [tcp({ maxConnections: opts.maxConnections + 8, backlog: 64 })],
      connectionEncrypters: [noise()],
      streamMuxers: [
        yamux({
          maxInboundStreams: 64,
          maxEarlyStreams: 10,
          streamOptions: {
            maxReadBufferLength: limits.streamReadBuffer,
            maxWriteBufferLength: limits.streamWriteBuffer,
            inactivityTimeout: 60_000,
          },
        }),
      ],
      connectionGater: {
        denyDialPeer: gater,
        denyInboundEncryptedConnection: gater,
        denyOutboundEncryptedConnection: gater,
      },
      connectionManager: {
        maxConnections: opts.maxConnections,
        maxIncomingPendingConnections: 16,
        inboundConnectionThreshold: opts.inboundPerSecond,
        maxParallelDials: 16,
        dialTimeout: 10_000,
        inboundUpgradeTimeout: 10_000,
      },
      peerDiscovery: opts.mdns ? [mdns({ serviceTag: opts.names.mdnsTag, interval: 10_000 })] : [],
      services: {
        identify: identify({ maxMessageSize: 8 * 1024, maxObservedAddresses: 4 }),
        // Protocols registered after a connection opened (bitswap, as the embedded IPFS node starts after the
        // node has dialed its peers; a domain's own) reach the peer only this way: bitswap asks only the
        // peers identify says speak it. A node registers its protocols in one burst as it starts: 100 ms gathers it.
        identifyPush: identifyPush({ maxMessageSize: 8 * 1024, maxObservedAddresses: 4, debounce: 100 }),
        pubsub: gossipsub({
          globalSignaturePolicy: StrictNoSign,
          allowedTopics: [opts.names.blocks, opts.names.txs, ...(opts.topics ?? [])],
          fallbackToFloodsub: false,
          floodPublish: true,
          emitSelf: false,
          allowPublishToZeroTopicPeers: true,
          ignoreDuplicatePublishError: true,
          maxInboundDataLength: limits.gossipFrame,
          maxOutboundBufferSize: limits.gossipOutboundBuffer,
          decodeRpcLimits: limits.decodeRpc,
          maxInboundStreams: 2,
          maxOutboundStreams: 2,
          // Blocks come every T seconds: a short heartbeat grafts new peers into the mesh quickly.
          heartbeatInterval: 500,
          scoreParams: { ...GOSSIP_SCORE.params, IPColocationFactorWhitelist: new Set<string>() },
          scoreThresholds: GOSSIP_SCORE.thresholds,
        }),
      },
    });
  } catch (err) {
    throw listenError(opts.listen, err);
  }
}

/**
 * libp2p reports failed listen addresses in one message of many lines, with a
 * stack per address; the operator gets one line: which address, and why.
 */
function listenError(listen: string[], err: unknown): HostError {
  const text = err instanceof Error ? err.message : String(err);
  const failed = [...text.matchAll(/^\s+(\/\S+): (?:\w*Error: )?(.+)$/gm)].map((m) => ({ addr: m[1]!, why: m[2]! }));
  const meta = { listen };
  if (failed.length > 0 && failed.every((f) => f.why.includes('EADDRINUSE'))) {
    return new HostError(
      'ADDRESS_IN_USE',
      `p2p address ${failed.map((f) => f.addr).join(', ')} is already in use (is another zi node running? choose another port with --listen)`,
      meta,
      { cause: err },
    );
  }
  const why = failed.length > 0 ? failed.map((f) => `${f.addr}: ${f.why}`).join('; ') : text.split('\n')[0];
  return new HostError('LISTEN_FAILED', `cannot listen on ${listen.join(', ')}: ${why}`, meta, { cause: err });
}
