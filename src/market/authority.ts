import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type Address, addressOf } from '../chain/address.ts';
import { toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import type { Log } from '../chain/log.ts';
import type { ContractRuntime, SandboxPool } from '../sandbox/index.ts';
import { mayAuthorize } from './authorize.ts';
import { BatchError, checkBatch } from './batch-check.ts';
import type { MarketChain } from './chain-view.ts';
import { STATUS_OPEN } from './contract-state.ts';
import { batchPayoutFee } from './contract-tx.ts';
import type { FrameStream, MarketHost, ResultStore } from './host.ts';
import { FIRST_LEASE, LeaseBook, type LeaseStatus, nextLeaseSize } from './leases.ts';
import { DISCOVERY_MAX_AGE_MS, type Discovery, discoveryCommitment, type Frame, type Lease } from './messages.ts';
import { overlaps, type Range } from './ranges.ts';
import { MAX_RESULTS_BYTES } from './results.ts';
import type { Signer, Signers } from './signer.ts';

export class SessionEnd extends ZiError<
  | 'BAD_FRAME'
  | 'WRONG_LEASE'
  | 'WRONG_PRICE'
  | 'FEE_TOO_HIGH'
  | 'CID_MISMATCH'
  | 'BAD_RESULT'
  | 'FAILED_VALIDATION'
  | 'BUDGET_EXHAUSTED'
  | 'EXPIRED'
  | 'NOT_AUTHORITY'
> {}

/**
 * A frame the Solver's stream could not deliver through the Solver's own
 * fault (it does not decode, its length prefix is over the limit); the code
 * is the network's name for it (MarketHost.judge: `DECODE_…`, `OVERSIZED`).
 */
export class FrameFault extends ZiError {}

/**
 * Longest a lease should take at the Solver's measured rate. Long enough
 * that a batch's fixed costs (a sandbox call, a round trip, a payout) are
 * lost in its work, short enough that a Solver is paid often.
 */
export const LEASE_TARGET_MS = 10_000;

/** Endings that are nobody's fault: the Solver is not scored down for them. */
const BLAMELESS = new Set(['BUDGET_EXHAUSTED', 'EXPIRED', 'NOT_AUTHORITY']);

export interface AuthorityDeps {
  chain: MarketChain;
  host: MarketHost;
  results: ResultStore;
  sandboxes: SandboxPool;
  /** The keys it signs with: it serves every open contract one of them may authorize. */
  signers: Signers;
  logger: Log;
  clock?: () => number;
  /** Time a first lease (one MCU) may take; later leases get more as measured. */
  baseLeaseMs?: number;
  /** Longest a lease should take at the Solver's measured rate (default LEASE_TARGET_MS). */
  leaseTargetMs?: number;
  maxSessions?: number;
  /** A signed payout not on chain after this long gives its range back to the pool. */
  payoutGraceMs?: number;
  /**
   * TEST ONLY: sign batches whose bytes match their CID without running the
   * contract's validation — a lying Validator, which audits must catch.
   */
  signUnchecked?: boolean;
}

export interface PaidEvent {
  contract: string;
  solver: string;
  start: number;
  end: number;
  cid: Uint8Array;
}

interface ContractBook {
  book: LeaseBook;
  /** Runtimes come from the pool on each use: it disposes idle ones. */
  runtime: () => Promise<ContractRuntime>;
  price: bigint;
  growth: number;
  maxBatch: number;
  /** Per mille of each batch that the default validation recomputes (DESIGN §4 Sampling). */
  sampleRate: number;
  /** Signed payouts not yet seen on chain: escrow this authority has promised. */
  promised: { range: Range; cost: bigint; at: number }[];
}

function promisedTotal(cb: ContractBook): bigint {
  return cb.promised.reduce((n, p) => n + p.cost, 0n);
}

/**
 * The authority's side of the market (DESIGN.md §4), inside a Bidder's or a
 * Validator's node: answers discoveries for the contracts its signers may
 * authorize (a Bidder's own, a Validator's assigned ones) by dialling the Solver back,
 * leases growing ranges, checks each batch (CID, shape, `validate`), pins it
 * and signs the payout. Several Solvers at once; no index leased twice.
 */
export class Authority extends EventEmitter<{ paid: [PaidEvent]; rejected: [{ solver: string; reason: string }] }> {
  private readonly d: Required<Omit<AuthorityDeps, 'clock'>> & { clock: () => number };
  private readonly books = new Map<string, Promise<ContractBook>>();
  private readonly sessions = new Set<string>();
  private readonly seen = new Set<string>();
  /** Solver keys (per contract) whose batch broke the rules: no further lease (DESIGN.md §4). */
  private readonly refused = new Set<string>();
  private stopped = false;
  private unsubscribe?: () => void;

  constructor(deps: AuthorityDeps) {
    super();
    this.d = {
      maxSessions: 64,
      payoutGraceMs: 5 * 60_000,
      clock: Date.now,
      ...deps,
      baseLeaseMs: deps.baseLeaseMs ?? 30_000,
      leaseTargetMs: deps.leaseTargetMs ?? LEASE_TARGET_MS,
      signUnchecked: deps.signUnchecked ?? false,
    };
  }

  /** The addresses it signs as. */
  get addresses(): readonly Address[] {
    return this.d.signers.addresses;
  }

  private readonly onTip = (): void => {
    for (const [id, p] of this.books) {
      void p.then((b) => {
        const paid = this.d.chain.paidRanges(Buffer.from(id, 'hex'));
        b.book.setPaid(paid);
        const now = this.d.clock();
        b.promised = b.promised.filter((x) => {
          if (overlaps(paid, [x.range])) return false;
          // A signed payout its Solver never sent: the range is solved by nobody after all.
          if (now - x.at > this.d.payoutGraceMs) {
            b.book.unsign(x.range);
            return false;
          }
          return true;
        });
      });
    }
  };

  start(): void {
    this.d.host.onDiscovery((disc) => {
      if (!this.stopped) void this.onDiscovery(disc);
    });
    this.unsubscribe = this.d.chain.onTip(this.onTip);
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
  }

  /** The signer of this node that signs for an open contract, if any. */
  private signerFor(id: Hash): Signer | undefined {
    const c = this.d.chain.contract(id);
    if (!c || c.status !== STATUS_OPEN) return undefined;
    return this.d.signers.forContract(c, id);
  }

  async status(contract: Hash): Promise<LeaseStatus | undefined> {
    const b = this.books.get(toHex(contract));
    return b ? (await b).book.status() : undefined;
  }

  private contractBook(id: Hash): Promise<ContractBook> {
    const key = toHex(id);
    let p = this.books.get(key);
    if (!p) {
      p = (async () => {
        const body = await this.d.chain.contractBody(id);
        const limits = { memoryLimitMiB: body.memoryMiB, timeoutMs: body.timeoutMs };
        const runtime = () => this.d.sandboxes.get(key, body.code, limits);
        const book = new LeaseBook((await runtime()).size, this.d.clock);
        book.setPaid(this.d.chain.paidRanges(id));
        return {
          book,
          runtime,
          price: body.price,
          growth: body.growth,
          maxBatch: body.maxBatch,
          sampleRate: body.sampleRate,
          promised: [],
        };
      })();
      p.catch(() => this.books.delete(key));
      this.books.set(key, p);
    }
    return p;
  }

  private async onDiscovery(disc: Discovery): Promise<void> {
    // One session per Solver key and contract.
    const sessionKey = toHex(disc.solverKey) + toHex(disc.contract);
    const signer = this.signerFor(disc.contract);
    if (!signer) return;
    if (Math.abs(this.d.clock() - disc.timestamp) > DISCOVERY_MAX_AGE_MS) return;
    if (this.sessions.has(sessionKey) || this.sessions.size >= this.d.maxSessions) return;
    if (this.refused.has(sessionKey)) return;
    const dedupe = `${sessionKey}:${disc.timestamp}`;
    if (this.seen.has(dedupe)) return;
    this.seen.add(dedupe);
    if (this.seen.size > 10_000) this.seen.clear();

    this.sessions.add(sessionKey);
    const solver = addressOf(disc.solverKey);
    const log = { contract: toHex(disc.contract).slice(0, 16), solver: disc.peerId };
    let stream: FrameStream | undefined;
    let lease: Lease | undefined;
    let cb: ContractBook | undefined;
    const held: { leases: Lease[] } = { leases: [] };
    try {
      cb = await this.contractBook(disc.contract);
      // An escrow that cannot pay one more MCU is not offered: the Solver would compute for nothing.
      if (this.payable(disc.contract, cb, held) < FIRST_LEASE) return;
      lease = cb.book.lease(disc.peerId, FIRST_LEASE, this.d.baseLeaseMs);
      if (!lease) return;
      held.leases.push(lease);
      stream = await this.d.host.dial(disc.peerId, disc.addrs, 10_000);
      const ackCommit = discoveryCommitment(disc);
      const addrs = this.d.host.addrs();
      await stream.write({
        type: 'ack',
        authorityKey: signer.publicKey,
        commitment: ackCommit,
        addrs,
        signature: signer.signAck({ commitment: ackCommit, addrs }),
        lease,
      });
      this.d.logger.info({ ...log, lease: [lease.start, lease.end] }, 'solver session started');
      await this.session(stream, disc.contract, solver, signer, cb, held);
    } catch (err) {
      // Whatever the session still held when it ended goes back to the pool.
      for (const l of held.leases) cb?.book.release(l.id);
      const reason = err instanceof ZiError ? err.code : 'ERROR';
      const message = err instanceof Error ? err.message : String(err);
      this.d.logger.warn({ ...log, reason, err: message }, 'solver session ended');
      if (err instanceof SessionEnd || err instanceof FrameFault) {
        if (!BLAMELESS.has(err.code)) {
          this.refused.add(sessionKey);
          this.d.host.penalize(disc.peerId, err.code);
        }
        this.emit('rejected', { solver: disc.peerId, reason });
        await stream?.write({ type: 'done', reason, message }).catch(() => undefined);
        await stream?.close().catch(() => undefined);
      } else {
        stream?.abort(err instanceof Error ? err : new Error(message));
      }
    } finally {
      this.sessions.delete(sessionKey);
    }
  }

  private async session(
    stream: FrameStream,
    id: Hash,
    solver: Address,
    signer: Signer,
    cb: ContractBook,
    held: { leases: Lease[] },
  ): Promise<void> {
    let size = FIRST_LEASE;
    let sentAt = this.d.clock();
    let perMcuMs = 0;
    let bytesPerMcu = 0;
    // Two leases out at all times, so a Solver never waits for work: it
    // computes one while the other's results travel and are checked.
    const leaseMore = async () => {
      const byBytes = bytesPerMcu > 0 ? Math.max(1, Math.floor(MAX_RESULTS_BYTES / 2 / bytesPerMcu)) : cb.maxBatch;
      // A Solver of slow MCUs is paid every leaseTargetMs or so, however large the maximum batch.
      const byTime = perMcuMs > 0 ? Math.max(1, Math.floor(this.d.leaseTargetMs / perMcuMs)) : cb.maxBatch;
      const want = Math.min(nextLeaseSize(size, cb.growth, cb.maxBatch), byBytes, byTime, this.payable(id, cb, held));
      if (want < 1) return;
      const ttl = 2 * this.d.baseLeaseMs + Math.ceil(perMcuMs * want * 4);
      const next = cb.book.lease(stream.remotePeer, want, ttl);
      if (!next) return;
      // The schedule grows from leases actually sent, so a Solver can hold every lease to
      // min(maxBatch, growth^k) (scheduleCap) and refuse one that is larger.
      size = want;
      held.leases.push(next);
      await stream.write({ type: 'lease', lease: next });
    };
    await leaseMore();
    let lease: Lease | undefined = held.leases[0];
    while (lease && !this.stopped) {
      const frame = await this.read(stream, Math.max(1_000, lease.expiresAt - this.d.clock()));
      if (frame.type !== 'result') throw new SessionEnd('BAD_FRAME', `expected results, got ${frame.type}`);
      if (frame.leaseId !== lease.id) {
        throw new SessionEnd('WRONG_LEASE', `results for lease ${frame.leaseId}, not ${lease.id}`);
      }
      const mcus = lease.end - lease.start;
      const now = this.d.clock();
      perMcuMs = Math.max(perMcuMs * 0.5, (now - sentAt) / mcus);
      sentAt = now;
      bytesPerMcu = frame.results.length / mcus;
      await leaseMore();

      await this.check(id, cb, lease, frame);
      const cost = BigInt(mcus) * cb.price + frame.fee;
      const c = this.d.chain.contract(id);
      if (!c || c.status !== STATUS_OPEN) throw new SessionEnd('BUDGET_EXHAUSTED', 'the contract is closed');
      // A Validator that lost the contract (banned, say) stops signing for it at once.
      if (!mayAuthorize(c, signer.address)) {
        throw new SessionEnd('NOT_AUTHORITY', 'this node no longer signs for the contract');
      }
      if (cost + BigInt(mcus) * c.validationFee + promisedTotal(cb) > c.escrow) {
        throw new SessionEnd('BUDGET_EXHAUSTED', 'the contract has no escrow left for this batch');
      }
      // Checked last: a lease that ran out while its batch was checked may belong to another Solver now.
      if (cb.book.get(lease.id) === undefined) {
        throw new SessionEnd('EXPIRED', 'the lease expired before its results came');
      }
      await this.d.results.put(frame.results);
      const range = { start: lease.start, end: lease.end };
      const authoritySig = signer.signPayout({
        contract: id,
        solver,
        ranges: [range],
        price: frame.price,
        fee: frame.fee,
        timestamp: frame.timestamp,
        cid: frame.cid,
      });
      cb.promised.push({ range, cost: cost + BigInt(mcus) * c.validationFee, at: this.d.clock() });
      cb.book.settle(lease.id);
      held.leases.shift();
      this.emit('paid', { contract: toHex(id), solver: stream.remotePeer, ...range, cid: frame.cid });
      await stream.write({ type: 'paid', leaseId: lease.id, authoritySig });
      lease = held.leases[0];
    }
    const spent = !cb.book.complete && this.payable(id, cb, held) < 1;
    const done = spent
      ? { reason: 'BUDGET_EXHAUSTED', message: 'the contract has no escrow left for more leases' }
      : { reason: 'COMPLETE', message: 'no unsolved indices left to lease' };
    await stream.write({ type: 'done', ...done }).catch(() => undefined);
    await stream.close().catch(() => undefined);
  }

  /**
   * The Solver's next frame. Only errors of the read itself are judged here:
   * a DecodeError of our own data (a contract body, say) is not the Solver's.
   */
  private async read(stream: FrameStream, timeoutMs: number): Promise<Frame> {
    try {
      return await stream.read(timeoutMs);
    } catch (err) {
      const j = this.d.host.judge(err);
      if (j.verdict === 'reject') throw new FrameFault(j.reason, (err as Error).message, {}, { cause: err });
      throw err;
    }
  }

  /**
   * MCUs the escrow can still pay, after what this authority has signed and
   * the leases the session holds: a lease is never larger, so a Solver never
   * computes a batch that BUDGET_EXHAUSTED would refuse.
   */
  private payable(id: Hash, cb: ContractBook, held: { leases: Lease[] }): number {
    const c = this.d.chain.contract(id);
    if (!c || c.status !== STATUS_OPEN) return 0;
    const fee = batchPayoutFee(this.d.chain.minFeePerByte);
    const perMcu = c.price + c.validationFee;
    const heldMcus = held.leases.reduce((n, l) => n + BigInt(l.end - l.start), 0n);
    const left = c.escrow - promisedTotal(cb) - heldMcus * perMcu - BigInt(held.leases.length + 1) * fee;
    if (left < perMcu || perMcu <= 0n) return 0;
    const mcus = left / perMcu;
    return mcus > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(mcus);
  }

  /** A batch is paid only if its bytes are what its CID says and `validate` accepts them. */
  private async check(
    id: Hash,
    cb: ContractBook,
    lease: Lease,
    frame: { price: bigint; fee: bigint; cid: Uint8Array; results: Uint8Array },
  ) {
    if (frame.price !== cb.price)
      throw new SessionEnd('WRONG_PRICE', `asked ${frame.price} Li per MCU, the contract pays ${cb.price}`);
    // A payout is well under 1 KiB: a higher fee would spend the Bidder's escrow on miners.
    const maxFee = this.d.chain.minFeePerByte * 1024n;
    if (frame.fee > maxFee)
      throw new SessionEnd('FEE_TOO_HIGH', `a payout fee of ${frame.fee} Li is over ${maxFee} Li`);
    if (this.d.signUnchecked) return;
    const runtime = await cb.runtime();
    try {
      // Drawn now, after the batch arrived: the Solver could not know which
      // indices would be checked when it computed (or skipped) them.
      await checkBatch({
        contract: id,
        range: lease,
        cid: frame.cid,
        bytes: frame.results,
        runtime,
        sampleRate: cb.sampleRate,
        seed: new Uint8Array(randomBytes(32)),
      });
    } catch (err) {
      if (err instanceof BatchError) throw new SessionEnd(err.code, err.message);
      throw err;
    }
  }
}
