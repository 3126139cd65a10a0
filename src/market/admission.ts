/**
 * Mempool admission of contract code (node policy, never consensus: block
 * validity does not run code). A contract from RPC or gossip must compile
 * and run its top level in a sandbox, within a short fixed deadline, and
 * each origin (a peer, or the local RPC) has a budget of sandbox time, so
 * a peer that floods hostile contracts costs this node at most its budget.
 */
import { ZiError } from '../chain/errors.ts';
import type { AdmissionPolicy } from '../chain/mempool.ts';
import { loadContract, SandboxProcesses } from '../sandbox/index.ts';
import type { ContractBody } from './contract-tx.ts';

/** The top level of a contract must finish within this at admission. */
export const ADMISSION_TIMEOUT_MS = 1_000;
/** Whole admission call, waiting for the sandbox process and its start included. */
export const ADMISSION_DEADLINE_MS = 5_000;
/** Sandbox time one origin may use at once (ms), refilled at ADMISSION_REFILL_PER_S. */
export const ADMISSION_BUDGET_MS = 5_000;
export const ADMISSION_REFILL_PER_S = 100;
/** What one admission costs at least, so cheap refusals still add up. */
const MIN_COST_MS = 20;
const MAX_ORIGINS = 10_000;

export class AdmissionError extends ZiError<'ADMISSION_BUDGET', { origin: string; retryMs: number }> {}

interface Bucket {
  ms: number;
  at: number;
}

/** Per-origin budgets of sandbox time: a token bucket, clock injected. */
export class AdmissionBudget {
  readonly #buckets = new Map<string, Bucket>();
  readonly #clock: () => number;

  constructor(clock: () => number = () => performance.now()) {
    this.#clock = clock;
  }

  /** The origin's budget now, in ms (may be negative after an expensive admission). */
  left(origin: string): number {
    const b = this.#buckets.get(origin);
    if (b === undefined) return ADMISSION_BUDGET_MS;
    return Math.min(ADMISSION_BUDGET_MS, b.ms + ((this.#clock() - b.at) / 1000) * ADMISSION_REFILL_PER_S);
  }

  /** Throws ADMISSION_BUDGET when the origin has nothing left. */
  check(origin: string): void {
    const left = this.left(origin);
    if (left > 0) return;
    const retryMs = Math.ceil((-left / ADMISSION_REFILL_PER_S) * 1000) + 1;
    throw new AdmissionError(
      'ADMISSION_BUDGET',
      `${origin} has used its sandbox time for contract admission; retry in ${Math.ceil(retryMs / 1000)} s`,
      { origin, retryMs },
    );
  }

  spend(origin: string, ms: number): void {
    const left = this.left(origin);
    this.#buckets.delete(origin);
    this.#buckets.set(origin, { ms: left - Math.max(MIN_COST_MS, ms), at: this.#clock() });
    // Forget the origin that spent longest ago: a full bucket needs no record.
    if (this.#buckets.size > MAX_ORIGINS) this.#buckets.delete(this.#buckets.keys().next().value as string);
  }
}

/**
 * The node's mempool policy for contract transactions: the code must really
 * compile and run its top level in a sandbox with the limits it declares,
 * within admission's deadline and the origin's budget; the error (with its
 * line) goes back to the Bidder. It runs in a sandbox process of its own, so
 * a contract under admission never waits behind a Solver's batch, and one
 * under attack never slows the market's sandboxes.
 */
export class ContractAdmission {
  readonly #processes = new SandboxProcesses({ max: 1 });
  readonly #budget: AdmissionBudget;

  constructor(budget = new AdmissionBudget()) {
    this.#budget = budget;
  }

  readonly policy: AdmissionPolicy = (_tx, body, origin) => {
    const b = body as ContractBody;
    return admitContractCode(b.code, { memoryLimitMiB: b.memoryMiB, timeoutMs: b.timeoutMs }, origin, {
      processes: this.#processes,
      budget: this.#budget,
    });
  };

  close(): void {
    this.#processes.close();
  }
}

export async function admitContractCode(
  code: string,
  limits: { memoryLimitMiB: number; timeoutMs: number },
  origin: string,
  { processes, budget }: { processes: SandboxProcesses; budget: AdmissionBudget },
): Promise<void> {
  budget.check(origin);
  const t0 = performance.now();
  try {
    const runtime = await loadContract(
      code,
      { memoryLimitMiB: limits.memoryLimitMiB, timeoutMs: Math.min(limits.timeoutMs, ADMISSION_TIMEOUT_MS) },
      { processes, deadlineMs: ADMISSION_DEADLINE_MS },
    );
    runtime.dispose();
  } finally {
    budget.spend(origin, performance.now() - t0);
  }
}
