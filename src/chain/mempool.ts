import { EventEmitter } from 'node:events';
import { getAccount } from './accounts.ts';
import type { Address } from './address.ts';
import type { Chain, TipChange } from './chain.ts';
import { checkTransaction } from './checks.ts';
import { toHex } from './encoding.ts';
import { ZiError } from './errors.ts';
import type { Hash } from './hash.ts';
import { Heap } from './heap.ts';
import { applyTransaction, txBody } from './ledger.ts';
import { StateOverlay, type StateReader } from './state.ts';
import { MIN_TX_BYTES, type Transaction } from './transaction.ts';

export class MempoolError extends ZiError<
  | 'ALREADY_KNOWN'
  | 'FEE_TOO_LOW'
  | 'REPLACEMENT_UNDERPRICED'
  | 'MEMPOOL_FULL'
  | 'NONCE_USED'
  | 'NONCE_GAP'
  | 'TOO_MANY_PENDING'
> {}

/**
 * Transactions one sender may have pending. Admitting one applies the
 * sender's earlier pending ones first, so without a bound a sender's k-th
 * cost k applies and a queue of k cost k²/2 (Bitcoin Core bounds a
 * transaction's unconfirmed ancestors at 25 for the same reason).
 */
export const MAX_PENDING_PER_SENDER = 64;

export interface MempoolEntry {
  readonly tx: Transaction;
  readonly id: string;
  readonly sender: string;
  readonly size: number;
  /** Li per byte, as a float only for ordering; amounts stay bigint. */
  readonly feeRate: number;
  readonly addedAt: number;
}

/**
 * Node policy before the mempool takes a transaction from outside (RPC,
 * gossip): checks too costly or machine-dependent for consensus, such as
 * compiling contract code in the sandbox. `origin` names who sent it (a peer
 * id, or 'rpc'), for per-origin budgets. Registered by the node, so
 * consensus rules never load what a policy needs.
 */
export type AdmissionPolicy = (tx: Transaction, body: unknown, origin: string) => Promise<void>;

export interface MempoolOptions {
  /** Total transaction bytes held; the lowest fee rates are evicted beyond it. */
  maxBytes?: number;
  /** A replacement must pay at least this many per mille more fee. */
  replaceBumpPermille?: bigint;
}

const cheaper = (a: MempoolEntry, b: MempoolEntry) => a.feeRate < b.feeRate;

/**
 * Pending transactions, per sender in nonce order. A transaction is admitted
 * only if it applies on top of the tip state after its sender's earlier
 * pending transactions, so a sender can never have two spends of the same
 * coins pending at once.
 */
export class Mempool extends EventEmitter<{ added: [Transaction]; removed: [Transaction[]] }> {
  private readonly chain: Chain;
  private readonly byId = new Map<string, MempoolEntry>();
  private readonly bySender = new Map<string, MempoolEntry[]>();
  /**
   * Every sender's last transaction, cheapest first: the candidates for
   * eviction. Lazy: an entry pushed when it became a tail may since have
   * been replaced, mined or followed, and is dropped when it comes out.
   */
  private tails = new Heap<MempoolEntry>(cheaper);
  readonly maxBytes: number;
  private readonly bump: bigint;
  private bytes = 0;
  private readonly policies = new Map<number, AdmissionPolicy>();

  constructor(chain: Chain, opts: MempoolOptions = {}) {
    super();
    this.chain = chain;
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.bump = opts.replaceBumpPermille ?? 100n;
  }

  /** Adds the node's admission policy for a kind (at most one per kind). */
  addPolicy(kind: number, policy: AdmissionPolicy): this {
    if (this.policies.has(kind)) throw new Error(`an admission policy for kind ${kind} is already set`);
    this.policies.set(kind, policy);
    return this;
  }

  get count(): number {
    return this.byId.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  has(txid: Hash): boolean {
    return this.byId.has(toHex(txid));
  }

  get(txid: Hash): Transaction | undefined {
    return this.byId.get(toHex(txid))?.tx;
  }

  entries(): MempoolEntry[] {
    return [...this.byId.values()];
  }

  pendingOf(address: Address): Transaction[] {
    return (this.bySender.get(toHex(address)) ?? []).map((e) => e.tx);
  }

  /** The nonce a sender's next transaction should carry. */
  nextNonce(address: Address): bigint {
    return getAccount(this.chain.state, address).nonce + BigInt(this.bySender.get(toHex(address))?.length ?? 0);
  }

  /**
   * A transaction from outside (RPC, gossip): the cheap checks (known, fee,
   * nonce, balance: a map lookup each) run before the signature, and the
   * kind's admission policy (which may compile code) last, so a flood of
   * transactions that cannot be admitted costs no signature check. `origin`
   * is the peer id it came from, or 'rpc'.
   */
  async accept(tx: Transaction, origin = 'rpc'): Promise<MempoolEntry> {
    if (this.byId.has(toHex(tx.hash()))) return this.add(tx);
    this.admit(tx, { dryRun: true });
    checkTransaction(tx, this.chain.checkDeps);
    await this.policies.get(tx.kind)?.(tx, txBody(tx, this.chain.rules, this.chain), origin);
    return this.add(tx);
  }

  /** Admits a transaction or throws a typed error saying why not. */
  add(tx: Transaction): MempoolEntry {
    const entry = this.admit(tx);
    this.emit('added', tx);
    return entry;
  }

  /**
   * `dryRun`: every check but the signature, nothing changed. `applied`: the
   * tip state with the sender's pending transactions already applied (onTip
   * keeps one as it admits a sender's queue), which then takes this one too.
   */
  private admit(tx: Transaction, opts: { dryRun?: boolean; applied?: StateOverlay } = {}): MempoolEntry {
    const id = toHex(tx.hash());
    if (this.byId.has(id))
      throw new MempoolError('ALREADY_KNOWN', 'transaction is already in the mempool', { txid: id });
    const { params } = this.chain;
    const minFee = params.minFeePerByte * BigInt(tx.size);
    if (tx.fee < minFee) {
      throw new MempoolError('FEE_TOO_LOW', `fee ${tx.fee} Li is below the minimum ${minFee} Li for ${tx.size} bytes`, {
        fee: tx.fee,
        minFee,
      });
    }

    const sender = toHex(tx.from);
    const queue = this.bySender.get(sender) ?? [];
    const base = getAccount(this.chain.state, tx.from).nonce;
    const slot = Number(tx.nonce - base);
    if (tx.nonce < base) throw new MempoolError('NONCE_USED', `nonce ${tx.nonce} is already used (next is ${base})`);
    if (slot > queue.length) {
      throw new MempoolError('NONCE_GAP', `nonce ${tx.nonce} leaves a gap (next is ${base + BigInt(queue.length)})`);
    }
    if (slot === MAX_PENDING_PER_SENDER) {
      throw new MempoolError(
        'TOO_MANY_PENDING',
        `this sender has ${MAX_PENDING_PER_SENDER} transactions pending already: send more once a block takes some`,
        { pending: MAX_PENDING_PER_SENDER },
      );
    }
    const replaced = queue[slot];
    if (replaced) {
      // "At least bump per mille more", rounded up, and never less than 1 Li more.
      const more = (replaced.tx.fee * this.bump + 999n) / 1000n;
      const needed = replaced.tx.fee + (more > 0n ? more : 1n);
      if (tx.fee < needed) {
        throw new MempoolError(
          'REPLACEMENT_UNDERPRICED',
          `replacing nonce ${tx.nonce} needs a fee of at least ${needed} Li`,
          {
            needed,
          },
        );
      }
    }

    // Applying the sender's earlier pending transactions first is what
    // refuses a double spend of coins already promised in the pool.
    const ctx = this.chain.nextContext();
    const useApplied = opts.applied !== undefined && slot === queue.length;
    const overlay = new StateOverlay(useApplied ? opts.applied! : this.chain.state);
    if (!useApplied) for (const e of queue.slice(0, slot)) applyTransaction(overlay, e.tx, this.chain.rules, ctx);
    applyTransaction(overlay, tx, this.chain.rules, ctx);
    // Last, as it is the one costly check (cached, so a block of these costs nothing again).
    if (!opts.dryRun) checkTransaction(tx, this.chain.checkDeps);

    const entry: MempoolEntry = {
      tx,
      id,
      sender,
      size: tx.size,
      feeRate: Number(tx.fee) / tx.size,
      addedAt: this.chain.now(),
    };
    if (opts.dryRun) return entry;
    let freed = 0;
    for (const e of queue.slice(slot)) freed += e.size;
    this.makeRoom(entry, freed);
    if (useApplied) overlay.commitTo(opts.applied!);
    if (replaced) {
      // Later transactions of this sender may no longer apply after the replacement.
      const dropped = queue.splice(slot);
      for (const e of dropped) this.forget(e);
      queue.push(entry);
      this.index(entry, queue);
      const lost = this.readmit(dropped.slice(1));
      this.emit('removed', [replaced.tx, ...lost]);
    } else {
      queue.push(entry);
      this.index(entry, queue);
    }
    return entry;
  }

  private index(entry: MempoolEntry, queue: MempoolEntry[]): void {
    this.byId.set(entry.id, entry);
    this.bySender.set(entry.sender, queue);
    this.tails.push(entry);
    this.bytes += entry.size;
  }

  private forget(e: MempoolEntry): void {
    if (this.byId.delete(e.id)) this.bytes -= e.size;
  }

  /** Takes followers back in order; returns those that no longer apply (dropped with all after them). */
  private readmit(followers: MempoolEntry[]): Transaction[] {
    for (const [k, e] of followers.entries()) {
      try {
        this.admit(e.tx);
      } catch {
        return followers.slice(k).map((f) => f.tx);
      }
    }
    return [];
  }

  /**
   * Evicts the cheapest sender-tails until `entry` fits, or refuses it. The
   * victims are all chosen before any is removed, so a refusal evicts nobody.
   * `freed` is what admitting `entry` removes anyway (a replaced transaction
   * and its followers).
   */
  private makeRoom(entry: MempoolEntry, freed: number): void {
    const victims: MempoolEntry[] = [];
    /** Valid tails taken out of the heap that must go back unless they are evicted. */
    const taken: MempoolEntry[] = [];
    const kept = new Map<string, number>();
    let bytes = this.bytes - freed;
    try {
      while (bytes + entry.size > this.maxBytes) {
        let victim: MempoolEntry | undefined;
        for (let e = this.tails.pop(); e !== undefined; e = this.tails.pop()) {
          const queue = this.bySender.get(e.sender);
          const n = queue === undefined ? 0 : (kept.get(e.sender) ?? queue.length);
          if (n === 0 || queue![n - 1] !== e || !this.byId.has(e.id)) continue; // stale
          taken.push(e);
          if (e.sender === entry.sender) continue;
          victim = e;
          break;
        }
        if (!victim || victim.feeRate >= entry.feeRate) {
          throw new MempoolError('MEMPOOL_FULL', 'mempool is full of transactions paying a higher fee rate', {
            feeRate: entry.feeRate,
          });
        }
        victims.push(victim);
        const n = (kept.get(victim.sender) ?? this.bySender.get(victim.sender)!.length) - 1;
        kept.set(victim.sender, n);
        // The sender's transaction before it is the next candidate from that sender.
        if (n > 0) this.tails.push(this.bySender.get(victim.sender)![n - 1]!);
        bytes -= victim.size;
      }
    } catch (err) {
      for (const e of taken) this.tails.push(e);
      throw err;
    }
    for (const e of taken) if (!victims.includes(e)) this.tails.push(e);
    for (const victim of victims) {
      this.removeTail(victim);
      this.emit('removed', [victim.tx]);
    }
  }

  private removeTail(e: MempoolEntry): void {
    const queue = this.bySender.get(e.sender)!;
    queue.pop();
    if (queue.length === 0) this.bySender.delete(e.sender);
    else this.tails.push(queue.at(-1)!);
    this.forget(e);
  }

  /**
   * Transactions for a block template: fee-rate priority across senders,
   * nonce order within one, each checked against `state` as it is added.
   */
  select(state: StateReader, maxBytes: number, timestamp?: number): Transaction[] {
    const ctx = this.chain.nextContext(timestamp);
    const overlay = new StateOverlay(state);
    // Each sender's next transaction in a max-heap by fee rate (ties: the
    // sender seen first), so a pick costs O(log senders), not a scan of them
    // all: a scan made a template from 10,000 senders take 0.76 s and from
    // 100,000 take 225 s (bench/scale.bench.ts), a miner stalled by a full pool.
    const heads = new Heap<{ q: MempoolEntry[]; at: number; order: number }>((a, b) => {
      const x = a.q[a.at]!.feeRate;
      const y = b.q[b.at]!.feeRate;
      return x !== y ? x > y : a.order < b.order;
    });
    let order = 0;
    for (const q of this.bySender.values()) heads.push({ q, at: 0, order: order++ });
    const out: Transaction[] = [];
    let used = 0;
    for (let best = heads.pop(); best !== undefined; best = heads.pop()) {
      if (maxBytes - used < MIN_TX_BYTES + 4) break;
      const e = best.q[best.at]!;
      // A sender whose next transaction does not fit, or does not apply, adds nothing more.
      if (used + e.size + 4 > maxBytes) continue;
      const attempt = new StateOverlay(overlay);
      try {
        applyTransaction(attempt, e.tx, this.chain.rules, ctx);
      } catch {
        continue;
      }
      attempt.commitTo(overlay);
      out.push(e.tx);
      used += e.size + 4;
      best.at++;
      if (best.at < best.q.length) heads.push(best);
    }
    return out;
  }

  /**
   * After the tip moves: drop what was mined, take back what a reorg
   * disconnected, and keep only what still applies on the new tip.
   */
  onTip(change: TipChange): void {
    const mined = new Set<string>();
    for (const b of change.connected) for (const tx of b.txs) mined.add(toHex(tx.hash()));
    // Each sender's candidates: what a reorg disconnected, then what was pending.
    const bySender = new Map<string, Transaction[]>();
    const take = (tx: Transaction, id = toHex(tx.hash())) => {
      if (mined.has(id)) return;
      const sender = toHex(tx.from);
      const list = bySender.get(sender);
      if (list) list.push(tx);
      else bySender.set(sender, [tx]);
    };
    for (const b of [...change.disconnected].reverse()) for (const tx of b.txs) take(tx);
    for (const q of this.bySender.values()) for (const e of q) take(e.tx, e.id);
    const before = [...this.byId.values()].map((e) => e.tx);
    this.byId.clear();
    this.bySender.clear();
    this.tails = new Heap<MempoolEntry>(cheaper);
    this.bytes = 0;
    for (const txs of bySender.values()) {
      if (txs.length > 1) txs.sort((a, b) => (a.nonce < b.nonce ? -1 : a.nonce > b.nonce ? 1 : 0));
      // One state per sender that takes each admitted transaction: a queue of k costs k applies, not k²/2.
      const applied = new StateOverlay(this.chain.state);
      for (const tx of txs) {
        try {
          this.admit(tx, { applied });
        } catch {
          // No longer valid on the new tip (mined elsewhere, spent, or outbid): those after it
          // fail at the nonce check, unless it was a nonce the new branch used.
        }
      }
    }
    const gone = before.filter((tx) => !this.byId.has(toHex(tx.hash())));
    if (gone.length > 0) this.emit('removed', gone);
  }
}
