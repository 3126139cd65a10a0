import { CID } from 'multiformats/cid';
import { type Address, formatAddress, parseAddress } from '../chain/address.ts';
import type { Chain } from '../chain/chain.ts';
import { equalBytes, toHex } from '../chain/encoding.ts';
import type { Hash } from '../chain/hash.ts';
import { stateKey } from '../chain/store/layout.ts';
import { TX_KINDS } from '../chain/transaction.ts';
import { cidFromString, cidToBytes } from '../content/cid.ts';
import { defineMethod, type RpcMethod } from '../rpc/methods.ts';
import { SandboxError } from '../sandbox/errors.ts';
import type { SandboxPool } from '../sandbox/index.ts';
import type { Authority } from './authority.ts';
import { authorityOf, mayAuthorize } from './authorize.ts';
import { ContractNotFoundError, contractBody } from './contract-body.ts';
import {
  type ContractRecord,
  decodeContract,
  decodePaidBatch,
  getContract,
  getPaidRanges,
  hasValidator,
  STATE_CONTRACT,
  STATE_PAID_BATCH,
  STATUS_OPEN,
  VALIDATION_DELEGATED,
} from './contract-state.ts';
import { payoutRules } from './contract-tx.ts';
import type { ResultStore } from './host.ts';
import { rateReader } from './progress.ts';
import { rangeCount } from './ranges.ts';
import {
  type AuthorityReputation,
  authorityReputation,
  authorityReputations,
  type ContractHistory,
  type SolverPayout,
  solverReputation,
  unpaidBy,
} from './reputation.ts';
import type { Solver } from './solver.ts';
import type { SolverStatus } from './solver-status.ts';
import type { SurplusToFund } from './surplus.ts';

/** Newest payouts of an address that getreputation reads at most. */
export const REPUTATION_HISTORY_MAX = 10_000;

function recordView(id: Hash, c: ContractRecord, hrp: string) {
  return {
    id: toHex(id),
    bidder: formatAddress(c.bidder, hrp),
    status: c.status === STATUS_OPEN ? 'open' : 'closed',
    price: c.price,
    validation: c.validation === VALIDATION_DELEGATED ? 'delegated' : 'bidder',
    // The Validator of a delegated contract; null while none (then the Bidder validates).
    validator: hasValidator(c) ? formatAddress(c.validator, hrp) : null,
    validationFee: c.validationFee,
    escrow: c.escrow,
    heldFees: c.heldFees,
    paidMcus: c.paidMcus,
    growth: c.growth,
    maxBatch: c.maxBatch,
    sampleRate: c.sampleRate,
    openedHeight: c.openedHeight,
    ...(c.closedHeight ? { closedHeight: c.closedHeight } : {}),
  };
}

export interface MarketRpcDeps {
  chain: Chain;
  /** IPFS, when the node runs the network. */
  results?: ResultStore;
  authority?: Authority;
  solver?: Pick<Solver, 'address' | 'stats' | 'sessionLog'>;
  /** What the Solver is doing and has earned (solver-status.ts). */
  solverStatus?: SolverStatus;
  surplus?: SurplusToFund;
  /** Where a contract is loaded to learn its size (shared with the authority, so loaded once). */
  sandboxes?: SandboxPool;
}

/** Every contract's record with its paid batches counted: one pass over each state prefix. */
async function contractHistories(chain: Chain): Promise<(ContractHistory & { id: Hash; record: ContractRecord })[]> {
  const payouts = new Map<string, number>();
  for await (const [key] of chain.store.stateEntries(new Uint8Array([STATE_PAID_BATCH]))) {
    const id = toHex(key.subarray(1, 33));
    payouts.set(id, (payouts.get(id) ?? 0) + 1);
  }
  const out: (ContractHistory & { id: Hash; record: ContractRecord })[] = [];
  for await (const [key, value] of chain.store.stateEntries(new Uint8Array([STATE_CONTRACT]))) {
    const id = key.subarray(1);
    out.push({ id, record: decodeContract(value), payouts: payouts.get(toHex(id)) ?? 0 });
  }
  return out;
}

/** The payouts an address sent (and was paid by), newest first, from the address index. */
async function payoutsOf(chain: Chain, address: Address): Promise<{ payouts: SolverPayout[]; truncated: boolean }> {
  const rows = await chain.store.history(address, REPUTATION_HISTORY_MAX);
  const payouts: SolverPayout[] = [];
  let block: { height: number; txs: Awaited<ReturnType<Chain['getBlock']>> } | undefined;
  for (const row of rows) {
    if (row.position === 'reward') continue;
    if (block?.height !== row.height) {
      const entry = chain.entryAtHeight(row.height);
      block = { height: row.height, txs: entry && (await chain.getBlock(entry.hash)) };
    }
    const tx = block.txs?.txs[row.position];
    if (!tx || tx.kind !== TX_KINDS.payout || !equalBytes(tx.from, address)) continue;
    const body = payoutRules.decode(tx.payload, chain.params);
    payouts.push({ mcus: rangeCount(body.ranges), height: row.height });
  }
  return { payouts, truncated: rows.length >= REPUTATION_HISTORY_MAX };
}

function reputationView(r: AuthorityReputation) {
  return { ...r, cadenceBlocks: r.cadenceBlocks === null ? null : Math.round(r.cadenceBlocks * 100) / 100 };
}

/** Contract sizes remembered (a few dozen bytes each), the oldest forgotten first. */
const MAX_KNOWN_SIZES = 100_000;
/** How long a contract whose code did not load is taken to have no known size. */
const SIZE_RETRY_MS = 60_000;

/** The market's JSON-RPC methods (docs/RPC.md). */
export function marketRpcMethods(d: MarketRpcDeps): Record<string, RpcMethod> {
  const { chain } = d;
  const hrp = chain.params.hrp;
  const recentRate = rateReader(chain);
  /**
   * Sizes already read, by contract id. A contract's code never changes, so
   * neither does its size: loading it again for every status call (each
   * explorer page lists every open contract) let cheap contracts whose top
   * level runs for most of a second keep the sandboxes busy for a minute a page.
   */
  const sizes = new Map<string, { size: number | null; until: number }>();
  /** MCUs of a contract, from its code (null: unbounded, or the code does not load here). */
  async function sizeOf(id: Hash, body: Awaited<ReturnType<typeof contractBody>>): Promise<number | null> {
    if (!d.sandboxes) return null;
    const key = toHex(id);
    const known = sizes.get(key);
    if (known !== undefined && Date.now() < known.until) return known.size;
    let size: number | null;
    let until = Number.POSITIVE_INFINITY;
    try {
      const limits = { memoryLimitMiB: body.memoryMiB, timeoutMs: body.timeoutMs };
      size = (await d.sandboxes.get(key, body.code, limits)).size;
    } catch (err) {
      if (!(err instanceof SandboxError)) return null;
      // A load that failed (the code throws, or ran past its limits on a busy
      // machine) is tried again a minute later, not at every page.
      size = null;
      until = Date.now() + SIZE_RETRY_MS;
    }
    sizes.delete(key);
    if (sizes.size >= MAX_KNOWN_SIZES) sizes.delete(sizes.keys().next().value!);
    sizes.set(key, { size, until });
    return size;
  }
  return {
    getreputation: defineMethod({
      description:
        "An address's market record from the chain: as an authority, MCUs paid, blocks to a contract's first payout and between payouts; as a Solver, MCUs delivered, and batches refused from this node's session log.",
      params: [{ name: 'address', type: 'string', maxLength: 100 }],
      handler: async ({ address: text }) => {
        const address = parseAddress(text, hrp);
        const log = d.solver?.sessionLog.records();
        const mine = d.solver !== undefined && equalBytes(d.solver.address, address);
        const { payouts, truncated } = await payoutsOf(chain, address);
        return {
          address: formatAddress(address, hrp),
          authority: {
            ...reputationView(authorityReputation(address, await contractHistories(chain))),
            // What this node's own Solver computed for it and was never paid, when it runs one.
            ...(log ? { unpaidToThisSolver: unpaidBy(address, log) } : {}),
          },
          solver: { ...solverReputation(payouts, mine ? log : undefined), truncated },
        };
      },
    }),
    getcontent: defineMethod({
      description:
        'Bytes stored under a CID (e.g. a paid batch of results), fetched from IPFS and checked against the CID.',
      params: [
        { name: 'cid', type: 'string', maxLength: 128 },
        { name: 'timeoutMs', type: 'integer', min: 1, max: 600_000, optional: true },
      ],
      handler: async ({ cid, timeoutMs }) => {
        if (!d.results) throw new ContractNotFoundError('NOT_FOUND', 'this node runs without IPFS (no p2p network)');
        const bytes = await d.results.get(cidToBytes(cidFromString(cid)), { timeoutMs: timeoutMs ?? 30_000 });
        return { cid, base64: Buffer.from(bytes).toString('base64') };
      },
    }),
    getcontractstatus: defineMethod({
      description:
        'Progress of a contract: size, solved, leased and remaining MCUs, spend and escrow left, payouts, the pace of the latest blocks and who serves it (leases when this node is its authority).',
      params: [{ name: 'id', type: 'bytes', bytes: 32 }],
      handler: async ({ id }) => {
        const c = getContract(chain.state, id);
        if (!c) throw new ContractNotFoundError('NOT_FOUND', `no contract ${toHex(id)}`);
        const body = await contractBody(chain, id);
        const leases = await d.authority?.status(id);
        const paid = getPaidRanges(chain.state, id);
        const size = leases ? leases.size : await sizeOf(id, body);
        const rate = await recentRate(id);
        let payouts = 0;
        for await (const _ of chain.store.stateEntries(stateKey(STATE_PAID_BATCH, id))) payouts++;
        const served = d.authority?.addresses.find((a) => mayAuthorize(c, a));
        const lastPayout = c.lastPayoutHeight > 0 ? chain.entryAtHeight(c.lastPayoutHeight) : undefined;
        return {
          ...recordView(id, c, hrp),
          budget: body.budget,
          paidToSolvers: c.paidMcus * c.price,
          paidRanges: paid.map((r) => [r.start, r.end]),
          payouts,
          // Unknown (null) when the code does not load here or is unbounded.
          ...(leases ? {} : { size }),
          rate: {
            mcusPerSecond: rate.mcusPerSecond,
            windowMcus: rate.mcus,
            windowPayouts: rate.payouts,
            windowSeconds: rate.spanMs / 1000,
          },
          // Who signs: its Validator, or its Bidder (also for a delegated contract that found no Validator).
          authority: {
            role: hasValidator(c) ? 'validator' : 'bidder',
            address: formatAddress(hasValidator(c) ? c.validator : c.bidder, hrp),
            servedHere: served !== undefined,
            lastPayoutHeight: c.lastPayoutHeight > 0 ? c.lastPayoutHeight : null,
            lastPayoutTime: lastPayout ? new Date(lastPayout.header.timestamp).toISOString() : null,
          },
          ...(leases
            ? {
                size: leases.size,
                signedRanges: leases.solved.map((r) => [r.start, r.end]),
                leased: leases.leased.map((l) => ({
                  range: [l.start, l.end],
                  solver: l.solver,
                  expiresAt: l.expiresAt,
                })),
                remaining: Number.isFinite(leases.remaining) ? leases.remaining : null,
              }
            : {}),
        };
      },
    }),
    getsolverstatus: defineMethod({
      description:
        "This node's Solver: what it does now (computing, waiting and why, backing off), uptime, and this session's MCUs, Li earned and payouts, in all and per contract; with --surplus-to-fund, the surplus given to the fund.",
      params: [],
      handler: () => {
        if (!d.solver) throw new ContractNotFoundError('NOT_FOUND', 'this node runs no Solver (zi solve)');
        const s = d.solverStatus?.snapshot();
        return {
          address: formatAddress(d.solver.address, hrp),
          ...d.solver.stats,
          ...(d.surplus
            ? { surplusToFund: { given: d.surplus.given, owed: d.surplus.owed, gifts: d.surplus.gifts } }
            : {}),
          ...(s
            ? {
                activity: s.activity,
                startedAt: new Date(s.startedAt).toISOString(),
                uptimeSeconds: s.uptimeSeconds,
                rate: s.rate,
                lastBatch: s.lastBatch,
                contracts: s.contracts.map((w) => ({ ...w, lastPaidAt: new Date(w.lastPaidAt).toISOString() })),
              }
            : {}),
        };
      },
    }),
    listcontracts: defineMethod({
      description: "Contracts on chain, open ones by default, with escrow, progress and their authority's reputation.",
      params: [{ name: 'status', type: 'string', enum: ['open', 'closed', 'all'], optional: true }],
      handler: async ({ status }) => {
        const want = status ?? 'open';
        const histories = await contractHistories(chain);
        // Reputations count every contract an authority served, listed or not.
        const reputations = authorityReputations(histories);
        const out = [];
        for (const { id, record: c } of histories) {
          const open = c.status === STATUS_OPEN;
          if (want !== 'all' && (want === 'open') !== open) continue;
          const authority = authorityOf(c);
          out.push({
            ...recordView(id, c, hrp),
            authority: formatAddress(authority, hrp),
            reputation: reputationView(reputations.get(toHex(authority))!),
          });
        }
        return out;
      },
    }),
    getcontract: defineMethod({
      description: 'One contract: its record, paid ranges and, with code=true, its code and sandbox limits.',
      params: [
        { name: 'id', type: 'bytes', bytes: 32 },
        { name: 'code', type: 'boolean', optional: true },
      ],
      handler: async ({ id, code }) => {
        const c = getContract(chain.state, id);
        if (!c) throw new ContractNotFoundError('NOT_FOUND', `no contract ${toHex(id)}`);
        const paid = getPaidRanges(chain.state, id);
        const body = code ? await contractBody(chain, id) : undefined;
        return {
          ...recordView(id, c, hrp),
          paidRanges: paid.map((r) => [r.start, r.end]),
          paidRangeMcus: rangeCount(paid),
          ...(body
            ? { code: body.code, memoryMiB: body.memoryMiB, timeoutMs: body.timeoutMs, budget: body.budget }
            : {}),
        };
      },
    }),
    getpayouts: defineMethod({
      description: 'Every paid batch of a contract: its index range and the CID of its results.',
      params: [{ name: 'id', type: 'bytes', bytes: 32 }],
      handler: async ({ id }) => {
        if (!getContract(chain.state, id)) throw new ContractNotFoundError('NOT_FOUND', `no contract ${toHex(id)}`);
        const out = [];
        for await (const [key, value] of chain.store.stateEntries(stateKey(STATE_PAID_BATCH, id))) {
          const b = decodePaidBatch(key, value);
          out.push({ start: b.start, end: b.end, cid: CID.decode(b.cid).toString() });
        }
        return out;
      },
    }),
    getpaidranges: defineMethod({
      description: "The contract's paid index ranges, as [start, end) pairs (the paper's get_solved_ranges()).",
      params: [{ name: 'id', type: 'bytes', bytes: 32 }],
      handler: ({ id }) => {
        if (!getContract(chain.state, id)) throw new ContractNotFoundError('NOT_FOUND', `no contract ${toHex(id)}`);
        return getPaidRanges(chain.state, id).map((r) => [r.start, r.end]);
      },
    }),
  };
}
