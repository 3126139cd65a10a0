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
import { mayAuthorize } from './authorize.ts';
import { type BootstrapDecision, bootstrapDecision } from './bootstrap.ts';
import type { MarketChain } from './chain-view.ts';
import { STATUS_OPEN } from './contract-state.ts';
import { payoutFee, payoutRules } from './contract-tx.ts';
import type { FrameStream, MarketHost, ResultStore } from './host.ts';
import { type Ack, ackMessage, discoveryCommitment, type Lease, signDiscovery } from './messages.ts';
import { encodeResults } from './results.ts';

/** What measuring one contract's speed may cost a Solver at most, ms. */
export const MEASURE_DEADLINE_MS = 5_000;
/** A contract that failed its measurement is measured again after this, doubling up to the maximum. */
export const MEASURE_RETRY_MS = 60_000;
export const MEASURE_RETRY_MAX_MS = 60 * 60_000;

export class SolverError extends ZiError<'BAD_ACK' | 'NOT_AUTHORITY' | 'NO_CONTRACT'> {}

/** Where the Solver sends the payouts it got signed: the node's mempool. */
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

export interface Candidate {
  id: Hash;
  price: bigint;
  /** Measured MCUs per second on this machine, all threads. */
  rate: number;
  /** Expected Li per second: what the ranking sorts by. */
  score: number;
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
 * worker sandboxes, and submits the payouts it gets signed.
 */
export class Solver extends EventEmitter<{
  progress: [SolverProgress];
  waiting: [string];
  /** A session began: the Solver computes for this contract (solver-status.ts follows these events). */
  session: [{ contract: string; authority?: string }];
  /** Idle on purpose for `ms` before it tries again. */
  backoff: [{ reason: string; ms?: number; contract?: string }];
}> {
  private readonly d: Required<Omit<SolverDeps, 'contract' | 'tamper' | 'processes'>> &
    Pick<SolverDeps, 'contract' | 'tamper' | 'processes'>;
  private readonly pub: Uint8Array;
  private running = false;
  private loop?: Promise<void>;
  private engines?: Engines;
  /** Measured rates; a failed measurement (rate 0) is retried at retryAt. */
  private readonly rates = new Map<string, { rate: number; backoff: number; retryAt: number }>();
  private readonly stop$ = new AbortController();
  /** The session's stream, so stop() can end it at once. */
  private current?: FrameStream;
  private awaiting?: { contract: Hash; resolve: (s: FrameStream) => void };
  readonly stats = { mcus: 0, earned: 0n, payouts: 0 };

  constructor(deps: SolverDeps) {
    super();
    this.d = {
      minPrice: 1n,
      bootstrap: false,
      clock: Date.now,
      discoveryIntervalMs: 3_000,
      ...deps,
    };
    this.pub = publicKeyOf(deps.key);
  }

  get address(): Uint8Array {
    return addressOf(this.pub);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.d.host.onStream((stream) => {
      const waiting = this.awaiting;
      if (waiting) waiting.resolve(stream);
      else stream.abort(new Error('not waiting for an authority'));
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

  /** Open contracts this Solver may take, best expected pay per second first. */
  async rank(): Promise<Candidate[]> {
    const out: Candidate[] = [];
    const tip = this.d.chain.height;
    for await (const [id, c] of this.d.chain.contracts()) {
      if (c.status !== STATUS_OPEN || c.price < this.d.minPrice) continue;
      if (this.d.contract && !equalBytes(id, this.d.contract)) continue;
      if (this.d.bootstrap && !bootstrapDecision(c, tip).take) continue;
      const rate = await this.measure(id);
      if (rate > 0) out.push({ id, price: c.price, rate, score: Number(c.price) * rate });
    }
    return out.sort((a, b) => b.score - a.score);
  }

  /** MCUs per second of a contract on this machine, from a short timed sample. */
  private async measure(id: Hash): Promise<number> {
    const key = toHex(id);
    const known = this.rates.get(key);
    if (known !== undefined && (known.rate > 0 || this.d.clock() < known.retryAt)) return known.rate;
    let rate = 0;
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
    this.rates.set(key, { rate, backoff, retryAt: this.d.clock() + backoff });
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
        const [best] = await this.rank();
        if (!best) {
          this.wait('no open contract to work on yet');
          await this.nextTip(5_000);
          continue;
        }
        const answered = await this.announce(best.id);
        if (answered) await this.session(answered.stream, best.id, answered.commitments);
      } catch (err) {
        if (!this.running) break;
        const reason = err instanceof Error ? err.message : String(err);
        this.d.logger.warn({ err: reason }, 'solving round failed; retrying');
        this.emit('backoff', { reason, ms: 1_000 });
        await sleep(1_000, undefined, { signal: this.stop$.signal }).catch(() => undefined);
      }
    }
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

  /** Publishes discoveries until the contract's authority dials back (or gives up after a while). */
  private async announce(contract: Hash): Promise<{ stream: FrameStream; commitments: Hash[] } | undefined> {
    const got = Promise.withResolvers<FrameStream>();
    // The authority may answer any discovery of this round, not just the latest.
    const commitments: Hash[] = [];
    const deadline = this.d.clock() + 30_000;
    this.wait(`asking the authority of ${toHex(contract).slice(0, 16)}… for a lease`);
    try {
      while (this.running && this.d.clock() < deadline) {
        const disc = signDiscovery(
          { peerId: this.d.host.peerId, addrs: this.d.host.addrs(), contract, timestamp: this.d.clock() },
          this.d.key,
          this.pub,
        );
        commitments.push(discoveryCommitment(disc));
        this.awaiting = { contract, resolve: got.resolve };
        await this.d.host.publishDiscovery(disc).catch((err: Error) => {
          this.d.logger.debug({ err: err.message }, 'discovery not published (no peers yet?)');
        });
        const stream = await Promise.race([
          got.promise,
          sleep(this.d.discoveryIntervalMs, undefined, { signal: this.stop$.signal }).then(() => undefined),
        ]);
        if (stream) return { stream, commitments };
      }
      this.wait(`no answer from the authority of ${toHex(contract).slice(0, 16)}…`);
      return undefined;
    } finally {
      this.awaiting = undefined;
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

  private async session(stream: FrameStream, contract: Hash, commitments: Hash[]): Promise<void> {
    const key = toHex(contract);
    const log = { contract: key.slice(0, 16), authority: stream.remotePeer };
    this.current = stream;
    if (!this.running) stream.abort(new Error('the Solver is stopping'));
    try {
      const first = await stream.read(10_000);
      if (first.type !== 'ack') throw new SolverError('BAD_ACK', `expected an acknowledgement, got ${first.type}`);
      this.checkAck(first, contract, commitments);
      const c = this.d.chain.contract(contract)!;
      const engines = await this.engines$(contract);
      this.d.logger.info(log, 'handshake done; solving');
      this.emit('session', { contract: key, authority: stream.remotePeer });
      this.lastWait = undefined;
      // Leases come ahead of need: one computing, the next waiting, so no time is lost between batches.
      const queue: Lease[] = [];
      let lease: Lease | undefined = first.lease;
      let computing = this.timed(engines, lease);
      while (lease && this.running) {
        const { outputs, seconds } = await computing;
        let next = queue.shift();
        if (next) computing = this.timed(engines, next);
        const bytes = encodeResults({ contract, ranges: [{ start: lease.start, end: lease.end }], outputs });
        const cid = cidOf(bytes).bytes;
        await this.d.results.put(bytes);
        const draft = {
          contract,
          lease,
          price: c.price,
          timestamp: this.d.clock(),
          cid,
          authority: first.authorityKey,
          authoritySig: new Uint8Array(64),
        };
        const fee = payoutFee(this.d.chain.minFeePerByte, {
          ranges: [{ start: lease.start, end: lease.end }],
          cid,
        });
        await stream.write({
          type: 'result',
          leaseId: lease.id,
          price: c.price,
          fee,
          timestamp: draft.timestamp,
          cid,
          results: bytes,
        });
        const wait = Math.max(30_000, (lease.end - lease.start) * 10);
        let reply = await stream.read(wait);
        while (reply.type === 'lease') {
          if (next) queue.push(reply.lease);
          else {
            next = reply.lease;
            computing = this.timed(engines, next);
          }
          reply = await stream.read(wait);
        }
        if (reply.type === 'done') {
          this.d.logger.info({ ...log, reason: reply.reason, message: reply.message }, 'authority ended the session');
          return;
        }
        if (reply.type !== 'paid' || reply.leaseId !== lease.id) {
          throw new SolverError('BAD_ACK', `unexpected ${reply.type} frame`);
        }
        await this.submitPayout({ ...draft, fee, authoritySig: reply.authoritySig });
        const mcus = lease.end - lease.start;
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
      // The authority has no lease left for us: its last word is COMPLETE.
      const last = await stream.read(10_000).catch(() => undefined);
      if (last?.type === 'done') this.d.logger.info({ ...log, reason: last.reason }, 'authority ended the session');
      await stream.close().catch(() => undefined);
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      if (err instanceof SolverError) this.d.host.penalize(stream.remotePeer, err.code);
      throw err;
    }
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

  private async submitPayout(draft: PayoutDraft): Promise<void> {
    const tx = this.buildPayout(draft, this.d.mempool.nextNonce(this.address));
    await this.d.mempool.accept(tx);
  }
}
