import { decodeAudit, STATE_AUDIT, STATUS_FINAL, VALID } from '../audit/state.ts';
import { decodeAccount } from '../chain/accounts.ts';
import { ADDRESS_SIZE, type Address } from '../chain/address.ts';
import { Reader, Writer } from '../chain/encoding.ts';
import type { Hash } from '../chain/hash.ts';
import type { BlockIndexer, IndexedBlock } from '../chain/indexer.ts';
import { txBody } from '../chain/ledger.ts';
import type { StateWriter } from '../chain/state.ts';
import {
  dbKey,
  INDEX_AUDIT_FINAL,
  INDEX_BALANCE_CHANGE,
  INDEX_CONTRACT_PAYOUT,
  INDEX_CONTRACT_SOLVER,
  INDEX_SOLVER,
  INDEX_SOLVER_PAYOUT,
  INDEX_SOLVER_RANK,
  INDEX_VALIDATOR_AUDITS,
  STATE_ACCOUNT,
  u32be,
} from '../chain/store/layout.ts';
import { TX_KINDS } from '../chain/transaction.ts';
import type { PayoutBody } from '../market/contract-tx.ts';
import { rangeCount } from '../market/ranges.ts';

/**
 * The explorer's indexes (keys in store/layout.ts under `i`): what its pages
 * need that the state does not keep, so that no page reads the whole chain.
 * Written from the block and its state changes alone, in the block's batch;
 * the chain keeps their undo (chain/indexer.ts).
 */

export interface Totals {
  mcus: bigint;
  li: bigint;
  payouts: number;
}

export interface SolverTotals extends Totals {
  firstHeight: number;
  lastHeight: number;
}

export interface AuditTally {
  passed: number;
  failed: number;
}

const key = dbKey;

export const contractSolverKey = (contract: Hash, solver: Address) => key(INDEX_CONTRACT_SOLVER, contract, solver);
export const solverKey = (solver: Address) => key(INDEX_SOLVER, solver);
/** Big-endian Li first: the leaderboard is the rank index read backwards, never a sort of every Solver. */
export const solverRankKey = (li: bigint, solver: Address) =>
  key(INDEX_SOLVER_RANK, new Writer(8).u64(li).finish(), solver);
export const validatorAuditsKey = (validator: Address) => key(INDEX_VALIDATOR_AUDITS, validator);

export function decodeTotals(raw: Uint8Array | undefined): Totals {
  if (raw === undefined) return { mcus: 0n, li: 0n, payouts: 0 };
  const r = new Reader(raw);
  const t = { mcus: r.u64(), li: r.u64(), payouts: r.u32() };
  r.end('contract solver totals');
  return t;
}

function encodeTotals(t: Totals): Uint8Array {
  return new Writer(20).u64(t.mcus).u64(t.li).u32(t.payouts).finish();
}

export function decodeSolverTotals(raw: Uint8Array | undefined): SolverTotals {
  if (raw === undefined) return { mcus: 0n, li: 0n, payouts: 0, firstHeight: 0, lastHeight: 0 };
  const r = new Reader(raw);
  const t = { mcus: r.u64(), li: r.u64(), payouts: r.u32(), firstHeight: r.u32(), lastHeight: r.u32() };
  r.end('solver totals');
  return t;
}

function encodeSolverTotals(t: SolverTotals): Uint8Array {
  return new Writer(28).u64(t.mcus).u64(t.li).u32(t.payouts).u32(t.firstHeight).u32(t.lastHeight).finish();
}

export function decodeAuditTally(raw: Uint8Array | undefined): AuditTally {
  if (raw === undefined) return { passed: 0, failed: 0 };
  const r = new Reader(raw);
  const t = { passed: r.u32(), failed: r.u32() };
  r.end('audit tally');
  return t;
}

/** One payout as the contract's index keeps it. */
export function decodeContractPayout(k: Uint8Array, v: Uint8Array) {
  const kr = new Reader(k.subarray(1 + 32));
  const height = kr.u32();
  const position = kr.u32();
  const r = new Reader(v);
  const out = { height, position, solver: r.bytes(ADDRESS_SIZE), mcus: r.u64(), li: r.u64() };
  r.end('contract payout');
  return out;
}

/** One payout as the Solver's index keeps it. */
export function decodeSolverPayout(k: Uint8Array, v: Uint8Array) {
  const kr = new Reader(k.subarray(1 + ADDRESS_SIZE));
  const height = kr.u32();
  const position = kr.u32();
  const r = new Reader(v);
  const out = { height, position, contract: r.bytes(32), mcus: r.u64() };
  r.end('solver payout');
  return out;
}

/** A balance change as signed Li. */
export function decodeBalanceChange(k: Uint8Array, v: Uint8Array): { height: number; li: bigint } {
  const height = new Reader(k.subarray(1 + ADDRESS_SIZE)).u32();
  const r = new Reader(v);
  const sign = r.u8();
  const li = r.u64();
  r.end('balance change');
  return { height, li: sign === 1 ? -li : li };
}

export function decodeAuditFinal(k: Uint8Array, v: Uint8Array): { height: number; contract: Hash; valid: boolean } {
  const r = new Reader(k.subarray(1));
  return { height: r.u32(), contract: r.bytes(32), valid: v[0] === VALID };
}

function payouts(index: StateWriter, b: IndexedBlock): void {
  const h = u32be(b.height);
  b.block.txs.forEach((tx, i) => {
    if (tx.kind !== TX_KINDS.payout) return;
    const body = txBody<PayoutBody>(tx, b.rules, b);
    const mcus = BigInt(rangeCount(body.ranges));
    const li = mcus * body.price;
    const pos = u32be(i);
    index.put(
      key(INDEX_CONTRACT_PAYOUT, body.contract, h, pos),
      new Writer(36).bytes(tx.from).u64(mcus).u64(li).finish(),
    );
    index.put(key(INDEX_SOLVER_PAYOUT, tx.from, h, pos), new Writer(40).bytes(body.contract).u64(mcus).finish());
    const cs = contractSolverKey(body.contract, tx.from);
    const c = decodeTotals(index.get(cs));
    index.put(cs, encodeTotals({ mcus: c.mcus + mcus, li: c.li + li, payouts: c.payouts + 1 }));
    const sk = solverKey(tx.from);
    const s = decodeSolverTotals(index.get(sk));
    if (s.payouts > 0) index.del(solverRankKey(s.li, tx.from));
    index.put(solverRankKey(s.li + li, tx.from), new Uint8Array(0));
    index.put(
      sk,
      encodeSolverTotals({
        mcus: s.mcus + mcus,
        li: s.li + li,
        payouts: s.payouts + 1,
        firstHeight: s.firstHeight || b.height,
        lastHeight: b.height,
      }),
    );
  });
}

const balanceOf = (raw: Uint8Array | undefined) => (raw === undefined ? 0n : decodeAccount(raw).balance);

/** Every address whose balance the block changed, by how much: what no transaction alone tells (hooks, votes, rewards). */
function balances(index: StateWriter, b: IndexedBlock): void {
  const h = u32be(b.height);
  for (const c of b.changes) {
    if (c.key[0] !== STATE_ACCOUNT || c.key.length !== 1 + ADDRESS_SIZE) continue;
    const delta = balanceOf(c.value) - balanceOf(c.previous);
    if (delta === 0n) continue;
    const w = new Writer(9).u8(delta < 0n ? 1 : 0).u64(delta < 0n ? -delta : delta);
    index.put(key(INDEX_BALANCE_CHANGE, c.key.subarray(1), h), w.finish());
  }
}

/** Audits that reached their final verdict in this block, and each Validator's tally of them. */
function audits(index: StateWriter, b: IndexedBlock): void {
  for (const c of b.changes) {
    if (c.key[0] !== STATE_AUDIT || c.key.length !== 33 || c.value === undefined) continue;
    const now = decodeAudit(c.value);
    const before = c.previous && decodeAudit(c.previous);
    if (now.status !== STATUS_FINAL || before?.status === STATUS_FINAL) continue;
    const valid = now.verdict === VALID;
    index.put(key(INDEX_AUDIT_FINAL, u32be(b.height), c.key.subarray(1)), new Uint8Array([now.verdict]));
    const vk = validatorAuditsKey(now.validator);
    const t = decodeAuditTally(index.get(vk));
    const next = valid ? { ...t, passed: t.passed + 1 } : { ...t, failed: t.failed + 1 };
    index.put(vk, new Writer(8).u32(next.passed).u32(next.failed).finish());
  }
}

export const EXPLORER_INDEXER = 'explorer';

export const explorerIndexer: BlockIndexer = {
  name: EXPLORER_INDEXER,
  version: 2,
  connect(index, block) {
    payouts(index, block);
    balances(index, block);
    audits(index, block);
  },
};
