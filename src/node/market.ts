import type { Chain } from '../chain/chain.ts';
import type { Mempool } from '../chain/mempool.ts';
import { cidFromBytes, cidToBytes } from '../content/cid.ts';
import { openContentStore } from '../content/index.ts';
import type { ContentStore } from '../content/store.ts';
import { Authority } from '../market/authority.ts';
import { marketChain } from '../market/chain-view.ts';
import type { MarketHost, ResultStore } from '../market/host.ts';
import { keySigner, signerSet } from '../market/signer.ts';
import { Solver, type SolverDeps } from '../market/solver.ts';
import type { Network } from '../p2p/network.ts';
import { SandboxPool, SandboxProcesses } from '../sandbox/index.ts';
import type { Logger } from './logger.ts';
import { createMarketHost } from './market-host.ts';

export interface MarketConfig {
  /** Unlocked key of the Bidder (or Validator): serve its contracts as their authority. */
  authorityKey?: Uint8Array;
  /** Run a Solver with this key and these choices. */
  solver?: Pick<SolverDeps, 'key' | 'threads' | 'contract' | 'minPrice' | 'bootstrap' | 'tamper'>;
  ipfsApi?: string;
  /** Time a first lease may take (later ones scale with the measured pace); default 30 s. */
  leaseMs?: number;
  /** Longest a lease should take at a Solver's measured rate; default LEASE_TARGET_MS (10 s). */
  leaseTargetMs?: number;
}

export interface MarketServices {
  content: ContentStore;
  host: MarketHost;
  authority?: Authority;
  solver?: Solver;
  sandboxes: SandboxPool;
  stop(): Promise<void>;
}

export function resultStore(content: ContentStore): ResultStore {
  return {
    put: async (bytes) => cidToBytes(await content.put(bytes, { pin: true })),
    get: (cid, opts) => content.get(cidFromBytes(cid), opts),
  };
}

/**
 * The market side of a node: IPFS content (embedded Helia on the node's own
 * libp2p host, or Kubo), and when asked for, the authority service of a
 * Bidder and the Solver.
 */
export async function startMarket(opts: {
  chain: Chain;
  mempool: Mempool;
  network: Network;
  datadir: string;
  logger: Logger;
  config: MarketConfig;
}): Promise<MarketServices> {
  const { chain, mempool, network, logger, config } = opts;
  const content = await openContentStore({
    datadir: opts.datadir,
    libp2p: network.host,
    ipfsApi: config.ipfsApi,
    logger: logger.child({ mod: 'ipfs' }),
  });
  const host = await createMarketHost(network);
  const results = resultStore(content);
  // This node's own sandbox processes: stopping it kills them at once, so
  // shutdown never waits on contract code.
  const processes = new SandboxProcesses({ max: Math.max(2, config.solver?.threads ?? 0) + 1 });
  const sandboxes = new SandboxPool({ processes });
  const view = marketChain(chain);
  let authority: Authority | undefined;
  let solver: Solver | undefined;
  if (config.authorityKey) {
    authority = new Authority({
      chain: view,
      host,
      results,
      sandboxes,
      signers: signerSet([keySigner(config.authorityKey)]),
      logger: logger.child({ mod: 'authority' }),
      baseLeaseMs: config.leaseMs,
      leaseTargetMs: config.leaseTargetMs,
    });
    authority.start();
  }
  if (config.solver) {
    solver = new Solver({
      chain: view,
      mempool,
      host,
      results,
      processes,
      logger: logger.child({ mod: 'solver' }),
      ...config.solver,
    });
    solver.start();
  }
  return {
    content,
    host,
    authority,
    solver,
    sandboxes,
    async stop() {
      processes.close();
      authority?.stop();
      await solver?.stop();
      sandboxes.dispose();
      await content.close();
    },
  };
}
