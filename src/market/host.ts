import type { Discovery, Frame } from './messages.ts';

/**
 * What the market needs from the network, kept narrow so the authority and
 * Solver logic does not depend on libp2p's shapes (p2p-host.ts binds it to
 * the node's libp2p host).
 */
export interface FrameStream {
  readonly remotePeer: string;
  /** The next frame; rejects on timeout, a malformed frame or a closed stream. */
  read(timeoutMs: number): Promise<Frame>;
  write(frame: Frame): Promise<void>;
  close(): Promise<void>;
  abort(err: Error): void;
}

export interface MarketHost {
  readonly peerId: string;
  addrs(): string[];
  /** The Solver side: streams the authority opens after a discovery. */
  onStream(handler: (stream: FrameStream) => void): void;
  /** The authority side: dial the Solver back on the market protocol. */
  dial(peerId: string, addrs: string[], timeoutMs: number): Promise<FrameStream>;
  publishDiscovery(d: Discovery): Promise<void>;
  /** Discoveries that passed the gossip validator (well formed, signed, fresh). */
  onDiscovery(handler: (d: Discovery) => void): void;
  /** A peer broke the market protocol: score it down. */
  penalize(peer: string, reason: string): void;
  /**
   * Whether an error a stream raised (a frame that does not decode, a length
   * prefix over the limit) is the peer's fault (`reject`), as the network's
   * one table judges it, and its stable name (`DECODE_…`, `OVERSIZED`).
   */
  judge(err: unknown): { verdict: 'accept' | 'ignore' | 'reject'; reason: string };
}

/** Where results go: IPFS in a node, anything content-addressed in tests. */
export interface ResultStore {
  /** Stores and pins; returns the CID's binary form. */
  put(bytes: Uint8Array): Promise<Uint8Array>;
  /** Bytes for a CID, checked against it. */
  get(cid: Uint8Array, opts?: { timeoutMs?: number; maxBytes?: number }): Promise<Uint8Array>;
}
