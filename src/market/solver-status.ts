import { EventEmitter } from 'node:events';
import type { SolverProgress } from './solver.ts';

/** What a Solver is doing now, as `zi solve` shows it. */
export type SolverActivity =
  | { state: 'starting' }
  | { state: 'computing'; contract: string; authority?: string }
  | { state: 'waiting'; reason: string }
  | { state: 'backing off'; reason: string; untilMs?: number };

/** The events of a Solver this tracker reads (solver.ts emits them). */
export interface SolverEvents {
  on(event: 'progress', listener: (p: SolverProgress) => void): unknown;
  on(event: 'waiting', listener: (why: string) => void): unknown;
  on(event: 'session', listener: (s: { contract: string; authority?: string }) => void): unknown;
  on(event: 'setback', listener: (b: { contract: string; reason: string; waitMs: number }) => void): unknown;
}

export interface ContractWork {
  id: string;
  mcus: number;
  earned: bigint;
  payouts: number;
  lastPaidAt: number;
}

export interface SolverSnapshot {
  activity: SolverActivity;
  startedAt: number;
  uptimeSeconds: number;
  /** This session (since the Solver started). */
  mcus: number;
  earned: bigint;
  payouts: number;
  /** MCUs per second of the latest batch, 0 before the first. */
  rate: number;
  lastBatch: number;
  contracts: ContractWork[];
}

/**
 * Follows a Solver's events and keeps what a person asks of it: what it does
 * now (computing, waiting and why, backing off), what this session earned,
 * and per contract worked. `zi solve`'s status line and the RPC
 * `getsolverstatus` read it; it never changes what the Solver does.
 */
export class SolverStatus extends EventEmitter<{ change: [SolverSnapshot]; paid: [SolverProgress] }> {
  readonly startedAt: number;
  private activity: SolverActivity = { state: 'starting' };
  private readonly work = new Map<string, ContractWork>();
  private readonly totals = { mcus: 0, earned: 0n, payouts: 0 };
  private rate = 0;
  private lastBatch = 0;
  private readonly clock: () => number;

  constructor(solver: SolverEvents, clock: () => number = Date.now) {
    super();
    this.clock = clock;
    this.startedAt = clock();
    solver.on('session', (s) => this.set({ state: 'computing', contract: s.contract, authority: s.authority }));
    solver.on('waiting', (reason) => this.set({ state: 'waiting', reason }));
    solver.on('setback', (b) =>
      this.set({
        state: 'backing off',
        reason: `${b.reason} (contract ${b.contract.slice(0, 16)})`,
        untilMs: clock() + b.waitMs,
      }),
    );
    solver.on('progress', (p) => this.paid(p));
  }

  private set(a: SolverActivity): void {
    this.activity = a;
    this.emit('change', this.snapshot());
  }

  private paid(p: SolverProgress): void {
    const w = this.work.get(p.contract) ?? { id: p.contract, mcus: 0, earned: 0n, payouts: 0, lastPaidAt: 0 };
    const price = p.batch > 0 && p.mcus > 0 ? p.earned - this.totals.earned : 0n;
    w.mcus += p.batch;
    w.earned += price;
    w.payouts++;
    w.lastPaidAt = this.clock();
    this.work.set(p.contract, w);
    this.totals.mcus = p.mcus;
    this.totals.earned = p.earned;
    this.totals.payouts = p.payouts;
    this.rate = p.rate;
    this.lastBatch = p.batch;
    if (this.activity.state !== 'computing' || this.activity.contract !== p.contract) {
      this.activity = { state: 'computing', contract: p.contract };
    }
    this.emit('paid', p);
    this.emit('change', this.snapshot());
  }

  snapshot(): SolverSnapshot {
    return {
      activity: this.activity,
      startedAt: this.startedAt,
      uptimeSeconds: Math.round((this.clock() - this.startedAt) / 1000),
      ...this.totals,
      rate: this.rate,
      lastBatch: this.lastBatch,
      contracts: [...this.work.values()].sort((a, b) => b.lastPaidAt - a.lastPaidAt),
    };
  }
}
