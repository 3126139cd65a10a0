import { rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { resolveConfig } from '../node/config.ts';
import { createLogger } from '../node/logger.ts';
import { ZiNode } from '../node/node.ts';
import { endpointPath } from './client.ts';

export function nodeCommand(program: Command): void {
  program
    .command('node')
    .description('run a full node (add --mine to mine)')
    .option('--network <name>', 'devnet, testnet or mainnet', 'devnet')
    .option('--datadir <dir>', 'data directory (default ~/.zi/<network>, or $ZI_HOME/<network>)')
    .option('--mine', 'mine blocks on the tip', false)
    .option('--miner-address <address>', 'address paid for mined blocks (default: the wallet in the data dir)')
    .option('--threads <n>', 'mining threads (default: all cores)')
    .option('--rpc-port <port>', 'JSON-RPC port on 127.0.0.1 (0 picks a free one)')
    .option(
      '--listen <multiaddr>',
      'p2p listen address, repeatable (default /ip4/0.0.0.0/tcp/<network p2p port>)',
      collect,
    )
    .option(
      '--peer <multiaddr>',
      'peer to stay connected to, repeatable (e.g. /ip4/10.0.0.2/tcp/18444/p2p/12D3…)',
      collect,
    )
    .option('--mdns', 'find peers of the same network on the LAN by mDNS', false)
    .action(async (flags) => {
      const config = resolveConfig(flags);
      const logger = createLogger();
      const node = await ZiNode.start(config, { logger });
      const endpoint = endpointPath(config.datadir);
      await writeFile(endpoint, JSON.stringify({ host: node.rpc.host, port: node.rpc.port, pid: process.pid }));
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'shutting down');
        void node.stop();
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      await node.finished;
      await rm(endpoint, { force: true });
    });
}

/** commander's accumulator for repeatable options. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
