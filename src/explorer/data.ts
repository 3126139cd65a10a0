import { createHash } from 'node:crypto';
import { getPayout } from '../audit/fund.ts';
import { type Address, formatAddress, RESERVED_ADDRESS } from '../chain/address.ts';
import type { Chain, ChainEntry } from '../chain/chain.ts';
import { targetFromDifficulty, workFromTarget } from '../chain/difficulty.ts';
import { equalBytes, fromHex, toHex, Writer } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import { blockVotes, txBody } from '../chain/ledger.ts';
import type { Mempool } from '../chain/mempool.ts';
import {
  dbKey,
  INDEX_AUDIT_FINAL,
  INDEX_BALANCE_CHANGE,
  INDEX_CONTRACT_PAYOUT,
  INDEX_SOLVER_PAYOUT,
  INDEX_SOLVER_RANK,
  stateKey,
  u32be,
} from '../chain/store/layout.ts';
import { type Transaction, TX_KINDS, txKindName } from '../chain/transaction.ts';
import type { TransferBody } from '../chain/tx-rules.ts';
import { cidFromBytes } from '../content/cid.ts';
import type { ContentStore } from '../content/store.ts';
import { decodePaidBatch, getRefund, STATE_CONTRACT, STATE_PAID_BATCH } from '../market/contract-state.ts';
import type { ContractBody, PayoutBody, TopupBody } from '../market/contract-tx.ts';
import { RATE_WINDOW } from '../market/progress.ts';
import { rangeCount } from '../market/ranges.ts';
import { InvalidParamsError } from '../rpc/errors.ts';
import type { RpcMethod } from '../rpc/methods.ts';
import { validateParams } from '../rpc/params.ts';
import { txView } from '../rpc/views.ts';
import { ExplorerError, parseAddressId, parseBlockId, parseHash } from './ids.ts';
import {
  contractSolverKey,
  decodeAuditFinal,
  decodeAuditTally,
  decodeBalanceChange,
  decodeContractPayout,
  decodeSolverPayout,
  decodeSolverTotals,
  decodeTotals,
  EXPLORER_INDEXER,
  solverKey,
  validatorAuditsKey,
} from './indexer.ts';

/**
 * What each page shows, as plain data: the JSON API returns it and the
 * pages render it. Chain-wide figures come from the node's own read methods
 * (the RPC handlers, called in-process) or the explorer's indexes; each
 * reads a bounded number of records, never the whole chain.
 */

/** The RPC methods the explorer reads through; none of them changes anything. */
export const READ_METHODS = [
  'getinfo',
  'getblock',
  'gettransaction',
  'getaccount',
  'getactivity',
  'getvalidator',
  'listvalidators',
  'getstakerequirement',
  'listcontracts',
  'getcontract',
  'getcontractstatus',
  'getpayouts',
  'getreputation',
  'getsolverstatus',
  'getaudit',
  'listaudits',
  'getfund',
] as const;
export type ReadMethod = (typeof READ_METHODS)[number];

export interface ExplorerDeps {
  chain: Chain;
  mempool: Mempool;
  /** The node's RPC table; only READ_METHODS are taken from it. */
  methods: Readonly<Record<string, RpcMethod>>;
  /** IPFS, for paid results; absent when the node runs without the network. */
  content?: ContentStore;
}

/** Blocks the home page's chart spans. */
export const SERIES_BLOCKS = 240;
/** Blocks the hash rate is estimated over. */
export const HASHRATE_BLOCKS = 60;
export const RECENT_BLOCKS = 12;
/** Heights of history one address page shows, unless it asks for fewer or more (at most 100). */
export const HISTORY_HEIGHTS = 25;
export const MAX_HISTORY_HEIGHTS = 100;
/** A contract's newest payouts its page reads. */
export const CONTRACT_PAYOUTS = 2_000;
/** The most MCUs drawn as an image in the browser (as `zi contract results --png` draws). */
export const MAX_IMAGE_MCUS = 1 << 22;

type Json = Record<string, unknown>;

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const bitsOf = (q16: number) => q16 / 65536;

export class ExplorerData {
  readonly chain: Chain;
  private readonly mempool: Mempool;
  private readonly methods = new Map<ReadMethod, RpcMethod>();
  private readonly content?: ContentStore;
  private readonly hrp: string;

  constructor(d: ExplorerDeps) {
    this.chain = d.chain;
    this.mempool = d.mempool;
    this.content = d.content;
    this.hrp = d.chain.params.hrp;
    for (const name of READ_METHODS) {
      const m = d.methods[name];
      if (m) this.methods.set(name, m);
    }
  }

  /** Whether the indexes are whole (false on a store made before the explorer: `zi node --reindex`). */
  get indexed(): boolean {
    return this.chain.indexing(EXPLORER_INDEXER);
  }

  private fmt = (a: Address) => formatAddress(a, this.hrp);

  /** A read method, its params checked as the RPC server checks them; its NOT_FOUND is the explorer's. */
  private async call<T = Json>(name: ReadMethod, params: Json = {}): Promise<T> {
    const m = this.methods.get(name);
    if (!m) throw new ExplorerError('UNAVAILABLE', `this node does not serve ${name}`);
    try {
      return (await m.handler(validateParams(m.params, params))) as T;
    } catch (err) {
      if (err instanceof InvalidParamsError) throw new ExplorerError('BAD_ID', err.message, {}, { cause: err });
      if (err instanceof ZiError && (err.code === 'NOT_FOUND' || err.code === 'UNKNOWN_CONTRACT')) {
        throw new ExplorerError('NOT_FOUND', err.message, {}, { cause: err });
      }
      throw err;
    }
  }

  /** Like call, undefined for NOT_FOUND. */
  private async maybe<T = Json>(name: ReadMethod, params: Json = {}): Promise<T | undefined> {
    try {
      return await this.call<T>(name, params);
    } catch (err) {
      if (err instanceof ExplorerError && (err.code === 'NOT_FOUND' || err.code === 'UNAVAILABLE')) return undefined;
      throw err;
    }
  }

  private requireIndex(): void {
    if (!this.indexed) {
      throw new ExplorerError(
        'NEEDS_REINDEX',
        "this node's chain was kept without the explorer's indexes (a run without --explorer, or from before them): restart it once with `zi node --explorer --reindex`",
      );
    }
  }

  // ---------------------------------------------------------------- home

  /** The network's hash rate from the work and time of the latest blocks (H/s), null before two blocks. */
  hashrate(): number | null {
    const tip = this.chain.tip;
    const from = this.chain.entryAtHeight(Math.max(1, tip.height - HASHRATE_BLOCKS));
    if (!from || from.height >= tip.height) return null;
    let work = 0n;
    for (let h = from.height + 1; h <= tip.height; h++) {
      work += workFromTarget(targetFromDifficulty(this.chain.entryAtHeight(h)!.header.difficulty));
    }
    const ms = tip.header.timestamp - from.header.timestamp;
    return ms > 0 ? Number(work) / (ms / 1000) : null;
  }

  tip(): Json {
    const tip = this.chain.tip;
    return {
      height: tip.height,
      hash: toHex(tip.hash),
      time: new Date(tip.header.timestamp).toISOString(),
      mempool: this.mempool.count,
    };
  }

  mempoolSummary(): Json {
    const rates = this.mempool
      .entries()
      .map((e) => e.feeRate)
      .sort((a, b) => a - b);
    const kinds: Record<string, number> = {};
    for (const e of this.mempool.entries()) {
      const k = txKindName(e.tx.kind) ?? String(e.tx.kind);
      kinds[k] = (kinds[k] ?? 0) + 1;
    }
    return {
      count: this.mempool.count,
      bytes: this.mempool.totalBytes,
      kinds,
      // Li per byte.
      feeRate: { p10: percentile(rates, 10), p50: percentile(rates, 50), p90: percentile(rates, 90) },
    };
  }

  private async blockSummary(e: ChainEntry): Promise<Json> {
    const block = await this.chain.getBlock(e.hash);
    const kinds: Record<string, number> = {};
    for (const tx of block?.txs ?? []) {
      const k = txKindName(tx.kind) ?? String(tx.kind);
      kinds[k] = (kinds[k] ?? 0) + 1;
    }
    return {
      height: e.height,
      hash: toHex(e.hash),
      time: new Date(e.header.timestamp).toISOString(),
      miner: this.fmt(e.header.miner),
      txs: block?.txs.length ?? 0,
      votes: block?.votes.length ?? 0,
      kinds,
      size: block?.size ?? 0,
      difficulty: bitsOf(e.header.difficulty),
      openProblems: e.openProblems,
    };
  }

  async home(): Promise<Json> {
    const tip = this.chain.tip;
    const series = [];
    for (let h = Math.max(0, tip.height - SERIES_BLOCKS + 1); h <= tip.height; h++) {
      const e = this.chain.entryAtHeight(h)!;
      series.push({
        height: h,
        time: e.header.timestamp,
        difficulty: bitsOf(e.header.difficulty),
        openProblems: e.openProblems,
      });
    }
    const recent = [];
    for (let h = tip.height; h >= 0 && h > tip.height - RECENT_BLOCKS; h--) {
      recent.push(await this.blockSummary(this.chain.entryAtHeight(h)!));
    }
    const info = await this.call<Json>('getinfo');
    return {
      network: this.chain.params.name,
      tip: this.tip(),
      difficulty: info.difficulty,
      hashrate: this.hashrate(),
      peers: info.peers,
      mining: info.mining,
      series,
      recent,
      mempool: this.mempoolSummary(),
    };
  }

  // --------------------------------------------------------------- block

  private entryOf(id: string): ChainEntry {
    const parsed = parseBlockId(id);
    const e = 'height' in parsed ? this.chain.entryAtHeight(parsed.height) : this.chain.entry(fromHex(parsed.hash, 32));
    if (!e) {
      const which = 'height' in parsed ? `at height ${parsed.height} (the tip is ${this.chain.height})` : parsed.hash;
      throw new ExplorerError('NOT_FOUND', `no block ${which}`);
    }
    return e;
  }

  async block(id: string): Promise<Json> {
    const e = this.entryOf(id);
    const view = await this.call<Json>('getblock', { hash: toHex(e.hash), verbose: true });
    const block = (await this.chain.getBlock(e.hash))!;
    const section = this.chain.rules.voteRules;
    let votes: Json[] = [];
    try {
      votes = section
        ? blockVotes(block, this.chain.rules, { params: this.chain.params }).map((v) => section.toJSON(v, this.fmt))
        : [];
    } catch {
      votes = block.votes.map((v) => ({ raw: toHex(v) }));
    }
    const byKind: Record<string, Json[]> = {};
    for (const tx of view.txs as Json[]) {
      const k = String(tx.kind);
      byKind[k] = [...(byKind[k] ?? []), tx];
    }
    const main = this.chain.isMain(e);
    const next = main ? this.chain.entryAtHeight(e.height + 1) : undefined;
    return {
      ...view,
      main,
      openProblems: e.openProblems,
      byKind,
      votes,
      fees: block.txs.reduce((n, tx) => n + tx.fee, 0n),
      reward: this.chain.params.subsidy + block.txs.reduce((n, tx) => n + tx.fee, 0n),
      next: next ? toHex(next.hash) : null,
    };
  }

  // --------------------------------------------------------- transaction

  async tx(id: string): Promise<Json> {
    const txid = parseHash(id, 'transaction');
    const view = await this.call<Json>('gettransaction', { txid });
    const extra: Json = {};
    if (view.kind === 'payout') extra.paid = BigInt(view.mcus as number) * (view.price as bigint);
    return { ...view, ...extra };
  }

  // ------------------------------------------------------------- address

  /** What a transaction moved in or out of `a`'s balance, as far as its bytes and the state tell. */
  private movedBy(tx: Transaction, a: Address): bigint {
    const rules = this.chain.rules;
    const ctx = { params: this.chain.params };
    const from = equalBytes(tx.from, a);
    let li = from && tx.kind !== TX_KINDS.payout ? -tx.fee : 0n;
    try {
      switch (tx.kind) {
        case TX_KINDS.transfer: {
          const b = txBody<TransferBody>(tx, rules, ctx);
          if (from) li -= b.amount;
          if (equalBytes(b.to, a)) li += b.amount;
          break;
        }
        case TX_KINDS.contract:
          if (from) li -= txBody<ContractBody>(tx, rules, ctx).budget;
          break;
        case TX_KINDS.topup:
          if (from) li -= txBody<TopupBody>(tx, rules, ctx).amount;
          break;
        case TX_KINDS.payout:
          if (from) {
            const b = txBody<PayoutBody>(tx, rules, ctx);
            li += BigInt(rangeCount(b.ranges)) * b.price;
          }
          break;
        case TX_KINDS.close:
          if (from) li += getRefund(this.chain.state, txBody<{ contract: Uint8Array }>(tx, rules, ctx).contract) ?? 0n;
          break;
        case TX_KINDS.stake:
          if (from) li -= txBody<{ amount: bigint }>(tx, rules, ctx).amount;
          break;
      }
    } catch {
      // A kind this version cannot decode: the block's row below shows what moved.
    }
    return li;
  }

  async address(text: string, before?: number, count = HISTORY_HEIGHTS): Promise<Json> {
    const a = parseAddressId(text, this.hrp);
    const address = this.fmt(a);
    const account = await this.call<Json>('getaccount', { address });
    const activity = await this.call<Json>('getactivity', { address });
    const validator = await this.maybe<Json>('getvalidator', { address });
    const tip = this.chain.height;
    const below = before ?? tip + 1;
    const ROWS = 200;
    const rows = await this.chain.store.history(a, ROWS, { before: below });
    const changes = new Map<number, bigint>();
    if (this.indexed) {
      const from = dbKey(INDEX_BALANCE_CHANGE, a, u32be(Math.max(0, below - 1)));
      for await (const [k, v] of this.chain.store.indexEntries(dbKey(INDEX_BALANCE_CHANGE, a), {
        reverse: true,
        limit: count,
        from: below > 0 ? from : undefined,
      })) {
        const c = decodeBalanceChange(k, v);
        if (c.height < below) changes.set(c.height, c.li);
      }
    }
    let heights = [...new Set([...rows.map((r) => r.height), ...changes.keys()])].sort((x, y) => y - x);
    // A height the row limit cut through is left for the next page.
    if (rows.length >= ROWS) heights = heights.filter((h) => h > rows.at(-1)!.height);
    heights = heights.slice(0, count);
    const history = [];
    for (const h of heights) {
      const e = this.chain.entryAtHeight(h);
      if (!e) continue;
      const block = await this.chain.getBlock(e.hash);
      const items: Json[] = [];
      let sum = 0n;
      let unstake = false;
      for (const r of rows.filter((x) => x.height === h).reverse()) {
        if (r.position === 'reward') {
          const li = this.chain.params.subsidy + (block?.txs.reduce((n, tx) => n + tx.fee, 0n) ?? 0n);
          sum += li;
          items.push({ type: 'reward', block: toHex(e.hash), li });
          continue;
        }
        const tx = block?.txs[r.position];
        if (!tx) continue;
        const li = this.movedBy(tx, a);
        sum += li;
        if (tx.kind === TX_KINDS.unstake) unstake = true;
        items.push({
          type: 'tx',
          ...txView(tx, this.chain.rules, this.chain.params, this.chain.state),
          li,
        });
      }
      const change = changes.get(h);
      if (change !== undefined && change !== sum) {
        const fund = getPayout(this.chain.state, h)?.shares.some((s) => equalBytes(s.payee, a));
        items.push({
          type: 'block',
          what: fund ? 'fund payout' : unstake ? 'stake returned' : 'settled by the block (audit, stake or fund)',
          li: change - sum,
        });
      }
      history.push({
        height: h,
        time: new Date(e.header.timestamp).toISOString(),
        change: change ?? (this.indexed ? 0n : null),
        items,
      });
    }
    const last = heights.at(-1);
    return {
      address,
      reserved: equalBytes(a, RESERVED_ADDRESS),
      balance: account.balance,
      nonce: account.nonce,
      pending: account.pending,
      active: activity.active,
      activity,
      validator: validator ? { ...validator, audits: this.auditTally(a) } : null,
      solver: this.indexed ? await this.solverOf(a) : null,
      history,
      olderBefore: last !== undefined && last > 0 && heights.length === count ? last : null,
    };
  }

  private auditTally(a: Address) {
    return decodeAuditTally(this.chain.store.index.get(validatorAuditsKey(a)));
  }

  /**
   * MCUs a Solver was paid for per second of block time over the latest
   * blocks, the window the market's own pace uses (RATE_WINDOW: at most 120
   * blocks and 10 minutes, never back to genesis, whose time is long before block 1).
   */
  private async recentRate(a: Address): Promise<number> {
    const tip = this.chain.tip;
    let first = tip.height;
    while (
      first > 1 &&
      tip.height - first + 1 < RATE_WINDOW.blocks &&
      tip.header.timestamp - this.chain.entryAtHeight(first - 1)!.header.timestamp <= RATE_WINDOW.ms
    ) {
      first--;
    }
    if (first < 1) return 0;
    let mcus = 0n;
    for await (const [k, v] of this.chain.store.indexEntries(dbKey(INDEX_SOLVER_PAYOUT, a), {
      from: dbKey(INDEX_SOLVER_PAYOUT, a, u32be(first)),
    })) {
      mcus += decodeSolverPayout(k, v).mcus;
    }
    const start = this.chain.entryAtHeight(first > 1 ? first - 1 : first)!.header.timestamp;
    const ms = tip.header.timestamp - start;
    return ms > 0 ? (Number(mcus) / ms) * 1000 : 0;
  }

  private async solverOf(a: Address): Promise<Json | null> {
    const raw = this.chain.store.index.get(solverKey(a));
    if (raw === undefined) return null;
    const t = decodeSolverTotals(raw);
    const recent = [];
    for await (const [k, v] of this.chain.store.indexEntries(dbKey(INDEX_SOLVER_PAYOUT, a), {
      reverse: true,
      limit: 20,
    })) {
      const p = decodeSolverPayout(k, v);
      recent.push({ height: p.height, contract: toHex(p.contract), mcus: p.mcus });
    }
    return { ...t, rate: await this.recentRate(a), recent };
  }

  // -------------------------------------------------------------- search

  /** Where a query leads: one match, or the candidates of an ambiguous prefix. */
  async search(q: string): Promise<{ match?: string; matches: { kind: string; id: string; url: string }[] }> {
    const text = q.trim();
    if (text.length === 0 || text.length > 100) {
      throw new ExplorerError(
        'BAD_ID',
        'search for a height, a block, transaction or contract id (or a prefix of one), or an address',
      );
    }
    const matches: { kind: string; id: string; url: string }[] = [];
    if (/^[0-9]{1,10}$/.test(text) && Number(text) <= this.chain.height) {
      matches.push({ kind: 'block', id: text, url: `/block/${Number(text)}` });
    }
    if (text.toLowerCase().startsWith(`${this.hrp}1`)) {
      const a = parseAddressId(text, this.hrp);
      return {
        match: `/address/${this.fmt(a)}`,
        matches: [{ kind: 'address', id: this.fmt(a), url: `/address/${this.fmt(a)}` }],
      };
    }
    const hex = text.toLowerCase();
    if (/^[0-9a-f]{4,64}$/.test(hex)) {
      for (const h of await this.chain.store.hashesWithPrefix('block', hex, 5)) {
        matches.push({ kind: 'block', id: toHex(h), url: `/block/${toHex(h)}` });
      }
      const txs = await this.chain.store.hashesWithPrefix('tx', hex, 5);
      for (const e of this.mempool.entries()) if (e.id.startsWith(hex) && txs.length < 5) txs.push(e.tx.hash());
      for (const h of txs) {
        const id = toHex(h);
        // A contract's id is the id of the transaction that opened it: its page shows more.
        const contract = this.chain.state.get(stateKey(STATE_CONTRACT, h)) !== undefined;
        matches.push({
          kind: contract ? 'contract' : 'transaction',
          id,
          url: contract ? `/contract/${id}` : `/tx/${id}`,
        });
      }
    } else if (!/^[0-9]+$/.test(text)) {
      throw new ExplorerError(
        'BAD_ID',
        `${JSON.stringify(text.slice(0, 80))} is not a height, an id or a prefix of at least 4 hex digits, or a ${this.hrp}1… address`,
      );
    }
    const unique = new Map(matches.map((m) => [m.url, m]));
    const list = [...unique.values()];
    return list.length === 1 ? { match: list[0]!.url, matches: list } : { matches: list };
  }

  // ----------------------------------------------------------- contracts

  async contracts(): Promise<Json> {
    const all = await this.call<Json[]>('listcontracts', { status: 'all' });
    const open = [];
    for (const c of all.filter((x) => x.status === 'open')) {
      const s = await this.call<Json>('getcontractstatus', { id: c.id });
      open.push(this.progress({ ...c, ...s, authority: c.authority, reputation: c.reputation }));
    }
    // What pays a Solver best first: the price per MCU, then the escrow that is left to pay it.
    open.sort((x, y) => cmp(y.price as bigint, x.price as bigint) || cmp(y.escrow as bigint, x.escrow as bigint));
    const closed = all
      .filter((x) => x.status === 'closed')
      .sort((x, y) => (y.closedHeight as number) - (x.closedHeight as number))
      .slice(0, 50);
    return { open, closed, count: all.length };
  }

  /** Progress, what the escrow still pays and the time left at the recent pace. */
  private progress(s: Json): Json {
    const size = typeof s.size === 'number' ? s.size : null;
    const paid = Number(s.paidMcus as bigint);
    const perMcu = (s.price as bigint) + (s.validationFee as bigint);
    const rate = (s.rate as { mcusPerSecond: number } | undefined)?.mcusPerSecond ?? 0;
    const left = size === null ? null : Math.max(0, size - paid);
    return {
      ...s,
      fraction: size ? Math.min(1, paid / size) : null,
      escrowMcus: perMcu > 0n ? (s.escrow as bigint) / perMcu : 0n,
      etaSeconds: left !== null && rate > 0 ? Math.round(left / rate) : null,
    };
  }

  async contract(id: string): Promise<Json> {
    const hex = parseHash(id, 'contract');
    const status = await this.call<Json>('getcontractstatus', { id: hex });
    const record = await this.call<Json>('getcontract', { id: hex, code: true });
    const batches = await this.call<{ start: number; end: number; cid: string }[]>('getpayouts', { id: hex });
    const idBytes = fromHex(hex, 32);
    const payouts = [];
    const solvers = [];
    if (this.indexed) {
      for await (const [k, v] of this.chain.store.indexEntries(dbKey(INDEX_CONTRACT_PAYOUT, idBytes), {
        reverse: true,
        limit: CONTRACT_PAYOUTS,
      })) {
        const p = decodeContractPayout(k, v);
        payouts.push({ height: p.height, position: p.position, solver: this.fmt(p.solver), mcus: p.mcus, li: p.li });
      }
      payouts.reverse();
      for await (const [k, v] of this.chain.store.indexEntries(contractSolverKey(idBytes, new Uint8Array()))) {
        const solver = k.subarray(33);
        solvers.push({ address: this.fmt(solver), ...decodeTotals(v) });
      }
      solvers.sort((x, y) => cmp(y.mcus, x.mcus));
    }
    const auth = status.authority as { address: string; role: string };
    const reputation = await this.maybe<Json>('getreputation', { address: auth.address });
    const validator = status.validator
      ? await this.maybe<Json>('getvalidator', { address: status.validator as string })
      : undefined;
    const audit = await this.maybe<Json>('getaudit', { id: hex });
    const code = record.code as string;
    const size = typeof status.size === 'number' ? status.size : null;
    const width = size ? Math.round(Math.sqrt(2 * size)) : 0;
    return {
      ...this.progress(status),
      tipHeight: this.chain.height,
      code,
      codeSha256: createHash('sha256').update(code).digest('hex'),
      memoryMiB: record.memoryMiB,
      timeoutMs: record.timeoutMs,
      batches,
      payoutsOverTime: payouts,
      solvers,
      authorityReputation: reputation?.authority ?? null,
      validatorRecord: validator ?? null,
      validatorAudits: status.validator ? this.auditTally(parseAddressId(status.validator as string, this.hrp)) : null,
      audit: audit ?? null,
      // The Mandelbrot layout (examples/mandelbrot.js): MCU i at column i % width, rows from the bottom.
      image: size && size <= MAX_IMAGE_MCUS ? { width, height: Math.ceil(size / width) } : null,
    };
  }

  /** The bytes of one paid batch of a contract, from IPFS (this node's store or its peers). */
  async results(id: string, startText: string): Promise<Uint8Array> {
    const hex = parseHash(id, 'contract');
    if (!/^(0|[1-9][0-9]{0,15})$/.test(startText) || !Number.isSafeInteger(Number(startText))) {
      throw new ExplorerError(
        'BAD_ID',
        `a batch is named by its first MCU index, got ${JSON.stringify(startText.slice(0, 40))}`,
      );
    }
    const key = stateKey(STATE_PAID_BATCH, fromHex(hex, 32), new Writer(8).u64(BigInt(startText)).finish());
    const raw = this.chain.state.get(key);
    if (raw === undefined)
      throw new ExplorerError('NOT_FOUND', `contract ${hex} has no paid batch starting at ${startText}`);
    const batch = decodePaidBatch(key, raw);
    if (!this.content) throw new ExplorerError('UNAVAILABLE', 'this node runs without IPFS (no p2p network)');
    return this.content.get(cidFromBytes(batch.cid), { timeoutMs: 10_000 });
  }

  // ------------------------------------------------------------- solvers

  async solvers(): Promise<Json> {
    this.requireIndex();
    // The 100 that earned most, from the rank index read backwards: a page never sorts every Solver.
    const rows = [];
    const ranked = this.chain.store.indexEntries(new Uint8Array([INDEX_SOLVER_RANK]), { reverse: true, limit: 100 });
    for await (const [k] of ranked) {
      const a = k.subarray(1 + 8);
      const totals = decodeSolverTotals(this.chain.store.index.get(solverKey(a)));
      rows.push({ address: this.fmt(a), ...totals, rate: await this.recentRate(a) });
    }
    // Refused batches are known only from a Solver's own session log: this node's Solver, if it runs one.
    const local = await this.maybe<{ address: string }>('getsolverstatus');
    const rep =
      local &&
      (await this.maybe<{ solver: { batchesRejected: number | null } }>('getreputation', { address: local.address }));
    const board = rows.map((r) => ({
      ...r,
      batchesRejected: local && r.address === local.address ? (rep?.solver.batchesRejected ?? null) : null,
    }));
    const { open } = (await this.contracts()) as { open: Json[] };
    // Open, paying, and with MCUs left to solve.
    const best = open
      .filter((c) => (c.escrowMcus as bigint) > 0n && (c.fraction === null || (c.fraction as number) < 1))
      .slice(0, 10);
    return { leaderboard: board, bestOpen: best, localSolver: local?.address ?? null };
  }

  // ---------------------------------------------------------- validators

  async validators(): Promise<Json> {
    const list = await this.call<Json[]>('listvalidators');
    const requirement = await this.call<Json>('getstakerequirement');
    return {
      requirement,
      validators: list.map((v) => ({ ...v, audits: this.auditTally(parseAddressId(v.address as string, this.hrp)) })),
    };
  }

  // -------------------------------------------------------------- audits

  async audits(): Promise<Json> {
    const pending = await this.call<Json>('listaudits');
    const finished = [];
    if (this.indexed) {
      for await (const [k, v] of this.chain.store.indexEntries(new Uint8Array([INDEX_AUDIT_FINAL]), {
        reverse: true,
        limit: 30,
      })) {
        const f = decodeAuditFinal(k, v);
        const audit = await this.maybe<Json>('getaudit', { id: toHex(f.contract) });
        finished.push({ height: f.height, contract: toHex(f.contract), valid: f.valid, audit: audit ?? null });
      }
    }
    return { ...pending, finished };
  }

  // ---------------------------------------------------------------- fund

  fund(): Promise<Json> {
    return this.call<Json>('getfund');
  }
}

function cmp(a: bigint | number, b: bigint | number): number {
  return a > b ? 1 : a < b ? -1 : 0;
}
