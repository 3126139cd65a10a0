import { createRequire } from 'node:module';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { parseAddress } from '../chain/address.ts';
import { ZiError } from '../chain/errors.ts';
import { MEMPOOL_FILE } from '../chain/mempool-file.ts';
import { isNetworkName, NETWORKS, type NetworkParams } from '../chain/params.ts';

export class ConfigError extends ZiError<'BAD_OPTION'> {}

export interface NodeConfig {
  params: NetworkParams;
  datadir: string;
  rpcPort: number;
  rpcHost: string;
  mine: boolean;
  minerAddress?: Uint8Array;
  threads: number;
  /** p2p listen multiaddrs; without them the node runs alone (no network). */
  listen?: string[];
  /** Peers to stay connected to. */
  peers?: string[];
  /** LAN discovery by mDNS. */
  mdns?: boolean;
  /** Rebuild the state and indexes from the stored blocks before starting. */
  reindex?: boolean;
  /** Read the whole state back through its seals before starting (`--check-state`). */
  checkState?: boolean;
  /** IPFS storage, bytes, above which the node collects garbage (--max-storage). */
  maxStorage?: number;
  /** The read-only web explorer and JSON API (--explorer [PORT]), on 127.0.0.1. */
  explorer?: { port: number; host: string };
}

export interface NodeFlags {
  network?: string;
  datadir?: string;
  rpcPort?: string | number;
  mine?: boolean;
  minerAddress?: string;
  threads?: string | number;
  listen?: string[];
  peer?: string[];
  mdns?: boolean;
  reindex?: boolean;
  checkState?: boolean;
  maxStorage?: string;
  /** --explorer alone (true) takes the network's default port; --explorer PORT that one (0: a free one). */
  explorer?: boolean | string | number;
}

/** The explorer's port unless --explorer names one: the RPC port's neighbour (18446 on devnet). */
export const defaultExplorerPort = (params: NetworkParams): number => params.defaultRpcPort + 1;

/** ~/.zi/<network>, or $ZI_HOME/<network> when set (tests, several nodes on one machine). */
export function defaultDatadir(network: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(env.ZI_HOME ?? join(homedir(), '.zi'), network);
}

export function resolveNetwork(name = 'devnet'): NetworkParams {
  if (!isNetworkName(name)) {
    throw new ConfigError('BAD_OPTION', `unknown network "${name}": use devnet, testnet or mainnet`);
  }
  return NETWORKS[name];
}

/**
 * A command-line whole number within bounds, or a clear error naming the
 * option. Decimal digits only: "0x10", "1e3" and "" are not numbers here.
 */
export function wholeNumber(text: string | number, what: string, min: number, max: number): number {
  if (typeof text === 'string' && text.trim().startsWith('-')) {
    throw new ConfigError('BAD_OPTION', `${what} must not be negative, got "${text}"`);
  }
  const n = typeof text === 'number' ? text : /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError('BAD_OPTION', `${what} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return n;
}

export function resolveConfig(flags: NodeFlags, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const params = resolveNetwork(flags.network);
  const threads =
    flags.threads === undefined ? availableParallelism() : wholeNumber(flags.threads, '--threads', 1, 256);
  return {
    params,
    datadir: flags.datadir ?? defaultDatadir(params.name, env),
    rpcPort: flags.rpcPort === undefined ? params.defaultRpcPort : wholeNumber(flags.rpcPort, '--rpc-port', 0, 65535),
    rpcHost: '127.0.0.1',
    mine: flags.mine ?? false,
    minerAddress: flags.minerAddress === undefined ? undefined : parseAddress(flags.minerAddress, params.hrp),
    threads,
    listen: multiaddrs(flags.listen ?? [`/ip4/0.0.0.0/tcp/${params.defaultP2pPort}`], '--listen'),
    peers: multiaddrs(flags.peer ?? [], '--peer'),
    mdns: flags.mdns ?? false,
    reindex: flags.reindex ?? false,
    checkState: flags.checkState ?? false,
    ...(flags.maxStorage === undefined ? {} : { maxStorage: byteSize(flags.maxStorage, '--max-storage') }),
    ...explorerConfig(flags.explorer, params),
  };
}

/** --explorer, or explorer= in zi.conf / ZI_EXPLORER: a port, or true/yes for the default one, false/no for none. */
function explorerConfig(value: NodeFlags['explorer'], params: NetworkParams): Pick<NodeConfig, 'explorer'> {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (text === undefined || text === false || text === 'false' || text === 'no' || text === 'off') return {};
  const port =
    text === true || text === 'true' || text === 'yes' || text === 'on'
      ? defaultExplorerPort(params)
      : wholeNumber(text, '--explorer PORT', 0, 65535);
  return { explorer: { host: '127.0.0.1', port } };
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
  t: 1e12,
  tb: 1e12,
  tib: 1024 ** 4,
};

/** "500MB", "2GiB", "1.5g", "1000000": a size in bytes, or a clear error naming the option. */
export function byteSize(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError('BAD_OPTION', `${what} must be a size such as 500MB, 2GB or 1GiB, got "${text}"`);
  }
  return n;
}

function multiaddrs(values: string[], what: string): string[] {
  if (values.length === 0) return values;
  // Loaded when a node starts, not by every command that reads this module
  // (the parser is a few dozen modules); require() of an ES module is synchronous.
  const { multiaddr } = createRequire(import.meta.url)(
    '@multiformats/multiaddr',
  ) as typeof import('@multiformats/multiaddr');
  for (const v of values) {
    try {
      multiaddr(v);
    } catch {
      throw new ConfigError('BAD_OPTION', `${what} ${v} is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/18444)`);
    }
  }
  return values;
}

export function cookiePath(datadir: string): string {
  return join(datadir, '.cookie');
}

export function mempoolPath(datadir: string): string {
  return join(datadir, MEMPOOL_FILE);
}

export function walletPath(datadir: string): string {
  return join(datadir, 'wallet.json');
}
