import { join } from 'node:path';
import { formatAddress } from '../chain/address.ts';
import type { Chain } from '../chain/chain.ts';
import { ZiError } from '../chain/errors.ts';
import type { Log } from '../chain/log.ts';
import type { AdmissionPolicy, Mempool } from '../chain/mempool.ts';
import { TX_KINDS } from '../chain/transaction.ts';
import { cidFromBytes, cidToBytes } from '../content/cid.ts';
import type { ContentStore } from '../content/store.ts';
import type { RpcMethod } from '../rpc/methods.ts';
import { SandboxPool, SandboxProcesses } from '../sandbox/index.ts';
import { ContractAdmission } from './admission.ts';
import { Authority } from './authority.ts';
import { batchAudit } from './batch-audit.ts';
import { marketChain } from './chain-view.ts';
import { decodePaidBatch, STATE_PAID_BATCH } from './contract-state.ts';
import type { MarketHost, ResultStore } from './host.ts';
import { createMarketHost, type MarketP2p } from './p2p-host.ts';
import { marketRpcMethods } from './rpc.ts';
import { fileSessionLog } from './session-log.ts';
import { keySigner, signerSet } from './signer.ts';
import { Solver, type SolverDeps } from './solver.ts';
import { SolverStatus } from './solver-status.ts';
import { SurplusToFund } from './surplus.ts';

export interface MarketConfig {
  /** Unlocked key of the Bidder (or Validator): serve its contracts as their authority. */
  authorityKey?: Uint8Array;
  /** Run a Solver with this key and these choices. */
  solver?: Pick<SolverDeps, 'key' | 'threads' | 'contract' | 'minPrice' | 'bootstrap' | 'tamper'>;
  /**
   * A bootstrap Solver's stated cost per MCU: what it earns above it goes to
   * the shared fund (zi solve --bootstrap --surplus-to-fund, surplus.ts).
   */
  surplusCostPerMcu?: bigint;
  /** Time a first lease may take (later ones scale with the measured pace); default 30 s. */
  leaseMs?: number;
  /** Longest a lease should take at a Solver's measured rate; default LEASE_TARGET_MS (10 s). */
  leaseTargetMs?: number;
  /** TEST ONLY: the authority signs without validating (AuthorityDeps.signUnchecked). */
  signUnchecked?: boolean;
}

/** What the market needs of its node (the node's DomainContext has it). */
export interface MarketContext {
  chain: Chain;
  mempool: Mempool;
  logger: Log & { child(bindings: object): Log };
  p2p?: MarketP2p;
  content?: ContentStore;
  /** The node's data dir: the Solver keeps its session log there. */
  datadir?: string;
}

/** The Solver's session log in the data dir (session-log.ts). */
export const SESSION_LOG_FILE = 'solver-sessions.jsonl';

/** A market service asked for on a node that cannot run it. */
export class MarketConfigError extends ZiError<'NO_NETWORK'> {}

export interface MarketServices {
  /** Present when the node runs the network (IPFS needs it). */
  content?: ContentStore;
  host?: MarketHost;
  authority?: Authority;
  solver?: Solver;
  /** What the Solver does and has earned, for `zi solve` and `getsolverstatus`. */
  solverStatus?: SolverStatus;
  /** The surplus a bootstrap Solver gives the fund. */
  surplus?: SurplusToFund;
  sandboxes: SandboxPool;
  rpc: Record<string, RpcMethod>;
  ports: Record<string, object>;
  policies: ReadonlyMap<number, AdmissionPolicy>;
  /** The CIDs this node must keep pinned whatever its storage limit: every paid batch. */
  keep(): AsyncIterable<Uint8Array>;
  info(): unknown;
  stop(): Promise<void>;
}

export function resultStore(content: ContentStore): ResultStore {
  return {
    put: async (bytes) => cidToBytes(await content.put(bytes, { pin: true })),
    get: (cid, opts) => content.get(cidFromBytes(cid), opts),
  };
}

/**
 * The market side of a node: the admission policy for contract code, the
 * market's RPC methods, and when asked for (and the network runs), the
 * authority service of a Bidder and the Solver.
 */
export async function startMarket(ctx: MarketContext, config: MarketConfig = {}): Promise<MarketServices> {
  const { chain, mempool, logger, content, p2p } = ctx;
  if ((config.authorityKey || config.solver) && !(p2p && content)) {
    throw new MarketConfigError('NO_NETWORK', 'the market needs the p2p network: do not turn listening off');
  }
  const admission = new ContractAdmission();
  // This node's own sandbox processes: stopping it kills them at once, so
  // shutdown never waits on contract code.
  const processes = new SandboxProcesses({ max: Math.max(2, config.solver?.threads ?? 0) + 1 });
  const sandboxes = new SandboxPool({ processes });
  const host = p2p ? await createMarketHost(p2p) : undefined;
  const results = content ? resultStore(content) : undefined;
  const view = marketChain(chain);
  let authority: Authority | undefined;
  let solver: Solver | undefined;
  let solverStatus: SolverStatus | undefined;
  let surplus: SurplusToFund | undefined;
  if (config.authorityKey && host && results) {
    const signer = keySigner(config.authorityKey);
    authority = new Authority({
      chain: view,
      host,
      results,
      sandboxes,
      signers: signerSet([signer]),
      logger: logger.child({ mod: 'authority' }),
      baseLeaseMs: config.leaseMs,
      leaseTargetMs: config.leaseTargetMs,
      signUnchecked: config.signUnchecked,
    });
    authority.start();
    // The role is what an operator checks first: the node says it at start.
    logger.info(
      { address: formatAddress(signer.address, chain.params.hrp) },
      'serving as authority: the contracts this address posted, and those assigned to its stake',
    );
  }
  if (config.solver && host && results) {
    const solverLog = logger.child({ mod: 'solver' });
    solver = new Solver({
      chain: view,
      mempool,
      host,
      results,
      processes,
      logger: solverLog,
      sessionLog: ctx.datadir ? await fileSessionLog(join(ctx.datadir, SESSION_LOG_FILE), solverLog) : undefined,
      ...config.solver,
    });
    solverStatus = new SolverStatus(solver);
    if (config.surplusCostPerMcu !== undefined) {
      surplus = new SurplusToFund({
        solver,
        mempool,
        key: config.solver.key,
        address: solver.address,
        genesisHash: chain.genesisHash,
        minFeePerByte: chain.params.minFeePerByte,
        costPerMcu: config.surplusCostPerMcu,
        logger: solverLog,
      });
    }
    solver.start();
  }
  const hrp = chain.params.hrp;
  return {
    content,
    host,
    authority,
    solver,
    solverStatus,
    surplus,
    sandboxes,
    rpc: marketRpcMethods({ chain, results, authority, solver, solverStatus, surplus, sandboxes }),
    ports: results ? { batches: batchAudit(chain, results, sandboxes) } : {},
    policies: new Map([[TX_KINDS.contract, admission.policy]]),
    async *keep() {
      // A paid batch is what its Bidder paid for and what an audit may ask for: never dropped.
      for await (const [key, value] of chain.store.stateEntries(new Uint8Array([STATE_PAID_BATCH]))) {
        yield decodePaidBatch(key, value).cid;
      }
    },
    info: () =>
      content
        ? {
            ipfs: content.kind,
            authority: authority ? formatAddress(authority.addresses[0]!, hrp) : null,
            solver: solver ? formatAddress(solver.address, hrp) : null,
          }
        : null,
    async stop() {
      processes.close();
      admission.close();
      authority?.stop();
      await solver?.stop();
      sandboxes.dispose();
    },
  };
}
