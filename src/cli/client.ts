import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { NetworkParams } from '../chain/params.ts';
import { cookiePath, defaultDatadir, resolveNetwork, wholeNumber } from '../node/config.ts';
import { RpcClient } from '../node/rpc/client.ts';

export interface ClientFlags {
  network?: string;
  datadir?: string;
  rpcPort?: string;
  json?: boolean;
}

export interface Client {
  rpc: RpcClient;
  params: NetworkParams;
  datadir: string;
}

/** Where a running node said it listens; written by `zi node` at start. */
export function endpointPath(datadir: string): string {
  return join(datadir, 'rpc.json');
}

/** Finds the node by --network/--datadir/--rpc-port and authenticates with its cookie. */
export async function connect(flags: ClientFlags): Promise<Client> {
  const params = resolveNetwork(flags.network);
  const datadir = flags.datadir ?? defaultDatadir(params.name);
  let port = flags.rpcPort === undefined ? undefined : wholeNumber(flags.rpcPort, '--rpc-port', 1, 65535);
  if (port === undefined) {
    try {
      port = JSON.parse(await readFile(endpointPath(datadir), 'utf8')).port as number;
    } catch {
      port = params.defaultRpcPort;
    }
  }
  return { rpc: new RpcClient({ port, cookiePath: cookiePath(datadir) }), params, datadir };
}

/** The options of every command that talks to a running node. */
export function clientOptions(cmd: Command): Command {
  return cmd
    .option('--network <name>', 'devnet, testnet or mainnet', 'devnet')
    .option('--datadir <dir>', 'data directory of the node (default ~/.zi/<network>)')
    .option('--rpc-port <port>', "the node's JSON-RPC port (default: found in the data dir)")
    .option('--json', 'print JSON for scripts', false);
}

export function walletOption(cmd: Command): Command {
  return cmd.option('--wallet <file>', 'keystore file (default <datadir>/wallet.json)');
}
