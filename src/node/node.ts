import { join } from 'node:path';
import { formatAddress, parseAddress } from '../chain/address.ts';
import { Chain } from '../chain/chain.ts';
import { makeDirs } from '../chain/dirs.ts';
import { toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import { Mempool } from '../chain/mempool.ts';
import { loadMempool, saveMempool } from '../chain/mempool-file.ts';
import { reindex } from '../chain/reindex.ts';
import type { Ports, TxRulesRegistry } from '../chain/tx-rules.ts';
import { openContentStore } from '../content/index.ts';
import type { ContentStore } from '../content/store.ts';
import { explorerIndexer } from '../explorer/indexer.ts';
import { type ExplorerServer, startExplorer } from '../explorer/server.ts';
import { Miner } from '../miner/miner.ts';
import type { VoteSource } from '../miner/template.ts';
import { Network } from '../p2p/network.ts';
import { domainName } from '../p2p/topics.ts';
import type { RpcMethod } from '../rpc/methods.ts';
import { KeystoreError, readKeystore } from '../wallet/keystore.ts';
import { cookiePath, mempoolPath, type NodeConfig, walletPath } from './config.ts';
import { ContentKeeper, contentRpcMethods } from './content-keeper.ts';
import type { DomainContext, DomainService, NodeDomain } from './domain.ts';
import { DOMAINS, type DomainConfigs, type ServiceOf } from './domains.ts';
import type { Logger } from './logger.ts';
import { p2pPort } from './p2p-port.ts';
import { createRpcServer, type RpcServer } from './rpc/server.ts';
import { rpcMethods } from './rpc-methods.ts';
import { nodeRules } from './rules.ts';
import { VERSION } from './version.ts';

export { VERSION };

export class NodeError extends ZiError<
  'DATADIR_LOCKED' | 'DATADIR_UNUSABLE' | 'NO_MINER_ADDRESS' | 'RPC_METHOD_TWICE'
> {}

export interface StartOptions {
  logger: Logger;
  /** The consensus rules; by default this version's core and domains (plus `moreDomains`). */
  rules?: TxRulesRegistry;
  /** Each domain's configuration, by domain name. */
  domains?: DomainConfigs;
  /** Domains beyond this version's, started after them (tests plug a fake votes section in this way). */
  moreDomains?: readonly NodeDomain<never>[];
  /** A Kubo RPC API to use for IPFS instead of the embedded Helia node. */
  ipfsApi?: string;
}

interface Parts {
  config: NodeConfig;
  chain: Chain;
  mempool: Mempool;
  miner?: Miner;
  network?: Network;
  content?: ContentStore;
  keeper?: ContentKeeper;
  services: Map<string, DomainService>;
  rpc: RpcServer;
  explorer?: ExplorerServer;
  methods: Readonly<Record<string, RpcMethod>>;
  logger: Logger;
}

/** A full node: chain, mempool, network, IPFS, each domain's service, optional miner and the JSON-RPC server. */
export class ZiNode {
  readonly config: NodeConfig;
  readonly chain: Chain;
  readonly mempool: Mempool;
  readonly miner?: Miner;
  readonly network?: Network;
  readonly content?: ContentStore;
  readonly rpc: RpcServer;
  /** The read-only web explorer, with --explorer. */
  readonly explorer?: ExplorerServer;
  /** Every RPC method this node serves, by name (the explorer reads through some). */
  readonly methods: Readonly<Record<string, RpcMethod>>;
  private readonly keeper?: ContentKeeper;
  private readonly services: Map<string, DomainService>;
  private readonly logger: Logger;
  private stopped?: Promise<void>;
  private readonly done = Promise.withResolvers<void>();

  private constructor(parts: Parts) {
    this.config = parts.config;
    this.chain = parts.chain;
    this.mempool = parts.mempool;
    this.miner = parts.miner;
    this.network = parts.network;
    this.content = parts.content;
    this.keeper = parts.keeper;
    this.services = parts.services;
    this.rpc = parts.rpc;
    this.explorer = parts.explorer;
    this.methods = parts.methods;
    this.logger = parts.logger;
  }

  /** The running service of one of this version's domains. */
  service<D extends (typeof DOMAINS)[number]>(domain: D): ServiceOf<D> {
    return this.services.get(domain.name) as ServiceOf<D>;
  }

  static async start(config: NodeConfig, opts: StartOptions): Promise<ZiNode> {
    const { logger } = opts;
    const { params } = config;
    await makeDirs(config.datadir, 0o700).catch((err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EEXIST' || err.code === 'ENOTDIR'
          ? 'a file is in the way'
          : err.code === 'ENOENT'
            ? 'the file system does not allow a directory there (ENOENT)'
            : (err.code ?? err.message);
      throw new NodeError('DATADIR_UNUSABLE', `cannot use ${config.datadir} as the data directory: ${why}`, {
        path: config.datadir,
      });
    });
    // Before anything opens a port or a file: a mining node without an address is told so, not of a port in use.
    const minerAddress = config.mine ? (config.minerAddress ?? (await walletAddress(config))) : undefined;
    const domains: readonly NodeDomain<never>[] = [...DOMAINS, ...(opts.moreDomains ?? [])];
    const rules = opts.rules ?? nodeRules();
    if (!opts.rules) for (const d of opts.moreDomains ?? []) rules.registerDomain(d.consensus);
    // The explorer's indexes are kept only by a node that serves it, like Bitcoin Core's -txindex: they
    // cost a block's validation 8-18 % (bench/validation.bench.ts). A run without them ends their
    // marker, so a later --explorer asks for one --reindex instead of serving a stale index.
    const indexers = config.explorer !== undefined ? [explorerIndexer] : [];
    const chainOpts = { path: join(config.datadir, 'chain'), params, rules, indexers };
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
    const checked = Date.now();
    const chain = await Chain.open({ ...chainOpts, checkState: config.checkState }).catch(locked);
    if (config.checkState) {
      logger.info(
        { ms: Date.now() - checked },
        'chain opened with --check-state: every state record passes its checksum',
      );
    }
    chain.verifier.warm();
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
    let content: ContentStore | undefined;
    let keeper: ContentKeeper | undefined;
    const services = new Map<string, DomainService>();
    let rpc: RpcServer | undefined;
    let explorer: ExplorerServer | undefined;
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
          topics: domains.flatMap((d) => (d.topics ?? []).map((t) => domainName(params.name, t))),
        });
        content = await openContentStore({
          datadir: config.datadir,
          libp2p: network.host,
          ipfsApi: opts.ipfsApi,
          logger: logger.child({ mod: 'ipfs' }),
        });
      }
      const configs = (opts.domains ?? {}) as Record<string, never>;
      const offered = new Map<string, object>();
      const ports: Ports = { get: <T extends object>(name: string) => offered.get(name) as T | undefined };
      for (const d of domains) {
        const ctx: DomainContext = {
          chain,
          mempool,
          logger: logger.child({ mod: d.name }),
          datadir: config.datadir,
          p2p: network && p2pPort(network, params.name),
          content,
          miner: minerAddress,
          ports,
        };
        const service = await d.start(ctx, configs[d.name]);
        services.set(d.name, service);
        for (const [name, port] of Object.entries(service.ports ?? {})) offered.set(name, port);
        for (const [kind, policy] of service.policies ?? []) mempool.addPolicy(kind, policy);
      }
      if (minerAddress) {
        const address = minerAddress;
        const sources = [...services.values()].flatMap((s) => (s.votes ? [s.votes] : []));
        const votes: VoteSource = (at) => sources.flatMap((source) => source(at));
        miner = new Miner({
          chain,
          mempool,
          address,
          threads: config.threads,
          votes,
          ready: () => network?.caughtUp() ?? true,
          logger: logger.child({ mod: 'miner' }),
        });
        const net = network;
        if (net) miner.on('mined', (block) => net.publishBlock(block));
        logger.info(
          { address: formatAddress(address, params.hrp), threads: config.threads, kernel: miner.kernel },
          'mining',
        );
      }
      if (content) {
        const all = [...services.values()];
        keeper = new ContentKeeper({
          content,
          async *keep() {
            for (const s of all) if (s.keep) yield* s.keep();
          },
          logger: logger.child({ mod: 'ipfs' }),
          maxBytes: config.maxStorage,
        });
      }
      const node: { ref?: ZiNode } = {};
      const methods = rpcMethods({
        chain,
        mempool,
        miner,
        network,
        domains: services,
        version: VERSION,
        startedAt: Date.now(),
        shutdown: () => void node.ref?.stop(),
      });
      Object.assign(methods, contentRpcMethods(keeper));
      for (const [domain, service] of services) {
        for (const [name, method] of Object.entries(service.rpc ?? {})) {
          if (Object.hasOwn(methods, name)) {
            throw new NodeError('RPC_METHOD_TWICE', `${domain} defines the RPC method ${name}, which already exists`);
          }
          methods[name] = method;
        }
      }
      rpc = await createRpcServer({
        host: config.rpcHost,
        port: config.rpcPort,
        cookiePath: cookiePath(config.datadir),
        logger: logger.child({ mod: 'rpc' }),
        methods,
      });
      if (config.explorer) {
        explorer = await startExplorer(
          { chain, mempool, methods, content },
          { ...config.explorer, logger: logger.child({ mod: 'explorer' }) },
        );
      }
      node.ref = new ZiNode({
        config,
        chain,
        mempool,
        miner,
        network,
        content,
        keeper,
        services,
        rpc,
        explorer,
        methods,
        logger,
      });
      logger.info(
        {
          network: params.name,
          datadir: config.datadir,
          rpc: `${rpc.host}:${rpc.port}`,
          height: chain.height,
          tip: toHex(chain.tip.hash),
          signatures: chain.verifier.backend,
          ...(explorer ? { explorer: explorer.url } : {}),
        },
        'node started',
      );
      miner?.start();
      keeper?.start();
      return node.ref;
    } catch (err) {
      await miner?.stop();
      await keeper?.stop();
      await stopServices(services);
      await content?.close();
      await network?.stop();
      await explorer?.close();
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
      // First: its pages read the services stopped below.
      await this.explorer?.close();
      await this.miner?.stop();
      await this.keeper?.stop();
      await stopServices(this.services);
      await this.content?.close();
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

/** Last started, first stopped. */
async function stopServices(services: Map<string, DomainService>): Promise<void> {
  for (const s of [...services.values()].reverse()) await s.stop();
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
      `--mine needs an address for the rewards: pass --miner-address, or create a wallet first (zi wallet create --datadir ${config.datadir})`,
    );
  }
}
