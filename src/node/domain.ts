import type { Stream } from '@libp2p/interface';
import type { Address } from '../chain/address.ts';
import type { Chain } from '../chain/chain.ts';
import type { Log } from '../chain/log.ts';
import type { AdmissionPolicy, Mempool } from '../chain/mempool.ts';
import type { ConsensusDomain, Ports } from '../chain/tx-rules.ts';
import type { ContentStore } from '../content/store.ts';
import type { VoteSource } from '../miner/template.ts';
import type { RpcMethod } from '../rpc/methods.ts';

/**
 * How a domain (market, validator, audit) plugs into a node: its consensus
 * rules, and a service started with what the node has. The node loops over
 * the descriptors and names none of them (domains.ts lists them). Each
 * domain declares in its own types the narrow part of DomainContext it uses;
 * TypeScript checks here that the node's context has it.
 */
export interface NodeDomain<Config = never, Service extends DomainService = DomainService> {
  name: string;
  consensus: ConsensusDomain;
  /** Gossip topics it publishes on, as suffixes of P2pPort.name. */
  topics?: readonly string[];
  start(ctx: DomainContext, config: Config | undefined): Promise<Service>;
}

/** What the node hands every domain at wiring time. */
export interface DomainContext {
  chain: Chain;
  mempool: Mempool;
  logger: Log & { child(bindings: object): Log };
  datadir: string;
  /** The node's peer-to-peer network; absent when it runs without. */
  p2p?: P2pPort;
  /** IPFS (embedded Helia or Kubo); absent without the network. */
  content?: ContentStore;
  /** The address this node mines to, when it mines. */
  miner?: Address;
  /** What the services started before this one offer it (DomainService.ports), by name. */
  ports: Ports;
}

/** A domain's running part, as the node sees it. */
export interface DomainService {
  /** Its JSON-RPC methods (docs/RPC.md). */
  rpc?: Record<string, RpcMethod>;
  /** Its section of `getinfo`. */
  info?(): unknown;
  /** Node policies run before the mempool takes a transaction of a kind from outside. */
  policies?: ReadonlyMap<number, AdmissionPolicy>;
  /** Items for the votes section of this node's block templates. */
  votes?: VoteSource;
  /** What it offers the services started after it (e.g. the market checks batches for the auditor). */
  ports?: Record<string, object>;
  /** CIDs (binary) this node must keep pinned in IPFS, whatever its storage limit. */
  keep?(): AsyncIterable<Uint8Array>;
  stop(): Promise<void>;
}

/**
 * The network as a domain sees it: protocols and topics under this network's
 * names, and peer scoring. Nothing in it is domain-specific.
 */
export interface P2pPort {
  readonly peerId: string;
  addrs(): string[];
  /** A protocol or topic name on this network: `/zi/<network>/<suffix>`. */
  name(suffix: string): string;
  handle(
    protocol: string,
    handler: (stream: Stream, peer: string) => void,
    limits: { maxInboundStreams: number; maxOutboundStreams: number },
  ): Promise<void>;
  dial(peer: string, addrs: string[], protocol: string, timeoutMs: number): Promise<Stream>;
  /** Messages on a topic pass `validate` before they are delivered or forwarded. */
  subscribe(topic: string, validate: (from: string, data: Uint8Array) => 'accept' | 'reject' | 'ignore'): void;
  publish(topic: string, data: Uint8Array): Promise<void>;
  penalize(peer: string, points: number, reason: string): void;
  /**
   * What an error raised by a peer's stream or message costs it, from the
   * network's one table (src/p2p/scoring.ts judge()), so a domain's protocol
   * judges decoding and framing errors as the sync protocol does.
   */
  judge(err: unknown, what: 'request' | 'response'): { verdict: 'accept' | 'ignore' | 'reject'; reason: string };
}
