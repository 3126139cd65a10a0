// Bootstrap Solvers (src/market/bootstrap.ts, the rules as built): a fleet
// that takes any contract over 10 Li per MCU, once one more block is mined
// and at once if that block holds a handshake, else after three blocks
// without a solution. Honest Solvers and the fleet then share the contract's
// leases (FIRST_LEASE, nextLeaseSize, at most LEASE_TARGET_MS of work each).
// An event simulation of who computes, and earns, how much of one contract.
import { LEASE_TARGET_MS } from '../../src/market/authority.ts';
import { BOOTSTRAP_MIN_PRICE, type BootstrapDecision, bootstrapDecision } from '../../src/market/bootstrap.ts';
import type { ContractRecord } from '../../src/market/contract-state.ts';
import { FIRST_LEASE, nextLeaseSize } from '../../src/market/leases.ts';
import { Rng } from './random.ts';
import { fixed, table, whole } from './table.ts';

type Chain = Pick<ContractRecord, 'price' | 'openedHeight' | 'firstPayoutHeight' | 'lastPayoutHeight'>;
type Rule = (c: Chain, tip: number) => BootstrapDecision;

/** Proposed: stay out while honest Solvers are paid; go only after a quiet spell long enough to mean no one is working. */
export function quietOnly(blockSeconds: number): Rule {
  const quietBlocks = Math.max(3, Math.ceil((3 * LEASE_TARGET_MS) / 1000 / blockSeconds));
  return (c, tip) => {
    if (c.price <= BOOTSTRAP_MIN_PRICE) return { take: false, reason: `not over ${BOOTSTRAP_MIN_PRICE} Li per MCU` };
    const quiet = tip - Math.max(c.lastPayoutHeight, c.openedHeight);
    return quiet >= quietBlocks
      ? { take: true }
      : { take: false, reason: `waiting for ${quietBlocks} blocks without a solution` };
  };
}

export interface Scenario {
  name: string;
  blockSeconds: number;
  /** Seconds after the contract's block when the honest Solvers start their handshake; null: none come. */
  honestStart: number | null;
}

export interface BootstrapOptions {
  scenarios: readonly Scenario[];
  mcus: number;
  price: bigint;
  honest: number;
  fleet: number;
  /** MCU per second of one Solver (honest or bootstrap; each run varies it ±25 %). */
  rate: number;
  growth: number;
  maxBatch: number;
  runs: number;
  seed: string;
}

export const BOOTSTRAP_DOC: BootstrapOptions = {
  scenarios: [
    { name: 'mainnet: honest Solvers start within 15 s', blockSeconds: 60, honestStart: 5 },
    { name: 'mainnet: honest Solvers start a block later', blockSeconds: 60, honestStart: 65 },
    { name: 'mainnet: honest Solvers start 5 blocks later', blockSeconds: 60, honestStart: 305 },
    { name: 'mainnet: no honest Solver', blockSeconds: 60, honestStart: null },
    { name: 'devnet (1 s blocks): honest Solvers start at once', blockSeconds: 1, honestStart: 0 },
  ],
  mcus: 100_000_000,
  price: 20n,
  honest: 3,
  fleet: 24,
  rate: 2000,
  growth: 2,
  maxBatch: 1_048_576,
  runs: 10,
  seed: 'bootstrap',
};

const OPENED = 100;
/** Discovery, the authority's dial-back and the ack, before a Solver's first lease. */
const HANDSHAKE_S = 2;
/** From a batch's completion to its payout being in the next block. */
const PAYOUT_S = 1;

interface Worker {
  bootstrap: boolean;
  rate: number;
  free: number;
  last: number;
}

interface RunResult {
  honest: number;
  joinedAfter: number | null;
  blocks: number;
}

function run(s: Scenario, rule: Rule | null, o: BootstrapOptions, rng: Rng): RunResult {
  const T = s.blockSeconds;
  const vary = () => o.rate * (0.75 + 0.5 * rng.next());
  const workers: Worker[] = [];
  if (s.honestStart !== null) {
    const start = s.honestStart + rng.next() * Math.min(T / 2, 10);
    for (let i = 0; i < o.honest; i++)
      workers.push({ bootstrap: false, rate: vary(), free: start + HANDSHAKE_S, last: 0 });
  }
  const chain: Chain = { price: o.price, openedHeight: OPENED, firstPayoutHeight: 0, lastPayoutHeight: 0 };
  // Blocks that hold a payout: the chain's view of "a solution".
  const paidIn = new Set<number>();
  let remaining = o.mcus;
  let honest = 0;
  let joined: number | null = null;
  let finished = 0;
  const blockOf = (t: number) => OPENED + Math.ceil((t + PAYOUT_S) / T);
  for (let b = OPENED + 1; remaining > 0 || workers.some((w) => w.free > (b - OPENED - 1) * T); b++) {
    const end = (b - OPENED) * T;
    // Every lease that starts before this block is mined.
    for (;;) {
      let w: Worker | undefined;
      for (const x of workers) if (x.free < end && (!w || x.free < w.free)) w = x;
      if (!w || remaining === 0) break;
      const byTime = Math.max(1, Math.floor((LEASE_TARGET_MS / 1000) * w.rate));
      const size = Math.min(
        w.last === 0 ? FIRST_LEASE : nextLeaseSize(w.last, o.growth, o.maxBatch),
        byTime,
        remaining,
      );
      remaining -= size;
      w.last = size;
      w.free += size / w.rate;
      if (!w.bootstrap) honest += size;
      paidIn.add(blockOf(w.free));
      finished = Math.max(finished, w.free);
    }
    if (paidIn.has(b)) {
      if (chain.firstPayoutHeight === 0) chain.firstPayoutHeight = b;
      chain.lastPayoutHeight = b;
    }
    if (rule && joined === null && rule(chain, b).take) {
      joined = b - OPENED;
      for (let i = 0; i < o.fleet; i++)
        workers.push({ bootstrap: true, rate: vary(), free: end + HANDSHAKE_S, last: 0 });
    }
    if (b > OPENED + 1_000_000) throw new Error('bootstrap simulation did not finish');
  }
  return { honest: honest / o.mcus, joinedAfter: joined, blocks: blockOf(finished) - OPENED };
}

export interface BootstrapRow {
  scenario: string;
  rule: string;
  joinedAfter: string;
  honest: number;
  blocks: number;
}

export function bootstrap(o: BootstrapOptions): { rows: BootstrapRow[]; text: string } {
  const rows: BootstrapRow[] = [];
  for (const s of o.scenarios) {
    const rules: [string, Rule | null][] = [
      ['no bootstrap Solvers', null],
      ['as built', bootstrapDecision],
      ['proposed: quiet only', quietOnly(s.blockSeconds)],
    ];
    for (const [name, rule] of rules) {
      if (s.honestStart === null && rule === null) continue;
      const rng = new Rng(`${o.seed}/${s.name}/${name}`);
      const results = Array.from({ length: o.runs }, () => run(s, rule, o, rng));
      const joins = results.map((r) => r.joinedAfter).filter((j): j is number => j !== null);
      rows.push({
        scenario: s.name,
        rule: name,
        joinedAfter:
          rule === null
            ? '—'
            : joins.length === 0
              ? 'never'
              : `${range(joins)}${joins.length < results.length ? ' (some runs never)' : ''}`,
        honest: results.reduce((a, r) => a + r.honest, 0) / o.runs,
        blocks: results.reduce((a, r) => a + r.blocks, 0) / o.runs,
      });
    }
  }
  const text = [
    `One contract of ${whole(o.mcus)} MCUs at ${o.price} Li; ${o.honest} honest Solvers against a fleet of ${o.fleet} bootstrap Solvers, each about ${whole(o.rate)} MCU/s (±25 %); leases 1, ${o.growth}, ${o.growth ** 2}, … up to ${LEASE_TARGET_MS / 1000} s of work; a payout is on chain in the first block mined after it. Mean of ${o.runs} runs, seed "${o.seed}".`,
    '',
    table(
      ['scenario', 'bootstrap rule', 'fleet joins after (blocks)', 'honest share of the MCUs', 'blocks to finish'],
      rows.map((r) => [r.scenario, r.rule, r.joinedAfter, fixed(r.honest, 3), whole(r.blocks)]),
    ),
  ].join('\n');
  return { rows, text };
}

function range(xs: readonly number[]): string {
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}
