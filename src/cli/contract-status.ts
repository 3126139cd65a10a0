import { formatZi } from '../chain/amount.ts';
import { counted, table } from './output.ts';
import { duration, grouped } from './status-line.ts';

/** The RPC `getcontractstatus` answer (amounts as decimal strings). */
export interface StatusReport {
  id: string;
  bidder: string;
  status: 'open' | 'closed';
  price: string;
  validation: 'bidder' | 'delegated';
  validationFee: string;
  escrow: string;
  paidMcus: string;
  budget: string;
  paidToSolvers: string;
  paidRanges: [number, number][];
  payouts: number;
  size: number | null;
  rate: { mcusPerSecond: number; windowMcus: number; windowPayouts: number; windowSeconds: number };
  authority: {
    role: 'bidder' | 'validator';
    address: string;
    servedHere: boolean;
    lastPayoutHeight: number | null;
    lastPayoutTime: string | null;
  };
  /** Only from the node that is the contract's authority. */
  signedRanges?: [number, number][];
  leased?: { range: [number, number]; solver: string; expiresAt: number }[];
  remaining?: number | null;
}

const BAR = 24;
/**
 * Below this many payouts a contract's batches are still growing (1, 2, 4, …
 * MCUs per Solver), so the pace so far understates what is to come.
 */
const EARLY_PAYOUTS = 10;

/** `[██████░░░░░░]`: done out of size. */
export function progressBar(done: number, size: number): string {
  const filled = size > 0 ? Math.min(BAR, Math.floor((done / size) * BAR)) : 0;
  return `[${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}]`;
}

function li(amount: bigint): string {
  return `${grouped(amount)} Li (${formatZi(amount)} Zi)`;
}

function count(ranges: [number, number][] | undefined): number {
  return (ranges ?? []).reduce((n, [a, b]) => n + (b - a), 0);
}

function authorityText(s: StatusReport): string {
  const a = s.authority;
  const who = a.role === 'validator' ? `its Validator ${a.address}` : `the Bidder ${a.address}`;
  if (a.servedHere) return `${who}: this node serves it`;
  return `${who}, on another node (this one does not serve it)`;
}

function validationText(s: StatusReport): string {
  if (s.authority.role === 'validator') return 'validated by its Validator';
  return s.validation === 'delegated'
    ? 'delegated, but no Validator took it: validated by its Bidder'
    : 'validated by its Bidder';
}

function lastPaid(s: StatusReport, now: number): string {
  const a = s.authority;
  if (a.lastPayoutHeight === null) return 'never';
  const ago = a.lastPayoutTime ? `, ${duration((now - Date.parse(a.lastPayoutTime)) / 1000)} ago` : '';
  return `block ${a.lastPayoutHeight}${ago}`;
}

/** `zi contract status`: what a Bidder asks of a contract, every figure with its unit. */
export function contractStatusView(s: StatusReport, now = Date.now()): string {
  const paid = Number(s.paidMcus);
  const here = s.signedRanges !== undefined;
  const signed = here ? count(s.signedRanges) : paid;
  const leased = (s.leased ?? []).reduce((n, l) => n + (l.range[1] - l.range[0]), 0);
  const solvers = new Set((s.leased ?? []).map((l) => l.solver)).size;
  const size = s.size;
  const remaining = size === null ? null : Math.max(0, size - signed - leased);
  const price = BigInt(s.price);
  const perMcu = price + BigInt(s.validationFee);
  const escrow = BigInt(s.escrow);
  const rate = s.rate.mcusPerSecond;
  const rows: [string, unknown][] = [
    ['contract', s.id],
    ['status', `${s.status}, ${validationText(s)}`],
    [
      'progress',
      size === null
        ? `${grouped(paid)} MCUs paid (unbounded contract)`
        : `${progressBar(paid, size)} ${((paid / Math.max(1, size)) * 100).toFixed(1)} %  ${grouped(paid)} of ${grouped(size)} MCUs paid`,
    ],
    [
      'solved',
      here && signed > paid
        ? `${grouped(paid)} MCUs paid on chain, ${grouped(signed)} signed by this authority`
        : `${grouped(paid)} MCUs paid on chain`,
    ],
    [
      'leased',
      here
        ? `${grouped(leased)} MCUs to ${counted(solvers, 'Solver')}`
        : s.authority.servedHere
          ? 'none: no Solver has asked for work yet'
          : "unknown here (the authority's node knows its leases)",
    ],
    ['remaining', remaining === null ? 'unbounded' : `${grouped(remaining)} MCUs`],
    ['price', `${grouped(price)} Li per MCU${perMcu > price ? ` + ${grouped(perMcu - price)} Li validation fee` : ''}`],
    ['paid out', `${li(BigInt(s.paidToSolvers))} to Solvers in ${grouped(s.payouts)} payouts`],
    [
      'escrow left',
      `${li(escrow)}${perMcu > 0n && s.status === 'open' ? `, enough for about ${grouped(escrow / perMcu)} more MCUs` : ''}`,
    ],
    [
      'pace',
      rate > 0
        ? `${grouped(Math.round(rate))} MCU/s over the last ${duration(s.rate.windowSeconds)} of blocks (${s.rate.windowPayouts} payouts)`
        : `no payout in the last ${duration(s.rate.windowSeconds)} of blocks`,
    ],
    [
      'ETA',
      s.status !== 'open'
        ? '—'
        : remaining === 0
          ? 'done'
          : remaining === null || rate === 0
            ? 'unknown (no recent pace)'
            : `about ${duration((remaining + leased) / rate)} at this pace${s.payouts < EARLY_PAYOUTS ? ' (early: batches still double, so it should be sooner)' : ''}`,
    ],
    ['authority', authorityText(s)],
    ['last payout', lastPaid(s, now)],
  ];
  return table(rows);
}
