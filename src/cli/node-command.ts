import { rm, writeFile } from 'node:fs/promises';
import module from 'node:module';
import type { Command } from 'commander';
import type { AuditConfig } from '../audit/domain.ts';
import { formatZi, parseAmount } from '../chain/amount.ts';
import { fromHex } from '../chain/encoding.ts';
import type { MarketConfig } from '../market/service.ts';
import type { SolverActivity, SolverSnapshot } from '../market/solver-status.ts';
import { ConfigError, type NodeConfig, resolveConfig } from '../node/config.ts';
import type { Logger } from '../node/logger.ts';
import type { ZiNode } from '../node/node.ts';
import { type ClientFlags, clientOptions, connect, endpointPath, walletOption } from './client.ts';
import { hexId } from './options.ts';
import { print, table } from './output.ts';
import { collect } from './settings.ts';
import { activityText, duration, grouped, StatusLine, solverLine } from './status-line.ts';
import { walletFile } from './tx-sender.ts';

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
      'peer to stay connected to, repeatable (e.g. /ip4/10.0.0.2/tcp/18444, optionally ending /p2p/12D3…)',
      collect,
    )
    .option('--mdns', 'find peers of the same network on the LAN by mDNS', false)
    .option('--ipfs-api <url>', 'use this Kubo daemon for IPFS instead of the embedded Helia node')
    .option(
      '--max-storage <size>',
      'IPFS storage above which the node frees space by itself, e.g. 20GB (paid batches are always kept)',
    );
  return walletOption(cmd).option(
    '--passphrase-file <file>',
    'wallet passphrase file (or set ZI_PASSPHRASE; otherwise you are asked)',
  );
}

async function unlockWallet(flags: { network?: string; datadir?: string; wallet?: string; passphraseFile?: string }) {
  const { decryptKey, readKeystore } = await import('../wallet/keystore.ts');
  const { readPassphrase } = await import('../wallet/passphrase.ts');
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
  audit?: AuditConfig,
): Promise<void> {
  // Loaded only here: libp2p and the rest of the node take a second to load,
  // which every other zi command would pay for nothing.
  const { ZiNode } = await import('../node/node.ts');
  const node = await ZiNode.start(config, { logger, ipfsApi, domains: { market, audit } });
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
  // Node writes the compile cache at exit; written now, while nothing waits,
  // a stop is not delayed by seconds of writes on a first run.
  module.flushCompileCache();
  await node.finished;
  await rm(endpoint, { force: true });
  // Everything the node owns has stopped. libp2p 3 leaves a 1 s timer behind
  // (its address manager's debounce, re-armed as the listeners close); a
  // service manager or `zi devnet` waits for the exit, not for that timer.
  setTimeout(() => process.exit(), 100).unref();
}

/** The getsolverstatus answer as the CLI reads it. */
type SolverReport = Omit<SolverSnapshot, 'earned' | 'contracts' | 'startedAt'> & {
  address: string;
  earned: string;
  startedAt: string;
  activity: SolverActivity;
  contracts: { id: string; mcus: number; earned: string; payouts: number; lastPaidAt: string }[];
};

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
        '--explorer [port]',
        'serve the read-only web explorer and JSON API on 127.0.0.1 (default port: the RPC port + 1, 18446 on devnet; 0 picks a free one)',
      )
      .option('--no-audit', 'mine without auditing the Validators of closed delegated contracts (no votes)')
      .option('--audit-lie', 'TEST ONLY: vote the opposite of what each audit finds (to test the audit rounds)', false)
      .option(
        '--reindex',
        'first rebuild the state and indexes from the blocks stored in the data dir (after damage)',
        false,
      )
      .option(
        '--check-state',
        'first read every state record back through its checksum (a normal start checks the newest blocks only)',
        false,
      ),
  ).action(async (flags) => {
    const config = resolveConfig(flags);
    const { createLogger } = await import('../node/logger.ts');
    const logger = createLogger();
    const market: MarketConfig = {};
    // One key serves both roles: the contracts it bids without a Validator, and those assigned to its stake.
    if (flags.bidder || flags.validator) market.authorityKey = await unlockWallet(flags);
    await runNode(config, logger, market, flags.ipfsApi, undefined, { enabled: flags.audit, lie: flags.auditLie });
  });

  const solve = nodeOptions(
    program
      .command('solve')
      .description('earn Zi: run a node that solves the best-paying open contract (or --contract ID)')
      .option('--contract <id>', 'work on this contract only')
      .option('--threads <n>', 'sandboxes computing side by side (default: all cores)')
      .option('--min-price <amount>', 'skip contracts paying less per MCU, e.g. 5li', '1li')
      .option('--bootstrap', 'bootstrap-Solver rules: over 10 Li per MCU, and let honest Solvers go first', false)
      .option('--surplus-to-fund', 'with --bootstrap: give what you earn above --cost to the shared fund', false)
      .option('--cost <amount>', 'your cost per MCU, for --surplus-to-fund', '10li')
      .enablePositionalOptions(),
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
    if (flags.surplusToFund && !flags.bootstrap) {
      throw new ConfigError('BAD_OPTION', '--surplus-to-fund is for bootstrap Solvers: add --bootstrap');
    }
    const cost = parseAmount(flags.cost, '--cost');
    const key = await unlockWallet(flags);
    // On a terminal, one status line redrawn in place below the log lines;
    // otherwise (a pipe, a service's journal) one line per event.
    const tty = process.stdout.isTTY === true && process.env.ZI_LOG_FORMAT !== 'json';
    const status = tty ? new StatusLine(1, () => process.stdout.columns || 100) : undefined;
    const { createLogger } = await import('../node/logger.ts');
    const logger = createLogger(status ? { pretty: true, destination: status.logs } : {});
    const scope = contract ? `contract ${flags.contract.slice(0, 12)}… only` : 'any open contract';
    status?.set(`starting: ${scope}, at least ${minPrice} Li per MCU`);
    const market: MarketConfig = {
      solver: { key, threads: config.threads, contract, minPrice, bootstrap: flags.bootstrap },
      ...(flags.surplusToFund ? { surplusCostPerMcu: cost } : {}),
    };
    const { marketDomain } = await import('../market/domain.ts');
    await runNode(config, logger, market, flags.ipfsApi, (node) => {
      logger.info({ scope, minPrice: `${minPrice} Li/MCU` }, 'solving');
      const tracker = node.service(marketDomain).solverStatus;
      if (!tracker) return;
      if (status) {
        const redraw = () => status.set(solverLine(tracker.snapshot()));
        tracker.on('change', redraw);
        // Uptime and back-off countdowns move even when nothing happens.
        setInterval(redraw, 1_000).unref();
        node.finished.then(() => status.end());
      }
      tracker.on('paid', (p) => {
        const line = {
          contract: p.contract.slice(0, 16),
          mcus: p.mcus,
          batch: p.batch,
          earned: `${formatZi(p.earned)} Zi`,
          rate: `${Math.round(p.rate)} MCU/s`,
          payouts: p.payouts,
        };
        // The status line shows each batch on a terminal; a log keeps a line per batch.
        if (status) logger.debug(line, 'batch paid');
        else logger.info(line, 'batch paid');
      });
      // A line when the Solver starts to wait or back off for a new reason, not at every redraw.
      let said = '';
      tracker.on('change', (s) => {
        const a = s.activity;
        const key = a.state === 'waiting' || a.state === 'backing off' ? `${a.state}: ${a.reason}` : '';
        if (key && key !== said) logger.info({ state: a.state }, activityText(s));
        said = key;
      });
    });
  });

  clientOptions(
    solve
      .command('status')
      .description('what a running Solver is doing: state, uptime, earnings, contracts worked (like golemsp status)'),
  ).action(async (flags: ClientFlags) => {
    const { rpc } = await connect(flags);
    const s = await rpc.call<SolverReport>('getsolverstatus');
    print(s, flags.json ?? false, () => {
      const snapshot = { ...s, earned: BigInt(s.earned), startedAt: Date.parse(s.startedAt), contracts: [] };
      const rows: [string, unknown][] = [
        ['address', s.address],
        ['state', activityText(snapshot)],
        ['uptime', `${duration(s.uptimeSeconds)} (since ${s.startedAt})`],
        [
          'earned',
          `${grouped(BigInt(s.earned))} Li (${formatZi(BigInt(s.earned))} Zi) in ${s.payouts} payouts this session`,
        ],
        ['MCUs', `${grouped(s.mcus)} solved and paid`],
        [
          'pace',
          s.payouts > 0
            ? `${grouped(Math.round(s.rate))} MCU/s in the last batch of ${grouped(s.lastBatch)} MCUs`
            : 'no batch yet',
        ],
        ['contracts', s.contracts.length === 0 ? 'none worked yet' : s.contracts.length],
      ];
      const lines = s.contracts.map(
        (c) =>
          `  ${c.id.slice(0, 16)}…  ${grouped(c.mcus)} MCUs  ${grouped(BigInt(c.earned))} Li  ${c.payouts} payouts  last paid ${duration((Date.now() - Date.parse(c.lastPaidAt)) / 1000)} ago`,
      );
      return [table(rows), ...lines].join('\n');
    });
  });
}
