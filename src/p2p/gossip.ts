import type { GossipSub, Message, TopicValidatorResult } from '@libp2p/gossipsub';
import type { PeerId } from '@libp2p/interface';
import { Block } from '../chain/block.ts';
import { type AddResult, type Chain, LowWorkBlockError } from '../chain/chain.ts';
import { checkHeader } from '../chain/checks.ts';
import { toHex } from '../chain/encoding.ts';
import type { Mempool } from '../chain/mempool.ts';
import { Transaction } from '../chain/transaction.ts';
import { judge } from './scoring.ts';
import type { WireNames } from './topics.ts';

export interface GossipDeps {
  chain: Chain;
  mempool: Mempool;
  names: WireNames;
  misconduct(peer: string, err: unknown, what: 'block' | 'tx'): void;
  /** A gossiped block was stored (connected or side). */
  accepted(peer: string, block: Block, result: AddResult): void;
  /** A gossiped block's parent is unknown, or its timestamp is ahead of our clock. */
  held(peer: string, block: Block, why: 'orphan' | 'future'): void;
  /** A gossiped block (proof of work checked), `tip`, ends a chain of `work`, as much as our tip's and no more. */
  tie(peer: string, tip: string, work: bigint): void;
  debug(obj: object, msg: string): void;
}

/**
 * Block and transaction gossip. gossipsub awaits the topic validator before
 * it forwards anything, so a message is relayed only after it has passed
 * the full check here (a block is added to the chain, a transaction to the
 * mempool); the validator's answer (accept, ignore, reject) comes from
 * scoring's one table.
 */
export class Gossip {
  private readonly pubsub: GossipSub;
  private readonly deps: GossipDeps;
  /** Transactions being admitted from gossip, so the mempool's 'added' event does not echo them. */
  private readonly incoming = new Set<string>();
  private readonly onAdded = (tx: Transaction): void => {
    if (!this.incoming.has(toHex(tx.hash()))) this.publishTx(tx);
  };

  constructor(pubsub: GossipSub, deps: GossipDeps) {
    this.pubsub = pubsub;
    this.deps = deps;
  }

  start(): void {
    const { names } = this.deps;
    this.pubsub.topicValidators.set(names.blocks, (peer, msg) => this.validateBlock(peer, msg));
    this.pubsub.topicValidators.set(names.txs, (peer, msg) => this.validateTx(peer, msg));
    this.pubsub.subscribe(names.blocks);
    this.pubsub.subscribe(names.txs);
    this.deps.mempool.on('added', this.onAdded);
  }

  stop(): void {
    this.deps.mempool.off('added', this.onAdded);
    this.pubsub.topicValidators.delete(this.deps.names.blocks);
    this.pubsub.topicValidators.delete(this.deps.names.txs);
  }

  publishBlock(block: Block): void {
    this.publish(this.deps.names.blocks, block.toBytes(), toHex(block.hash()));
  }

  publishTx(tx: Transaction): void {
    this.publish(this.deps.names.txs, tx.toBytes(), toHex(tx.hash()));
  }

  private publish(topic: string, data: Uint8Array, id: string): void {
    this.pubsub.publish(topic, data).catch((err: unknown) => {
      this.deps.debug({ topic, id, err: String(err) }, 'gossip publish failed');
    });
  }

  private async validateBlock(from: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const { chain } = this.deps;
    const peer = from.toString();
    let block: Block | undefined;
    try {
      block = Block.fromBytes(msg.data, chain.params.maxBlockBytes, chain.params.maxTxBytes);
      // Proof of work first: it costs one hash, and a block without it costs the sender its standing.
      checkHeader(block.header, chain.params);
      // Unrequested: stored only if its chain gets more work than our tip (else LOW_WORK, not relayed).
      const result = await chain.addBlock(block, { requested: false });
      if (result === 'duplicate') return 'ignore' as TopicValidatorResult;
      this.deps.accepted(peer, block, result);
      return 'accept' as TopicValidatorResult;
    } catch (err) {
      const j = judge(err, 'block');
      if (block && (j.reason === 'UNKNOWN_PARENT' || j.reason === 'FUTURE_BLOCK')) {
        this.deps.held(peer, block, j.reason === 'UNKNOWN_PARENT' ? 'orphan' : 'future');
      }
      if (block && err instanceof LowWorkBlockError && err.code === 'NOT_AHEAD') {
        this.deps.tie(peer, toHex(block.hash()), err.meta.work);
      }
      this.deps.misconduct(peer, err, 'block');
      return j.verdict as TopicValidatorResult;
    }
  }

  private async validateTx(from: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const { chain, mempool } = this.deps;
    const peer = from.toString();
    let id: string | undefined;
    try {
      const tx = Transaction.fromBytes(msg.data, chain.params.maxTxBytes);
      id = toHex(tx.hash());
      this.incoming.add(id);
      await mempool.accept(tx, peer);
      return 'accept' as TopicValidatorResult;
    } catch (err) {
      this.deps.misconduct(peer, err, 'tx');
      return judge(err, 'tx').verdict as TopicValidatorResult;
    } finally {
      if (id !== undefined) this.incoming.delete(id);
    }
  }
}
