import { getAccount } from '../chain/accounts.ts';
import { activityOf } from '../chain/activity.ts';
import { type Address, formatAddress, parseAddress } from '../chain/address.ts';
import type { Chain } from '../chain/chain.ts';
import { targetFromDifficulty } from '../chain/difficulty.ts';
import { fromHex, toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import type { Mempool } from '../chain/mempool.ts';
import { Transaction } from '../chain/transaction.ts';
import type { Miner } from '../miner/miner.ts';
import type { Network } from '../p2p/network.ts';
import { defineMethod, describeMethods, type RpcMethod } from '../rpc/methods.ts';
import { blockView, txView } from '../rpc/views.ts';
import type { DomainService } from './domain.ts';

export class NotFoundError extends ZiError<'NOT_FOUND'> {}

export interface RpcDeps {
  chain: Chain;
  mempool: Mempool;
  miner?: Miner;
  /** Absent when the node runs without p2p. */
  network?: Network;
  /** Each domain's running service, by domain name (their methods are added beside these). */
  domains: ReadonlyMap<string, DomainService>;
  version: string;
  startedAt: number;
  /** Asks the node to shut down (the `stop` method). */
  shutdown: () => void;
}

const hash32 = { type: 'bytes', bytes: 32 } as const;

/** The node's JSON-RPC methods; docs/RPC.md lists them with examples. */
export function rpcMethods(d: RpcDeps): Record<string, RpcMethod> {
  const { chain, mempool } = d;
  const params = chain.params;
  const address = (text: string): Address => parseAddress(text, params.hrp);
  const view = { rules: chain.rules, params };

  async function blockByHash(hash: Uint8Array, fullTxs: boolean) {
    const entry = chain.entry(hash);
    const block = entry && (await chain.getBlock(hash));
    if (!entry || !block) throw new NotFoundError('NOT_FOUND', `no block ${toHex(hash)}`);
    return blockView(block, entry, { ...view, tipHeight: chain.height, main: chain.isMain(entry), fullTxs });
  }

  function difficulty() {
    const next = chain.difficultyAfter(chain.tip);
    return {
      current: chain.tip.header.difficulty / 65536,
      next: next / 65536,
      nextQ16: next,
      nextTarget: targetFromDifficulty(next).toString(16).padStart(64, '0'),
      openProblems: chain.tip.openProblems,
    };
  }

  const methods: Record<string, RpcMethod> = {
    getinfo: defineMethod({
      description: 'Network, tip, difficulty, mempool, peers and mining status of this node.',
      params: [],
      handler: () => ({
        version: d.version,
        network: params.name,
        genesis: toHex(chain.genesisHash),
        height: chain.height,
        tip: toHex(chain.tip.hash),
        tipTime: new Date(chain.tip.header.timestamp).toISOString(),
        chainwork: chain.tip.chainwork,
        difficulty: difficulty(),
        mempool: { count: mempool.count, bytes: mempool.totalBytes },
        peers: d.network?.peerCount ?? 0,
        mining: d.miner
          ? {
              enabled: true,
              kernel: d.miner.kernel,
              hashrate: Math.round(d.miner.hashrate),
              blocksMined: d.miner.blocksMined,
            }
          : { enabled: false },
        ...Object.fromEntries([...d.domains].map(([name, service]) => [name, service.info?.() ?? null])),
        uptimeSeconds: Math.round((Date.now() - d.startedAt) / 1000),
      }),
    }),
    getblockcount: defineMethod({
      description: 'Height of the tip.',
      params: [],
      handler: () => chain.height,
    }),
    getblockhash: defineMethod({
      description: 'Hash of the main-chain block at a height.',
      params: [{ name: 'height', type: 'integer', min: 0 }],
      handler: ({ height }) => {
        const e = chain.entryAtHeight(height);
        if (!e) throw new NotFoundError('NOT_FOUND', `no block at height ${height} (tip is ${chain.height})`);
        return toHex(e.hash);
      },
    }),
    getblock: defineMethod({
      description: 'A block by hash; txs as ids, or whole with verbose=true.',
      params: [
        { name: 'hash', ...hash32 },
        { name: 'verbose', type: 'boolean', optional: true },
      ],
      handler: ({ hash, verbose }) => blockByHash(hash, verbose ?? false),
    }),
    getblockbyheight: defineMethod({
      description: 'The main-chain block at a height; txs as ids, or whole with verbose=true.',
      params: [
        { name: 'height', type: 'integer', min: 0 },
        { name: 'verbose', type: 'boolean', optional: true },
      ],
      handler: ({ height, verbose }) => {
        const e = chain.entryAtHeight(height);
        if (!e) throw new NotFoundError('NOT_FOUND', `no block at height ${height} (tip is ${chain.height})`);
        return blockByHash(e.hash, verbose ?? false);
      },
    }),
    gettransaction: defineMethod({
      description: 'A transaction by id, from the chain or the mempool, with its confirmations.',
      params: [{ name: 'txid', ...hash32 }],
      handler: async ({ txid }) => {
        const pending = mempool.get(txid);
        if (pending) return { ...txView(pending, chain.rules, params), status: 'pending', confirmations: 0 };
        const loc = await chain.store.txLocation(txid);
        const entry = loc && chain.entry(loc.block);
        const block = entry && (await chain.getBlock(entry.hash));
        const tx = block?.txs[loc!.position];
        if (!entry || !tx) throw new NotFoundError('NOT_FOUND', `no transaction ${toHex(txid)}`);
        return {
          ...txView(tx, chain.rules, params, chain.state),
          status: 'confirmed',
          block: toHex(entry.hash),
          height: entry.height,
          confirmations: chain.height - entry.height + 1,
          time: new Date(entry.header.timestamp).toISOString(),
        };
      },
    }),
    getaccount: defineMethod({
      description: 'Balance and nonce of an address at the tip, and what is pending for it.',
      params: [{ name: 'address', type: 'string', maxLength: 100 }],
      handler: ({ address: text }) => {
        const a = address(text);
        const acct = getAccount(chain.state, a);
        const pending = mempool.pendingOf(a);
        return {
          address: formatAddress(a, params.hrp),
          balance: acct.balance,
          nonce: acct.nonce,
          nextNonce: mempool.nextNonce(a),
          pending: pending.map((tx) => toHex(tx.hash())),
        };
      },
    }),
    getactivity: defineMethod({
      description:
        'Whether an address is active (party to activeTxCount transactions in the last activeWindowMs of block time) and until when.',
      params: [{ name: 'address', type: 'string', maxLength: 100 }],
      handler: ({ address: text }) => {
        const a = address(text);
        const now = chain.tip.header.timestamp;
        const act = activityOf(getAccount(chain.state, a).activity, now, params);
        const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());
        return {
          address: formatAddress(a, params.hrp),
          active: act.active,
          recentTxs: act.recent,
          neededTxs: params.activeTxCount,
          windowDays: params.activeWindowMs / 86_400_000,
          activeUntil: iso(act.activeUntil),
          lastTx: iso(act.lastTx),
          asOf: iso(now),
        };
      },
    }),
    gethistory: defineMethod({
      description: 'Newest-first transactions and mining rewards of an address (`rewards: false`: transactions only).',
      params: [
        { name: 'address', type: 'string', maxLength: 100 },
        { name: 'limit', type: 'integer', min: 1, max: 1000, optional: true },
        { name: 'rewards', type: 'boolean', optional: true },
      ],
      handler: async ({ address: text, limit, rewards }) => {
        const a = address(text);
        const rows = await chain.store.history(a, limit ?? 50, { rewards: rewards ?? true });
        const out = [];
        for (const row of rows) {
          const entry = chain.entryAtHeight(row.height);
          const time = entry ? new Date(entry.header.timestamp).toISOString() : undefined;
          if (row.position === 'reward') {
            out.push({ type: 'reward', height: row.height, block: toHex(row.id), time });
            continue;
          }
          const block = entry && (await chain.getBlock(entry.hash));
          const tx = block?.txs[row.position];
          if (tx) out.push({ type: 'tx', height: row.height, time, ...txView(tx, chain.rules, params, chain.state) });
        }
        return out;
      },
    }),
    getmempool: defineMethod({
      description: 'Pending transactions, highest fee rate first.',
      params: [{ name: 'verbose', type: 'boolean', optional: true }],
      handler: ({ verbose }) => {
        const entries = mempool.entries().sort((a, b) => b.feeRate - a.feeRate);
        return {
          count: mempool.count,
          bytes: mempool.totalBytes,
          txs: entries.map((e) => (verbose ? { ...txView(e.tx, chain.rules, params), feeRate: e.feeRate } : e.id)),
        };
      },
    }),
    sendrawtransaction: defineMethod({
      description: 'Submits a signed transaction (hex); returns its id or a typed error saying why not.',
      params: [{ name: 'tx', type: 'string', maxLength: 2 * params.maxTxBytes + 2 }],
      handler: async ({ tx: hex }) => {
        const tx = Transaction.fromBytes(fromHex(hex, undefined, 'tx'), params.maxTxBytes);
        await mempool.accept(tx);
        return toHex(tx.hash());
      },
    }),
    getdifficulty: defineMethod({
      description: 'Difficulty of the tip and of the next block, in leading zero bits.',
      params: [],
      handler: difficulty,
    }),
    getpeerinfo: defineMethod({
      description: "This node's peer id and addresses, its connected peers and the banned ones.",
      params: [],
      handler: () => {
        const net = d.network;
        if (!net) return { enabled: false, peerId: null, addresses: [], peers: [], banned: [] };
        return {
          enabled: true,
          peerId: net.peerId,
          addresses: net.addresses(),
          peers: net.peers(),
          banned: net.bans().map((b) => ({ ...b, until: new Date(b.until).toISOString() })),
        };
      },
    }),
    getsyncstatus: defineMethod({
      description: 'Whether the node is catching up, how far, how fast, and the time left.',
      params: [],
      handler: () =>
        d.network?.syncStatus() ?? {
          syncing: false,
          height: chain.height,
          target: chain.height,
          rate: 0,
          peers: 0,
          pendingHeaders: 0,
          bufferedBlocks: 0,
          bufferedBytes: 0,
          downloaded: {},
        },
    }),
    addpeer: defineMethod({
      description: 'Connects to a peer by multiaddr; returns its peer id.',
      params: [{ name: 'address', type: 'string', maxLength: 300 }],
      handler: ({ address: addr }) => {
        if (!d.network) throw new NotFoundError('NOT_FOUND', 'this node runs without p2p');
        return d.network.connect(addr);
      },
    }),
    stop: defineMethod({
      description: 'Shuts the node down cleanly.',
      params: [],
      handler: () => {
        setImmediate(d.shutdown);
        return 'stopping';
      },
    }),
    help: defineMethod({
      description:
        'Every method this node serves (or the one named), with its params and what it does (`zi rpc help [method]`).',
      params: [{ name: 'method', type: 'string', maxLength: 100, optional: true }],
      // The node adds its domains' methods to this same table, so help lists them too.
      handler: ({ method }) => {
        const all = describeMethods(methods);
        if (method === undefined) return all;
        const one = all.filter((m) => m.name === method);
        if (one.length === 0) throw new NotFoundError('NOT_FOUND', `no method ${method} (zi rpc help lists them)`);
        return one;
      },
    }),
  };
  return methods;
}
