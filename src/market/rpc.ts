import { CID } from 'multiformats/cid';
import { formatAddress } from '../chain/address.ts';
import type { Chain } from '../chain/chain.ts';
import { toHex } from '../chain/encoding.ts';
import type { Hash } from '../chain/hash.ts';
import { stateKey } from '../chain/store/layout.ts';
import { cidFromString, cidToBytes } from '../content/cid.ts';
import { defineMethod, type RpcMethod } from '../rpc/methods.ts';
import type { SandboxPool } from '../sandbox/index.ts';
import type { Authority } from './authority.ts';
import { mayAuthorize } from './authorize.ts';
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
import type { ResultStore } from './host.ts';
import { rateReader } from './progress.ts';
import { rangeCount } from './ranges.ts';
import type { Solver } from './solver.ts';
import type { SolverStatus } from './solver-status.ts';

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
  solver?: Solver;
  /** What the Solver is doing and has earned (solver-status.ts). */
  solverStatus?: SolverStatus;
  /** Where a contract is loaded to learn its size (shared with the authority, so loaded once). */
  sandboxes?: SandboxPool;
}

/** The market's JSON-RPC methods (docs/RPC.md). */
export function marketRpcMethods(d: MarketRpcDeps): Record<string, RpcMethod> {
  const { chain } = d;
  const hrp = chain.params.hrp;
  const recentRate = rateReader(chain);
  /** MCUs of a contract, from its code (null: unbounded, or the code does not load here). */
  async function sizeOf(id: Hash, body: Awaited<ReturnType<typeof contractBody>>): Promise<number | null> {
    if (!d.sandboxes) return null;
    try {
      const limits = { memoryLimitMiB: body.memoryMiB, timeoutMs: body.timeoutMs };
      return (await d.sandboxes.get(toHex(id), body.code, limits)).size;
    } catch {
      return null;
    }
  }
  return {
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
        "This node's Solver: what it does now (computing, waiting and why, backing off), uptime, and this session's MCUs, Li earned and payouts, in all and per contract.",
      params: [],
      handler: () => {
        if (!d.solver) throw new ContractNotFoundError('NOT_FOUND', 'this node runs no Solver (zi solve)');
        const s = d.solverStatus?.snapshot();
        return {
          address: formatAddress(d.solver.address, hrp),
          ...d.solver.stats,
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
      description: 'Contracts on chain, open ones by default, with escrow and progress.',
      params: [{ name: 'status', type: 'string', enum: ['open', 'closed', 'all'], optional: true }],
      handler: async ({ status }) => {
        const want = status ?? 'open';
        const out = [];
        for await (const [key, value] of chain.store.stateEntries(new Uint8Array([STATE_CONTRACT]))) {
          const c = decodeContract(value);
          const open = c.status === STATUS_OPEN;
          if (want === 'all' || (want === 'open') === open) out.push(recordView(key.subarray(1), c, hrp));
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
