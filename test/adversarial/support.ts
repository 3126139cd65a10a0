import { generateKeyPair } from '@libp2p/crypto/keys';
import { RPC } from '@libp2p/gossipsub/message';
import { lpStream } from '@libp2p/utils';
import { type Block, voteId } from '../../src/chain/block.ts';
import { earliestChildTime } from '../../src/chain/checks.ts';
import { targetFromDifficulty } from '../../src/chain/difficulty.ts';
import type { Hash } from '../../src/chain/hash.ts';
import { bigIntToBytes32 } from '../../src/chain/hash.ts';
import { BlockHeader, HEADER_VERSION, NONCE_OFFSET } from '../../src/chain/header.ts';
import { merkleRoot } from '../../src/chain/merkle.ts';
import type { NetworkParams } from '../../src/chain/params.ts';
import type { Transaction } from '../../src/chain/transaction.ts';
import { createHost, type ZiLibp2p } from '../../src/p2p/host.ts';
import { encodeStatus } from '../../src/p2p/messages.ts';
import { localStatus } from '../../src/p2p/status.ts';
import { wireNames } from '../../src/p2p/topics.ts';
import { type TestNode, until } from '../p2p/net.ts';
import { devnet, keypair, solve, transfer } from '../support/chain.ts';

export const names = wireNames('devnet');

interface Hooks {
  after(fn: () => Promise<void>): void;
}

export interface Tip {
  hash: Hash;
  height: number;
  timestamp: number;
}

/** A solved block on any parent, at any claimed difficulty: what an attacker can make without a node. */
export function blockOn(
  parent: Tip,
  opts: {
    txs?: Transaction[];
    votes?: Uint8Array[];
    difficulty?: number;
    timestamp?: number;
    miner?: Uint8Array;
    params?: NetworkParams;
  } = {},
): Block {
  const params = opts.params ?? devnet;
  const txs = opts.txs ?? [];
  const votes = opts.votes ?? [];
  const difficulty = opts.difficulty ?? params.Dmin * 65536;
  const header = BlockHeader.create({
    version: HEADER_VERSION,
    height: parent.height + 1,
    parent: parent.hash,
    merkleRoot: merkleRoot(
      txs.map((tx) => tx.hash()),
      votes.map(voteId),
    ),
    timestamp: opts.timestamp ?? earliestChildTime(parent.timestamp, params),
    difficulty,
    miner: opts.miner ?? new Uint8Array(20).fill(0xaa),
    nonce: 0n,
  });
  return solve({
    parent: parent.hash,
    header,
    txs,
    votes,
    prefix: header.toBytes().slice(0, NONCE_OFFSET),
    target: bigIntToBytes32(targetFromDifficulty(difficulty)),
    createdAt: 0,
  });
}

export function tipOf(b: Block): Tip {
  return { hash: b.hash(), height: b.header.height, timestamp: b.header.timestamp };
}

/** `n` blocks in a row after `from`, each from `make`. */
export function chainOn(from: Tip, n: number, make: (parent: Tip, i: number) => Block = (p) => blockOn(p)): Block[] {
  const out: Block[] = [];
  let tip = from;
  for (let i = 0; i < n; i++) {
    const b = make(tip, i);
    out.push(b);
    tip = tipOf(b);
  }
  return out;
}

/** Validly signed transfers from keys that own nothing. */
export function unfundedTransfers(n: number, genesis: Hash): Transaction[] {
  return Array.from({ length: n }, () => transfer(keypair(), keypair().address, 1_000n, 0n, genesis));
}

/** A bare libp2p peer that speaks Zi's protocols with none of a node's manners. */
export async function rawPeer(
  t: Hooks,
  target: TestNode,
  /** The answer to a sync request: one frame, or several (a getBlocks answer). */
  serve?: (req: Uint8Array) => Uint8Array | Uint8Array[] | undefined | Promise<Uint8Array>,
): Promise<ZiLibp2p> {
  const host = await createHost({
    params: devnet,
    names,
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    maxConnections: 8,
    inboundPerSecond: 100,
    isBanned: () => false,
  });
  t.after(async () => {
    await host.stop();
  });
  // It answers like a node on the same chain (status), so it is taken in as a peer.
  await host.handle(names.sync, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 1 << 20 });
    const req = (await lp.read()).subarray();
    const answer = (await serve?.(req)) ?? encodeStatus(localStatus(target.chain));
    for (const frame of Array.isArray(answer) ? answer : [answer]) await lp.write(frame);
    await stream.close();
  });
  await host.dial(target.net.host.getMultiaddrs()[0]!);
  if (serve === undefined) {
    // Requests before the status exchange are out of order (and scored): wait for it.
    const id = host.peerId.toString();
    await until('status exchanged', () => target.net.peers().some((p) => p.id === id && p.ready));
  }
  return host;
}

export async function gossipTo(host: ZiLibp2p, target: TestNode, topic: string, data: Uint8Array): Promise<void> {
  const subscribed = () => host.services.pubsub.getSubscribers(topic).some((p) => p.equals(target.net.host.peerId));
  // Right after a hang-up and a new dial, gossipsub sometimes never learns the target's
  // subscriptions (the old stream still closing; seen under load): dial again, as a node would.
  for (let attempt = 1; ; attempt++) {
    try {
      await until('the target is a subscriber', subscribed, 10_000);
      break;
    } catch (err) {
      if (attempt === 3) throw err;
      const id = host.peerId.toString();
      await host.hangUp(target.net.host.peerId);
      await until('the target saw it leave', () => target.net.peers().every((p) => p.id !== id));
      await host.dial(target.net.host.getMultiaddrs()[0]!);
      await until('status exchanged again', () => target.net.peers().some((p) => p.id === id && p.ready));
    }
  }
  await host.services.pubsub.publish(topic, data);
}

/**
 * Gossips `data` over a meshsub stream of its own: gossipsub's encoder will
 * not send a message over 4 MiB, which a node's decoder (a block plus 64 KiB)
 * still reads, so an oversized block needs a sender with another library.
 */
export async function gossipRaw(host: ZiLibp2p, target: TestNode, topic: string, data: Uint8Array): Promise<void> {
  await until('the target is a subscriber', () =>
    host.services.pubsub.getSubscribers(topic).some((p) => p.equals(target.net.host.peerId)),
  );
  const stream = await host.dialProtocol(target.net.host.peerId, '/meshsub/1.2.0');
  await lpStream(stream).write(RPC.encode({ subscriptions: [], messages: [{ topic, data }] }));
}

export function bannedAndGone(node: TestNode, peer: ZiLibp2p | string): () => boolean {
  const id = typeof peer === 'string' ? peer : peer.peerId.toString();
  return () => node.net.isBanned(id) && node.net.peers().every((p) => p.id !== id);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
