import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Address, addressOf } from '../chain/address.ts';
import { equalBytes, toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import { publicKeyOf, verify } from '../chain/keys.ts';
import type { Log } from '../chain/log.ts';
import { Transaction, TX_KINDS } from '../chain/transaction.ts';
import { cidOf } from '../content/cid.ts';
import { type ContractRuntime, type JsonValue, loadContract, type SandboxProcesses } from '../sandbox/index.ts';
import { concatOutputs, type Outputs, outputList, outputsOf } from '../sandbox/outputs.ts';
import { LEASE_TARGET_MS } from './authority.ts';
import { authorityOf, mayAuthorize } from './authorize.ts';
import { type BootstrapDecision, bootstrapDecision } from './bootstrap.ts';
import type { MarketChain } from './chain-view.ts';
import { type ContractRecord, STATUS_OPEN } from './contract-state.ts';
import { batchPayoutFee, payoutFee, payoutMessage, payoutRules } from './contract-tx.ts';
import type { FrameStream, MarketHost, ResultStore } from './host.ts';
import { FIRST_LEASE, scheduleCap } from './leases.ts';
import { type Ack, ackMessage, discoveryCommitment, type Frame, type Lease, signDiscovery } from './messages.ts';
import { rangeCount, subtract } from './ranges.ts';
import {
  type BackoffPolicy,
  describeSetback,
  earnableRate,
  payableMcus,
  recordMark,
  type Setback,
  Setbacks,
} from './ranking.ts';
import { authorityReputations } from './reputation.ts';
import { encodeResults } from './results.ts';
import { memorySessionLog, type SessionLog } from './session-log.ts';

/** What measuring one contract's speed may cost a Solver at most, ms. */
export const MEASURE_DEADLINE_MS = 5_000;
/** A contract that failed its measurement is measured again after this, doubling up to the maximum. */
export const MEASURE_RETRY_MS = 60_000;
export const MEASURE_RETRY_MAX_MS = 60 * 60_000;
/** How long one round of discoveries waits for the contract's authority to dial back. */
export const ANNOUNCE_MS = 15_000;
/**
 * The most work a lease may hold at this machine's rate: three times what the
 * authority aims at (LEASE_TARGET_MS), so a lawful authority that measured the
 * Solver as slower than it is stays well inside it.
 */
export const SOLVER_LEASE_MAX_MS = 3 * LEASE_TARGET_MS;
/**
 * How long past its own compute time a Solver waits for `paid`: the
 * authority's checks (a sampled recomputation, pinning, a signature) and a
 * round trip. The sampled recomputation itself is added per batch.
 */
export const PAID_GRACE_MS = 5_000;

export class SolverError extends ZiError<
  'BAD_ACK' | 'NOT_AUTHORITY' | 'NO_CONTRACT' | 'BAD_LEASE' | 'BAD_PAYOUT' | 'BAD_FRAME' | 'NO_PAYMENT'
> {}

/** Breaches by the peer that answered: it is scored down (MarketHost.penalize). */
const PENALIZED = new Set(['BAD_ACK', 'NOT_AUTHORITY', 'BAD_LEASE', 'BAD_PAYOUT', 'BAD_FRAME']);
/** Breaches before the ack showed who answered: the peer pays, not the contract (anyone can dial a Solver). */
const BEFORE_ACK = new Set(['BAD_ACK', 'NOT_AUTHORITY']);

/** Where the Solver sends the payouts it got signed: the node's mempool. */
/** Blocks a co-signed payout waits for room in the mempool, each for at most PAYOUT_ROOM_WAIT_MS. */
const PAYOUT_ROOM_BLOCKS = 10;
const PAYOUT_ROOM_WAIT_MS = 120_000;

export interface PayoutSink {
  nextNonce(address: Address): bigint;
  accept(tx: Transaction): Promise<unknown>;
}

export interface SolverDeps {
  chain: MarketChain;
  mempool: PayoutSink;
  host: MarketHost;
  results: ResultStore;
  /** The Solver's wallet key: it signs discoveries and receives payouts. */
  key: Uint8Array;
  logger: Log;
  /** Sandboxes computing one lease side by side. */
  threads: number;
  /** The sandbox processes its contracts run in (default: the shared ones). */
  processes?: SandboxProcesses;
  /** Work this contract only; otherwise the best-paying open one. */
  contract?: Hash;
  minPrice?: bigint;
  /** The whitepaper's bootstrap-Solver rules (bootstrap.ts). */
  bootstrap?: boolean;
  clock?: () => number;
  discoveryIntervalMs?: number;
  /** How long a round of discoveries waits for an answer (default ANNOUNCE_MS). */
  announceMs?: number;
  /** Waits after setbacks (ranking.ts); tests shorten them. */
  backoff?: Partial<BackoffPolicy>;
  /** Wait for `paid` beyond a batch's compute time (default PAID_GRACE_MS). */
  paidGraceMs?: number;
  /** The most work a lease may hold at this machine's rate (default SOLVER_LEASE_MAX_MS). */
  leaseMaxMs?: number;
  /** Where it records its sessions (default: in memory only). */
  sessionLog?: SessionLog;
  /**
   * Changes outputs before they are sent: only for tests and demos of a
   * cheating Solver, which the authority must catch.
   */
  tamper?: (index: number, output: JsonValue) => JsonValue;
}

export interface SolverProgress {
  contract: string;
  /** MCUs computed and paid in this process. */
  mcus: number;
  batch: number;
  earned: bigint;
  /** MCUs per second over the last batch. */
  rate: number;
  payouts: number;
}

/** A contract or authority the Solver stays away from for a while, and why. */
export interface SetbackEvent {
  contract: string;
  reason: Setback;
  waitMs: number;
}

export interface Candidate {
  id: Hash;
  price: bigint;
  /** Measured MCUs per second on this machine, all threads. */
  rate: number;
  /** Expected Li per second that can actually be earned: what the ranking sorts by (ranking.ts). */
  score: number;
  /** MCUs the contract can still pay for. */
  payable: number;
}

/** How a session ended, for the backoff, the session log and the peer's score. */
interface Ending {
  ended: string;
  setback?: Setback;
  message?: string;
}

/** What one session did, for the session log. */
interface Tally {
  authority?: Address;
  batchesPaid: number;
  mcusPaid: number;
  batchesRejected: number;
  mcusUnpaid: number;
  /** Results sent and not yet paid. */
  outstanding?: Lease;
}

/** A payout as the Solver builds it: the authority's signature comes last. */
interface PayoutDraft {
  contract: Hash;
  lease: Lease;
  price: bigint;
  fee: bigint;
  timestamp: number;
  cid: Uint8Array;
  authority: Uint8Array;
  authoritySig: Uint8Array;
}

interface Engines {
  id: string;
  runtimes: ContractRuntime[];
  size: number | null;
}

/**
 * `zi solve`: picks the open contract that pays best per second on this
 * machine, announces itself, computes the leases the authority sends on
 * worker sandboxes, and submits the payouts it gets signed. It moves on from
 * a contract that is done, spent, closed or silent, and from an authority
 * that does not pay, and comes back when the chain shows a change or the
 * backoff runs out (ranking.ts).
 */
export class Solver extends EventEmitter<{
  progress: [SolverProgress];
  waiting: [string];
  setback: [SetbackEvent];
  /** A session began: the Solver computes for this contract (solver-status.ts follows these events). */
  session: [{ contract: string; authority?: string }];
}> {
  private readonly d: Required<Omit<SolverDeps, 'contract' | 'tamper' | 'processes' | 'backoff'>> &
    Pick<SolverDeps, 'contract' | 'tamper' | 'processes'>;
  private readonly pub: Uint8Array;
  private running = false;
  private loop?: Promise<void>;
  private engines?: Engines;
  /** Measured rates and sizes; a failed measurement (rate 0) is retried at retryAt. */
  private readonly rates = new Map<string, { rate: number; size: number | null; backoff: number; retryAt: number }>();
  /** Contracts (by id) and authorities (by `a:` address) that let this Solver down. */
  private readonly setbacks: Setbacks;
  private readonly stop$ = new AbortController();
  /** The session's stream, so stop() can end it at once. */
  private current?: FrameStream;
  private awaiting?: { contract: Hash; stream?: FrameStream; resolve: (s: FrameStream) => void };
  private payoutFee$?: bigint;
  readonly stats = { mcus: 0, earned: 0n, payouts: 0 };

  constructor(deps: SolverDeps) {
    super();
    const { backoff, ...rest } = deps;
    // `??`, not spread defaults: a caller passing `undefined` gets the default.
    this.d = {
      ...rest,
      minPrice: deps.minPrice ?? 1n,
      bootstrap: deps.bootstrap ?? false,
      clock: deps.clock ?? Date.now,
      discoveryIntervalMs: deps.discoveryIntervalMs ?? 3_000,
      announceMs: deps.announceMs ?? ANNOUNCE_MS,
      paidGraceMs: deps.paidGraceMs ?? PAID_GRACE_MS,
      leaseMaxMs: deps.leaseMaxMs ?? SOLVER_LEASE_MAX_MS,
      sessionLog: deps.sessionLog ?? memorySessionLog(),
    };
    this.setbacks = new Setbacks(backoff, this.d.clock);
    this.pub = publicKeyOf(deps.key);
  }

  get address(): Uint8Array {
    return addressOf(this.pub);
  }

  /** Its record of sessions (reputation.ts reads the batches refused from it). */
  get sessionLog(): SessionLog {
    return this.d.sessionLog;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.d.host.onStream((stream) => {
      // One stream per round of discoveries: any other is reset at once, never left open.
      const waiting = this.awaiting;
      if (waiting && !waiting.stream) {
        waiting.stream = stream;
        waiting.resolve(stream);
      } else stream.abort(new Error('not waiting for an authority'));
    });
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stop$.abort();
    // A session may be waiting on its authority for seconds: end it now.
    this.current?.abort(new Error('the Solver is stopping'));
    await this.loop?.catch(() => undefined);
    this.disposeEngines();
  }

  private disposeEngines(): void {
    for (const r of this.engines?.runtimes ?? []) r.dispose();
    this.engines = undefined;
  }

  private async engines$(id: Hash): Promise<Engines> {
    const key = toHex(id);
    if (this.engines?.id === key) return this.engines;
    this.disposeEngines();
    const body = await this.d.chain.contractBody(id);
    const limits = { memoryLimitMiB: body.memoryMiB, timeoutMs: body.timeoutMs };
    const runtimes = await Promise.all(
      Array.from({ length: this.d.threads }, () => loadContract(body.code, limits, { processes: this.d.processes })),
    );
    this.engines = { id: key, runtimes, size: runtimes[0]!.size };
    return this.engines;
  }

  /** What one payout's fee draws from escrow (all one-range payouts with a results CID are the same size). */
  private get payoutFee(): bigint {
    this.payoutFee$ ??= batchPayoutFee(this.d.chain.minFeePerByte);
    return this.payoutFee$;
  }

  /** Open contracts this Solver may take now, best expected pay per second first. */
  async rank(): Promise<Candidate[]> {
    return (await this.survey()).ranked;
  }

  /**
   * Every open contract this Solver could take, scored by what it can
   * actually earn there (ranking.ts), with the reasons the others are out.
   */
  private async survey(): Promise<{ ranked: Candidate[]; out: string[]; idle: string }> {
    const tip = this.d.chain.height;
    const all: [Hash, ContractRecord][] = [];
    for await (const entry of this.d.chain.contracts()) all.push(entry);
    const reputations = authorityReputations(all.map(([, record]) => ({ record })));
    const ranked: Candidate[] = [];
    const out: string[] = [];
    let open = 0;
    let cheap = 0;
    for (const [id, c] of all) {
      if (this.d.contract && !equalBytes(id, this.d.contract)) continue;
      if (c.status !== STATUS_OPEN) continue;
      open++;
      if (c.price < this.d.minPrice) {
        cheap++;
        continue;
      }
      const name = `${toHex(id).slice(0, 16)}…`;
      if (this.d.bootstrap) {
        const decision = bootstrapDecision(c, tip);
        if (!decision.take) {
          out.push(`${name}: ${decision.reason}`);
          continue;
        }
      }
      const authority = authorityOf(c);
      const held = this.setbacks.standing(toHex(id), recordMark(c)) ?? this.setbacks.standing(`a:${toHex(authority)}`);
      if (held) {
        out.push(`${name}: ${describeSetback(held)}`);
        continue;
      }
      const terms = { price: c.price, validationFee: c.validationFee, escrow: c.escrow, payoutFee: this.payoutFee };
      // A spent escrow shows without running the contract.
      if (payableMcus({ ...terms, remaining: null }) <= 0) {
        out.push(`${name}: its escrow is spent`);
        continue;
      }
      const rate = await this.measure(id);
      if (rate <= 0) {
        out.push(`${name}: its code does not run here (measured again later)`);
        continue;
      }
      const size = this.rates.get(toHex(id))?.size ?? null;
      const remaining =
        size === null ? null : rangeCount(subtract([{ start: 0, end: size }], this.d.chain.paidRanges(id)));
      const offer = {
        ...terms,
        remaining,
        rate,
        provenPayer: (reputations.get(toHex(authority))?.mcusPaid ?? 0n) > 0n,
      };
      const score = earnableRate(offer);
      if (score <= 0) {
        out.push(`${name}: ${remaining === 0 ? 'every index is paid' : 'its escrow is spent'}`);
        continue;
      }
      ranked.push({ id, price: c.price, rate, score, payable: payableMcus(offer) });
    }
    let idle = 'no open contract to work on yet';
    if (this.d.contract && open === 0) {
      const c = this.d.chain.contract(this.d.contract);
      idle = c
        ? `contract ${toHex(this.d.contract).slice(0, 16)}… is closed`
        : `contract ${toHex(this.d.contract).slice(0, 16)}… is not on chain (yet)`;
    } else if (open > 0 && cheap === open) {
      idle = `no open contract pays ${this.d.minPrice} Li per MCU or more`;
    }
    if (out.length > 0) {
      const more = out.length > 3 ? `; and ${out.length - 3} more` : '';
      idle = `nothing to work on: ${out.slice(0, 3).join('; ')}${more}`;
    }
    return { ranked: ranked.sort((a, b) => b.score - a.score), out, idle };
  }

  /** MCUs per second of a contract on this machine, from a short timed sample. */
  private async measure(id: Hash): Promise<number> {
    const key = toHex(id);
    const known = this.rates.get(key);
    if (known !== undefined && (known.rate > 0 || this.d.clock() < known.retryAt)) return known.rate;
    let rate = 0;
    let size: number | null = null;
    // One deadline for the whole measurement: a contract that hangs whoever
    // runs it costs this Solver at most MEASURE_DEADLINE_MS, and is then
    // skipped; it is measured again only after a backoff that doubles (a
    // slow machine under load may have misjudged an honest contract).
    const deadline = performance.now() + MEASURE_DEADLINE_MS;
    const left = () => Math.max(1, deadline - performance.now());
    try {
      const body = await this.d.chain.contractBody(id);
      const rt = await loadContract(
        body.code,
        { memoryLimitMiB: body.memoryMiB, timeoutMs: Math.min(body.timeoutMs, MEASURE_DEADLINE_MS) },
        { processes: this.d.processes, deadlineMs: left() },
      );
      try {
        size = rt.size;
        let n = 1;
        for (;;) {
          const count = rt.size === null ? n : Math.min(n, rt.size);
          const t0 = performance.now();
          await rt.runRange(0, count, { deadlineMs: left() });
          const ms = performance.now() - t0;
          // Bounded so a cheap MCU's sample stays small; the rate is what counts, not the total.
          if (ms > 50 || count === rt.size || n >= 1 << 16) {
            rate = (count / Math.max(ms, 0.001)) * 1000 * this.d.threads;
            break;
          }
          n *= 8;
        }
      } finally {
        rt.dispose();
      }
    } catch (err) {
      this.d.logger.warn(
        { contract: key.slice(0, 16), err: (err as Error).message },
        'contract does not run here; skipped',
      );
    }
    const backoff = Math.min(MEASURE_RETRY_MAX_MS, 2 * (known?.backoff ?? MEASURE_RETRY_MS / 2));
    this.rates.set(key, { rate, size, backoff, retryAt: this.d.clock() + backoff });
    return rate;
  }

  /** For `--bootstrap` progress lines: why a contract is not taken yet. */
  bootstrapStatus(id: Hash): BootstrapDecision | undefined {
    const c = this.d.chain.contract(id);
    return c ? bootstrapDecision(c, this.d.chain.height) : undefined;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const { ranked, idle } = await this.survey();
        const best = ranked[0];
        if (!best) {
          this.wait(idle);
          const next = this.setbacks.nextExpiry();
          await this.nextTip(next === undefined ? 5_000 : Math.max(50, Math.min(5_000, next - this.d.clock())));
          continue;
        }
        const before = this.d.chain.contract(best.id);
        const answered = await this.announce(best.id);
        if (!this.running) break;
        if (!answered) {
          this.setback(best.id, 'silent', undefined, before);
          continue;
        }
        await this.session(answered.stream, best, answered.commitments);
      } catch (err) {
        if (!this.running) break;
        this.d.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'solving round failed; retrying');
        await sleep(1_000, undefined, { signal: this.stop$.signal }).catch(() => undefined);
      }
    }
  }

  /** Keeps the contract (and, for lost pay and breaches, its authority) out for a while. */
  /** `record`: the contract as it stood when the failed attempt began, so a change since then ends the wait. */
  private setback(id: Hash, reason: Setback, authority?: Address, record = this.d.chain.contract(id)): void {
    const standing = this.setbacks.note(toHex(id), reason, record && recordMark(record));
    if (authority && (reason === 'unpaid' || reason === 'breach')) this.setbacks.note(`a:${toHex(authority)}`, reason);
    const contract = toHex(id);
    this.d.logger.info({ contract: contract.slice(0, 16), reason, waitMs: standing.waitMs }, 'backing off');
    this.emit('setback', { contract, reason, waitMs: standing.waitMs });
  }

  private lastWait?: string;

  /** Says why the Solver is idle, once per reason rather than once per block. */
  private wait(why: string): void {
    if (why === this.lastWait) return;
    this.lastWait = why;
    this.emit('waiting', why);
  }

  /** Resolves on the next block (a new contract may be in it), or after `ms`. */
  private nextTip(ms: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(done, ms);
    const signal = this.stop$.signal;
    const unsubscribe = this.d.chain.onTip(done);
    function done() {
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
    return promise;
  }

  /** Publishes discoveries until the contract's authority dials back (or gives up after announceMs). */
  private async announce(contract: Hash): Promise<{ stream: FrameStream; commitments: Hash[] } | undefined> {
    const got = Promise.withResolvers<FrameStream>();
    // The authority may answer any discovery of this round, not just the latest.
    const commitments: Hash[] = [];
    const deadline = this.d.clock() + this.d.announceMs;
    this.wait(`asking the authority of ${toHex(contract).slice(0, 16)}… for a lease`);
    const round: NonNullable<typeof this.awaiting> = { contract, resolve: got.resolve };
    this.awaiting = round;
    let used: FrameStream | undefined;
    try {
      while (this.running && this.d.clock() < deadline) {
        const disc = signDiscovery(
          { peerId: this.d.host.peerId, addrs: this.d.host.addrs(), contract, timestamp: this.d.clock() },
          this.d.key,
          this.pub,
        );
        commitments.push(discoveryCommitment(disc));
        await this.d.host.publishDiscovery(disc).catch((err: Error) => {
          this.d.logger.debug({ err: err.message }, 'discovery not published (no peers yet?)');
        });
        const wait = Math.max(1, Math.min(this.d.discoveryIntervalMs, deadline - this.d.clock()));
        used = await Promise.race([
          got.promise,
          sleep(wait, undefined, { signal: this.stop$.signal }).then(
            () => undefined,
            () => undefined,
          ),
        ]);
        if (used) return { stream: used, commitments };
      }
      return undefined;
    } finally {
      this.awaiting = undefined;
      // Answered just as the round ended: nobody will read it, so it is reset rather than left open.
      if (round.stream && round.stream !== used) round.stream.abort(new Error('the round of discoveries is over'));
    }
  }

  private checkAck(frame: Ack, contract: Hash, commitments: Hash[]): void {
    if (!commitments.some((c) => equalBytes(frame.commitment, c)))
      throw new SolverError('BAD_ACK', 'the acknowledgement answers another discovery');
    const message = ackMessage({ authorityKey: frame.authorityKey, commitment: frame.commitment, addrs: frame.addrs });
    if (!verify(frame.signature, message, frame.authorityKey))
      throw new SolverError('BAD_ACK', 'the acknowledgement is not signed');
    const c = this.d.chain.contract(contract);
    if (!c || !mayAuthorize(c, addressOf(frame.authorityKey)))
      throw new SolverError('NOT_AUTHORITY', "the peer that answered is not the contract's authority");
  }

  /**
   * One session with the contract's authority. However it ends, the stream
   * is closed (after a `done` or the last lease) or reset (anything else),
   * never left open: a connection holds only a few market streams
   * (MARKET_STREAM_LIMITS), and streams left half-open once jammed a Solver
   * for good. Then the ending goes into the backoff and the session log.
   */
  private async session(stream: FrameStream, cand: Candidate, commitments: Hash[]): Promise<void> {
    const contract = cand.id;
    const key = toHex(contract);
    const log = { contract: key.slice(0, 16), authority: stream.remotePeer };
    const tally: Tally = { batchesPaid: 0, mcusPaid: 0, batchesRejected: 0, mcusUnpaid: 0 };
    const before = this.d.chain.contract(contract);
    this.current = stream;
    let ending: Ending;
    try {
      if (!this.running) throw new Error('the Solver is stopping');
      ending = await this.work(stream, cand, commitments, tally, log);
      await stream.close().catch(() => stream.abort(new Error('the stream did not close')));
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      if (!this.running) {
        // Stopping cut it short: nobody's fault, and what was sent may yet have been paid.
        ending = { ended: 'STOPPED' };
        tally.outstanding = undefined;
      } else {
        ending = this.failure(err, tally);
        if (err instanceof SolverError && PENALIZED.has(err.code)) this.d.host.penalize(stream.remotePeer, err.code);
      }
    } finally {
      if (this.current === stream) this.current = undefined;
    }
    if (tally.outstanding) tally.mcusUnpaid += tally.outstanding.end - tally.outstanding.start;
    const level = ending.setback && ending.setback !== 'complete' ? 'warn' : 'info';
    this.d.logger[level]({ ...log, reason: ending.ended, message: ending.message }, 'session ended');
    if (!tally.authority) return; // no ack: nothing known of the contract's authority yet
    this.d.sessionLog.append({
      at: this.d.clock(),
      contract: key,
      authority: toHex(tally.authority),
      batchesPaid: tally.batchesPaid,
      mcusPaid: tally.mcusPaid,
      batchesRejected: tally.batchesRejected,
      mcusUnpaid: tally.mcusUnpaid,
      ended: /^[A-Z_]{1,64}$/.test(ending.ended) ? ending.ended : 'OTHER',
    });
    if (ending.setback) this.setback(contract, ending.setback, tally.authority, before);
  }

  /** What an exception that ended a session means for the contract. */
  private failure(err: unknown, tally: Tally): Ending {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof SolverError) {
      if (BEFORE_ACK.has(err.code)) return { ended: err.code, message };
      if (err.code === 'NO_PAYMENT') return { ended: err.code, setback: 'unpaid', message };
      return { ended: err.code, setback: 'breach', message };
    }
    // The stream broke (closed, reset, timed out) or this side failed.
    return { ended: 'ERROR', setback: tally.outstanding ? 'unpaid' : 'interrupted', message };
  }

  /** What the authority's `done` means for the contract. */
  private done(frame: { reason: string; message: string }, tally: Tally): Ending {
    const setback: Setback =
      frame.reason === 'COMPLETE'
        ? 'complete'
        : frame.reason === 'BUDGET_EXHAUSTED'
          ? 'exhausted'
          : frame.reason === 'NOT_AUTHORITY'
            ? 'not-authority'
            : frame.reason === 'EXPIRED'
              ? 'interrupted'
              : 'refused';
    if (setback === 'refused' && tally.outstanding) tally.batchesRejected++;
    return { ended: frame.reason, setback, message: frame.message };
  }

  private async work(
    stream: FrameStream,
    cand: Candidate,
    commitments: Hash[],
    tally: Tally,
    log: object,
  ): Promise<Ending> {
    const contract = cand.id;
    const key = toHex(contract);
    const first = await this.read(stream, 10_000, 'BAD_ACK');
    if (first.type !== 'ack') throw new SolverError('BAD_ACK', `expected an acknowledgement, got ${first.type}`);
    this.checkAck(first, contract, commitments);
    const authority = addressOf(first.authorityKey);
    tally.authority = authority;
    const c = this.d.chain.contract(contract)!;
    const engines = await this.engines$(contract);
    this.d.logger.info(log, 'handshake done; solving');
    this.emit('session', { contract: key, authority: stream.remotePeer });
    this.lastWait = undefined;
    let received = 0;
    let rate = cand.rate;
    // Every lease is checked before any of it is computed: a lease too large
    // for the contract or for this machine is the authority's breach, and what
    // a Solver computes for an authority that never pays stays bounded.
    const admit = (l: Lease): Lease => {
      const size = l.end - l.start;
      const cap = scheduleCap(received++, c.growth, c.maxBatch);
      const byTime = Math.max(FIRST_LEASE, Math.floor((rate * this.d.leaseMaxMs) / 1000));
      if (size > c.maxBatch)
        throw new SolverError('BAD_LEASE', `a lease of ${size} MCUs, over the contract's maximum batch ${c.maxBatch}`);
      if (size > cap)
        throw new SolverError('BAD_LEASE', `lease ${received} is ${size} MCUs; the schedule allows ${cap}`);
      if (size > byTime) {
        throw new SolverError(
          'BAD_LEASE',
          `a lease of ${size} MCUs is over ${this.d.leaseMaxMs / 1000} s of work here (${byTime} MCUs)`,
        );
      }
      if (engines.size !== null && l.end > engines.size)
        throw new SolverError('BAD_LEASE', `a lease past the contract's last index ${engines.size - 1}`);
      return l;
    };
    // Leases come ahead of need: one computing, the next waiting, so no time is lost between batches.
    const queue: Lease[] = [];
    let lease: Lease | undefined = admit(first.lease);
    let computing = this.timed(engines, lease);
    while (lease && this.running) {
      const { outputs, seconds } = await computing;
      const mcus = lease.end - lease.start;
      rate = Math.max(rate, mcus / Math.max(seconds, 1e-6));
      let next = queue.shift();
      if (next) computing = this.timed(engines, next);
      const ranges = [{ start: lease.start, end: lease.end }];
      const bytes = encodeResults({ contract, ranges, outputs });
      const cid = cidOf(bytes).bytes;
      await this.d.results.put(bytes);
      const fee = payoutFee(this.d.chain.minFeePerByte, { ranges, cid });
      const draft = {
        contract,
        lease,
        price: c.price,
        fee,
        timestamp: this.d.clock(),
        cid,
        authority: first.authorityKey,
        authoritySig: new Uint8Array(64),
      };
      await stream.write({
        type: 'result',
        leaseId: lease.id,
        price: c.price,
        fee,
        timestamp: draft.timestamp,
        cid,
        results: bytes,
      });
      tally.outstanding = lease;
      // The authority recomputes a sample of the batch (all of it at a 1000 ‰ rate) on one sandbox.
      const checkMs = seconds * 1000 * Math.max(1, (this.d.threads * c.sampleRate) / 1000);
      const deadline = performance.now() + this.d.paidGraceMs + checkMs;
      let reply = await this.readBy(stream, deadline);
      while (reply.type === 'lease') {
        // One lease computing and one waiting, no more: more would grow the schedule past what is in flight.
        if (next && queue.length > 0) throw new SolverError('BAD_LEASE', 'more leases ahead than the protocol allows');
        admit(reply.lease);
        if (next) queue.push(reply.lease);
        else {
          next = reply.lease;
          computing = this.timed(engines, next);
        }
        reply = await this.readBy(stream, deadline);
      }
      if (reply.type === 'done') return this.done(reply, tally);
      if (reply.type !== 'paid' || reply.leaseId !== lease.id) {
        throw new SolverError('BAD_FRAME', `unexpected ${reply.type} frame`);
      }
      const terms = { contract, solver: this.address, ranges, price: c.price, fee, timestamp: draft.timestamp, cid };
      if (!verify(reply.authoritySig, payoutMessage(terms), first.authorityKey))
        throw new SolverError('BAD_PAYOUT', "the payout's co-signature does not verify");
      try {
        await this.submitPayout({ ...draft, authoritySig: reply.authoritySig });
      } catch (err) {
        // Signed but not payable (spent escrow, a range paid twice): as good as not paid.
        return { ended: 'PAYOUT_REFUSED', setback: 'unpaid', message: (err as Error).message };
      }
      tally.outstanding = undefined;
      tally.batchesPaid++;
      tally.mcusPaid += mcus;
      this.setbacks.forgive(key);
      this.setbacks.forgive(`a:${toHex(authority)}`);
      this.stats.mcus += mcus;
      this.stats.earned += BigInt(mcus) * c.price;
      this.stats.payouts++;
      this.emit('progress', {
        contract: key,
        mcus: this.stats.mcus,
        batch: mcus,
        earned: this.stats.earned,
        rate: mcus / Math.max(seconds, 1e-6),
        payouts: this.stats.payouts,
      });
      lease = next;
    }
    if (!this.running) return { ended: 'STOPPED' };
    // The authority has no lease left for us: its last word is COMPLETE.
    const last = await stream.read(10_000).catch(() => undefined);
    return last?.type === 'done' ? this.done(last, tally) : { ended: 'COMPLETE', setback: 'complete' };
  }

  /**
   * The authority's next frame. A frame it got wrong (it does not decode, its
   * length is over the limit: the network's one table judges, MarketHost.judge)
   * is a breach, `code`: BAD_ACK before the ack showed who answered.
   */
  private async read(stream: FrameStream, timeoutMs: number, code: 'BAD_ACK' | 'BAD_FRAME'): Promise<Frame> {
    try {
      return await stream.read(timeoutMs);
    } catch (err) {
      const j = this.d.host.judge(err);
      if (j.verdict !== 'reject') throw err;
      throw new SolverError(code, `${j.reason}: ${(err as Error).message}`, {}, { cause: err });
    }
  }

  /** The next frame, or NO_PAYMENT once the wait for `paid` has run out (the stream is then reset). */
  private readBy(stream: FrameStream, deadline: number): Promise<Frame> {
    const late = () => new SolverError('NO_PAYMENT', 'no payout signature in time');
    const left = deadline - performance.now();
    if (left <= 0) return Promise.reject(late());
    const read = this.read(stream, Math.ceil(left) + 1_000, 'BAD_FRAME');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(late()), left);
      read.then(
        (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        (err) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /** Computes a lease; its failure surfaces where it is awaited, never as an unhandled rejection. */
  private timed(e: Engines, lease: Lease): Promise<{ outputs: Outputs; seconds: number }> {
    const t0 = performance.now();
    const p = this.compute(e, lease).then((outputs) => ({ outputs, seconds: (performance.now() - t0) / 1000 }));
    p.catch(() => undefined);
    return p;
  }

  /** The lease split across the sandboxes, each computing a contiguous part. */
  private async compute(e: Engines, lease: Lease): Promise<Outputs> {
    const count = lease.end - lease.start;
    const parts = Math.min(e.runtimes.length, count);
    const per = Math.ceil(count / parts);
    const outputs = concatOutputs(
      await Promise.all(
        Array.from({ length: parts }, (_, k) => {
          const from = lease.start + k * per;
          return e.runtimes[k]!.outputRange(from, Math.max(0, Math.min(per, lease.end - from)));
        }),
      ),
    );
    const tamper = this.d.tamper;
    return tamper ? outputsOf(outputList(outputs).map((o, k) => tamper(lease.start + k, o))) : outputs;
  }

  private payoutFields(d: PayoutDraft, nonce: bigint) {
    return {
      kind: TX_KINDS.payout,
      nonce,
      fee: d.fee,
      cid: d.cid,
      payload: payoutRules.encode({
        contract: d.contract,
        ranges: [{ start: d.lease.start, end: d.lease.end }],
        price: d.price,
        timestamp: d.timestamp,
        authority: d.authority,
        authoritySig: d.authoritySig,
      }),
    };
  }

  private buildPayout(d: PayoutDraft, nonce: bigint): Transaction {
    return Transaction.sign(this.payoutFields(d, nonce), this.d.key, this.d.chain.genesisHash);
  }

  /**
   * A co-signed payout is work the Solver has done: with as many of its
   * transactions pending as the mempool holds for one sender, it waits for
   * blocks to take some (at most PAYOUT_ROOM_BLOCKS) instead of dropping it.
   */
  private async submitPayout(draft: PayoutDraft): Promise<void> {
    for (let waited = 0; ; waited++) {
      const tx = this.buildPayout(draft, this.d.mempool.nextNonce(this.address));
      try {
        await this.d.mempool.accept(tx);
        return;
      } catch (err) {
        const full = err instanceof ZiError && err.code === 'TOO_MANY_PENDING';
        if (!full || waited === PAYOUT_ROOM_BLOCKS || this.stop$.signal.aborted) throw err;
        this.d.logger.info(
          { contract: toHex(draft.contract).slice(0, 16) },
          'payout waits for a block: too many pending',
        );
        await this.nextTip(PAYOUT_ROOM_WAIT_MS);
      }
    }
  }
}
