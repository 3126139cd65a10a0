import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { formatAddress, parseAddress } from '../chain/address.ts';
import { Chain } from '../chain/chain.ts';
import { toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import { Mempool } from '../chain/mempool.ts';
import { loadMempool, saveMempool } from '../chain/mempool-file.ts';
import { reindex } from '../chain/reindex.ts';
import type { TxRulesRegistry } from '../chain/tx-rules.ts';
import { Miner } from '../miner/miner.ts';
import { Network } from '../p2p/network.ts';
import { KeystoreError, readKeystore } from '../wallet/keystore.ts';
import { cookiePath, mempoolPath, type NodeConfig, walletPath } from './config.ts';
import type { Logger } from './logger.ts';
import { type MarketConfig, type MarketServices, startMarket } from './market.ts';
import { createRpcServer, type RpcServer } from './rpc/server.ts';
import { rpcMethods } from './rpc-methods.ts';
import { nodeRules } from './rules.ts';
import { VERSION } from './version.ts';

export { VERSION };

export class NodeError extends ZiError<'DATADIR_LOCKED' | 'DATADIR_UNUSABLE' | 'NO_MINER_ADDRESS' | 'NO_NETWORK'> {}

/** A full node: chain, mempool, optional miner and the JSON-RPC server, wired together. */
export class ZiNode {
  readonly config: NodeConfig;
  readonly chain: Chain;
  readonly mempool: Mempool;
  readonly miner?: Miner;
  readonly network?: Network;
  readonly market?: MarketServices;
  readonly rpc: RpcServer;
  private readonly logger: Logger;
  private stopped?: Promise<void>;
  private readonly done = Promise.withResolvers<void>();

  private constructor(parts: {
    config: NodeConfig;
    chain: Chain;
    mempool: Mempool;
    miner?: Miner;
    network?: Network;
    market?: MarketServices;
    rpc: RpcServer;
    logger: Logger;
  }) {
    this.config = parts.config;
    this.chain = parts.chain;
    this.mempool = parts.mempool;
    this.miner = parts.miner;
    this.network = parts.network;
    this.market = parts.market;
    this.rpc = parts.rpc;
    this.logger = parts.logger;
  }

  static async start(
    config: NodeConfig,
    opts: { logger: Logger; rules?: TxRulesRegistry; market?: MarketConfig },
  ): Promise<ZiNode> {
    const { logger } = opts;
    const { params } = config;
    await mkdir(config.datadir, { recursive: true, mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      const why = err.code === 'EEXIST' || err.code === 'ENOTDIR' ? 'a file is in the way' : (err.code ?? err.message);
      throw new NodeError('DATADIR_UNUSABLE', `cannot use ${config.datadir} as the data directory: ${why}`, {
        path: config.datadir,
      });
    });
    const chainOpts = { path: join(config.datadir, 'chain'), params, rules: opts.rules ?? nodeRules() };
    const locked = (err: { code?: string }) => {
      if (err?.code === 'DB_LOCKED') {
        throw new NodeError('DATADIR_LOCKED', `another zi node is already using ${config.datadir}`);
      }
      throw err;
    };
    if (config.reindex) {
      logger.info({ datadir: config.datadir }, 'reindexing: rebuilding the state from the stored blocks');
      const report = await reindex(chainOpts, (p) => logger.info(p, 'reindex progress')).catch(locked);
      logger.info(report, 'reindex done');
      if (report.damaged + report.unreachable > 0) {
        logger.warn(
          { damaged: report.damaged, unreachable: report.unreachable },
          'stored blocks were lost: the node downloads them again from its peers',
        );
      }
    }
    const chain = await Chain.open(chainOpts).catch(locked);
    const mempool = new Mempool(chain);
    const saved = await loadMempool(mempoolPath(config.datadir), mempool, chain.genesisHash, params.maxTxBytes);
    if (saved.refused)
      logger.warn({ err: saved.refused.toJSON() }, 'mempool.dat refused: starting with an empty mempool');
    else if (saved.loaded + saved.dropped > 0)
      logger.info({ loaded: saved.loaded, dropped: saved.dropped }, 'mempool loaded');
    chain.on('tip', (change) => {
      mempool.onTip(change);
      const fields = { height: change.tip.height, hash: toHex(change.tip.hash), mempool: mempool.count };
      if (change.disconnected.length > 0) {
        logger.warn(
          { ...fields, disconnected: change.disconnected.length, connected: change.connected.length },
          'reorganized',
        );
      } else {
        logger.debug(fields, 'new tip');
      }
    });

    let miner: Miner | undefined;
    let network: Network | undefined;
    let market: MarketServices | undefined;
    let rpc: RpcServer | undefined;
    try {
      if (config.listen !== undefined && config.listen.length > 0) {
        network = await Network.start({
          chain,
          mempool,
          logger: logger.child({ mod: 'p2p' }),
          datadir: config.datadir,
          listen: config.listen,
          peers: config.peers,
          mdns: config.mdns,
        });
      }
      if ((opts.market?.authorityKey || opts.market?.solver) && !network) {
        throw new NodeError('NO_NETWORK', 'the market needs the p2p network: do not turn listening off');
      }
      if (network) {
        market = await startMarket({
          chain,
          mempool,
          network,
          datadir: config.datadir,
          logger,
          config: opts.market ?? {},
        });
      }
      if (config.mine) {
        const address = config.minerAddress ?? (await walletAddress(config));
        miner = new Miner({ chain, mempool, address, threads: config.threads, logger: logger.child({ mod: 'miner' }) });
        const net = network;
        if (net) miner.on('mined', (block) => net.publishBlock(block));
        logger.info(
          { address: formatAddress(address, params.hrp), threads: config.threads, kernel: miner.kernel },
          'mining',
        );
      }
      const node: { ref?: ZiNode } = {};
      rpc = await createRpcServer({
        host: config.rpcHost,
        port: config.rpcPort,
        cookiePath: cookiePath(config.datadir),
        logger: logger.child({ mod: 'rpc' }),
        methods: rpcMethods({
          chain,
          mempool,
          miner,
          network,
          market,
          version: VERSION,
          startedAt: Date.now(),
          shutdown: () => void node.ref?.stop(),
        }),
      });
      node.ref = new ZiNode({ config, chain, mempool, miner, network, market, rpc, logger });
      logger.info(
        {
          network: params.name,
          datadir: config.datadir,
          rpc: `${rpc.host}:${rpc.port}`,
          height: chain.height,
          tip: toHex(chain.tip.hash),
          signatures: chain.verifier.backend,
        },
        'node started',
      );
      miner?.start();
      return node.ref;
    } catch (err) {
      await miner?.stop();
      await market?.stop();
      await network?.stop();
      await rpc?.close();
      await chain.close();
      throw err;
    }
  }

  /** Resolves once the node has stopped (by `stop()`, the RPC `stop` or a signal). */
  get finished(): Promise<void> {
    return this.done.promise;
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.logger.info('stopping');
      await this.miner?.stop();
      await this.market?.stop();
      await this.network?.stop();
      await this.rpc.close();
      try {
        const saved = await saveMempool(mempoolPath(this.config.datadir), this.mempool, this.chain.genesisHash);
        this.logger.info({ txs: saved }, 'mempool saved');
      } catch (err) {
        this.logger.error({ err: String(err) }, 'mempool.dat not written');
      }
      await this.chain.close();
      this.logger.info({ height: this.chain.height }, 'stopped');
      this.done.resolve();
    })();
    return this.stopped;
  }
}

async function walletAddress(config: NodeConfig): Promise<Uint8Array> {
  try {
    const file = await readKeystore(walletPath(config.datadir));
    return parseAddress(file.address, config.params.hrp);
  } catch (err) {
    // A damaged keystore says so; only a missing one asks for a wallet or an address.
    if (!(err instanceof KeystoreError) || err.code !== 'NOT_FOUND') throw err;
    throw new NodeError(
      'NO_MINER_ADDRESS',
      `--mine needs an address for the rewards: pass --miner-address, or create a wallet first (zi wallet create --network ${config.params.name})`,
    );
  }
}
