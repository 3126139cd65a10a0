import { rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatZi, parseAmount } from '../chain/amount.ts';
import { fromHex } from '../chain/encoding.ts';
import { marketDomain } from '../market/domain.ts';
import type { MarketConfig } from '../market/service.ts';
import { type NodeConfig, resolveConfig } from '../node/config.ts';
import { createLogger, type Logger } from '../node/logger.ts';
import type { ZiNode } from '../node/node.ts';
import { decryptKey, readKeystore } from '../wallet/keystore.ts';
import { readPassphrase } from '../wallet/passphrase.ts';
import { endpointPath, walletOption } from './client.ts';
import { hexId } from './options.ts';
import { walletFile } from './tx-sender.ts';

/** commander's accumulator for repeatable options. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The options every command that runs a node shares; a Solver takes free ports by default. */
function nodeOptions(cmd: Command, ports: 'network' | 'free' = 'network'): Command {
  const free = ports === 'free';
  cmd
    .option('--network <name>', 'devnet, testnet or mainnet', 'devnet')
    .option('--datadir <dir>', 'data directory (default ~/.zi/<network>, or $ZI_HOME/<network>)')
    .option(
      '--rpc-port <port>',
      free ? 'JSON-RPC port on 127.0.0.1 (default: a free one)' : 'JSON-RPC port on 127.0.0.1 (0 picks a free one)',
    )
    .option(
      '--listen <multiaddr>',
      free
        ? 'p2p listen address, repeatable (default /ip4/0.0.0.0/tcp/0: a free port)'
        : 'p2p listen address, repeatable (default /ip4/0.0.0.0/tcp/<network p2p port>)',
      collect,
    )
    .option(
      '--peer <multiaddr>',
      'peer to stay connected to, repeatable (e.g. /ip4/10.0.0.2/tcp/18444/p2p/12D3…)',
      collect,
    )
    .option('--mdns', 'find peers of the same network on the LAN by mDNS', false)
    .option('--ipfs-api <url>', 'use this Kubo daemon for IPFS instead of the embedded Helia node');
  return walletOption(cmd).option(
    '--passphrase-file <file>',
    'wallet passphrase file (or set ZI_PASSPHRASE; otherwise you are asked)',
  );
}

async function unlockWallet(flags: { network?: string; datadir?: string; wallet?: string; passphraseFile?: string }) {
  const file = await readKeystore(walletFile(flags));
  return decryptKey(file, await readPassphrase({ passphraseFile: flags.passphraseFile }));
}

/** Runs a node until SIGINT/SIGTERM (or the RPC `stop`), then shuts it down cleanly. */
async function runNode(
  config: NodeConfig,
  logger: Logger,
  market: MarketConfig,
  ipfsApi: string | undefined,
  onStarted?: (node: ZiNode) => void,
): Promise<void> {
  // Loaded only here: libp2p and the rest of the node take a second to load,
  // which every other zi command would pay for nothing.
  const { ZiNode } = await import('../node/node.ts');
  const node = await ZiNode.start(config, { logger, ipfsApi, domains: { market } });
  // Before any await: a signal right after "node started" must still stop the node cleanly (and save mempool.dat).
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    void node.stop();
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  const endpoint = endpointPath(config.datadir);
  await writeFile(endpoint, JSON.stringify({ host: node.rpc.host, port: node.rpc.port, pid: process.pid }));
  onStarted?.(node);
  await node.finished;
  await rm(endpoint, { force: true });
}

export function nodeCommand(program: Command): void {
  nodeOptions(
    program
      .command('node')
      .description(
        'run a full node (add --mine to mine, --bidder to serve your contracts to Solvers, --validator to serve the contracts assigned to you)',
      )
      .option('--mine', 'mine blocks on the tip', false)
      .option('--miner-address <address>', 'address paid for mined blocks (default: the wallet in the data dir)')
      .option('--threads <n>', 'mining threads (default: all cores)')
      .option(
        '--bidder',
        "unlock the wallet and act as your contracts' authority: lease, validate, sign payouts",
        false,
      )
      .option(
        '--validator',
        'unlock the wallet and serve the delegated contracts assigned to its stake: lease, validate, sign payouts',
        false,
      )
      .option(
        '--reindex',
        'first rebuild the state and indexes from the blocks stored in the data dir (after damage)',
        false,
      ),
  ).action(async (flags) => {
    const config = resolveConfig(flags);
    const logger = createLogger();
    const market: MarketConfig = {};
    // One key serves both roles: the contracts it bids without a Validator, and those assigned to its stake.
    if (flags.bidder || flags.validator) market.authorityKey = await unlockWallet(flags);
    await runNode(config, logger, market, flags.ipfsApi);
  });

  nodeOptions(
    program
      .command('solve')
      .description('earn Zi: run a node that solves the best-paying open contract (or --contract ID)')
      .option('--contract <id>', 'work on this contract only')
      .option('--threads <n>', 'sandboxes computing side by side (default: all cores)')
      .option('--min-price <amount>', 'skip contracts paying less per MCU, e.g. 5li', '1li')
      .option('--bootstrap', 'bootstrap-Solver rules: over 10 Li per MCU, and let honest Solvers go first', false),
    'free',
  ).action(async (flags) => {
    // A Solver needs no well-known ports (authorities dial back to the addresses it announces),
    // so by default it takes free ones and runs beside a node on the same machine.
    const config = resolveConfig({
      ...flags,
      mine: false,
      listen: flags.listen ?? ['/ip4/0.0.0.0/tcp/0'],
      rpcPort: flags.rpcPort ?? 0,
    });
    const contract = flags.contract === undefined ? undefined : fromHex(hexId(flags.contract, '--contract'), 32);
    const minPrice = parseAmount(flags.minPrice, '--min-price');
    const logger = createLogger();
    const key = await unlockWallet(flags);
    const market: MarketConfig = {
      solver: { key, threads: config.threads, contract, minPrice, bootstrap: flags.bootstrap },
    };
    await runNode(config, logger, market, flags.ipfsApi, (node) => {
      const solver = node.service(marketDomain).solver;
      solver?.on('progress', (p) =>
        logger.info(
          {
            contract: p.contract.slice(0, 16),
            mcus: p.mcus,
            batch: p.batch,
            earned: `${formatZi(p.earned)} Zi`,
            rate: `${Math.round(p.rate)} MCU/s`,
            payouts: p.payouts,
          },
          'batch paid',
        ),
      );
      solver?.on('waiting', (why) => logger.info({ why }, 'waiting'));
    });
  });
}
