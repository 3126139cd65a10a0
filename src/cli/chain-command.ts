import type { Command } from 'commander';
import { formatZi } from '../chain/amount.ts';
import { type ClientFlags, clientOptions, connect } from './client.ts';
import { blockRef, hexId } from './options.ts';
import { print, table } from './output.ts';

type Info = {
  network: string;
  height: number;
  tip: string;
  tipTime: string;
  difficulty: { current: number; next: number; openProblems: number };
  mempool: { count: number; bytes: number };
  peers: number;
  mining: { enabled: boolean; kernel?: string; hashrate?: number; blocksMined?: number };
  market: { ipfs: string; authority: string | null; solver: string | null } | null;
};

type PeerReport = {
  enabled: boolean;
  peerId: string | null;
  addresses: string[];
  peers: { id: string; address: string; direction: string; height?: number; score: number }[];
  banned: { peer: string; until: string; reason: string }[];
};

type SyncReport = { syncing: boolean; height: number; target: number; rate: number; eta?: number };

export function chainCommand(program: Command): void {
  const chain = program.command('chain').description('inspect the chain through a running node');

  clientOptions(chain.command('info').description('height, tip, difficulty, peers, mempool')).action(
    async (flags: ClientFlags) => {
      const { rpc } = await connect(flags);
      const info = await rpc.call<Info>('getinfo');
      print(info, flags.json ?? false, () =>
        table([
          ['network', info.network],
          ['height', info.height],
          ['tip', info.tip],
          ['tip time', info.tipTime],
          ['difficulty', `${info.difficulty.current.toFixed(4)} bits (next ${info.difficulty.next.toFixed(4)})`],
          ['open problems', info.difficulty.openProblems],
          ['peers', info.peers],
          ['mempool', `${info.mempool.count} txs, ${info.mempool.bytes} bytes`],
          [
            'mining',
            info.mining.enabled
              ? `yes, ${info.mining.hashrate} H/s (${info.mining.kernel}), ${info.mining.blocksMined} blocks`
              : 'no',
          ],
          [
            'market',
            info.market
              ? [
                  `IPFS ${info.market.ipfs}`,
                  info.market.authority ? `authority for ${info.market.authority}` : undefined,
                  info.market.solver ? `solving as ${info.market.solver}` : undefined,
                ]
                  .filter(Boolean)
                  .join(', ')
              : 'off (no p2p)',
          ],
        ]),
      );
    },
  );

  clientOptions(chain.command('block').description('a block by hash or height'))
    .argument('<id>', 'block hash (64 hex) or height')
    .option('--txs', 'include whole transactions', false)
    .action(async (id: string, flags: ClientFlags & { txs: boolean }) => {
      const ref = blockRef(id);
      const { rpc } = await connect(flags);
      const block =
        'height' in ref
          ? await rpc.call<Record<string, unknown>>('getblockbyheight', { height: ref.height, verbose: flags.txs })
          : await rpc.call<Record<string, unknown>>('getblock', { hash: ref.hash, verbose: flags.txs });
      print(block, flags.json ?? false, () =>
        table([
          ['hash', block.hash],
          ['height', block.height],
          ['parent', block.parent],
          ['time', block.time],
          ['miner', block.miner],
          ['difficulty', block.difficulty],
          ['confirmations', block.confirmations],
          ['size', `${block.size} bytes`],
          ['txs', (block.txs as unknown[]).length],
          ...(block.txs as unknown[]).map((t, i): [string, unknown] => [
            `  ${i}`,
            typeof t === 'string' ? t : JSON.stringify(t),
          ]),
        ]),
      );
    });

  clientOptions(chain.command('peers').description('connected peers, sync progress and bans')).action(
    async (flags: ClientFlags) => {
      const { rpc } = await connect(flags);
      const info = await rpc.call<PeerReport>('getpeerinfo');
      const sync = await rpc.call<SyncReport>('getsyncstatus');
      print({ ...info, sync }, flags.json ?? false, () => {
        if (!info.enabled) return 'p2p is off on this node (it was started without --listen)';
        const lines = [
          table([
            ['peer id', info.peerId],
            ...info.addresses.map((a, i): [string, unknown] => [i === 0 ? 'listening' : '', a]),
            [
              'sync',
              sync.syncing
                ? `${sync.height}/${sync.target}, ${sync.rate} blocks/s${sync.eta === undefined ? '' : `, ${sync.eta}s left`}`
                : `idle at ${sync.height}`,
            ],
            ['peers', info.peers.length],
          ]),
        ];
        for (const p of info.peers) {
          lines.push(`  ${p.id}  ${p.direction.padEnd(8)}  ${p.address}  height ${p.height ?? '?'}  score ${p.score}`);
        }
        if (info.banned.length > 0) lines.push(`banned ${info.banned.length}`);
        for (const b of info.banned) lines.push(`  ${b.peer}  until ${b.until}  (${b.reason})`);
        return lines.join('\n');
      });
    },
  );

  /** Fields of a transaction that are Li amounts (a price is Li per MCU and stays as it is). */
  const LI_FIELDS = new Set(['amount', 'fee', 'budget', 'refund']);
  clientOptions(chain.command('tx').description('a transaction by id (chain or mempool)'))
    .argument('<txid>', 'transaction id (64 hex)')
    .action(async (txid: string, flags: ClientFlags) => {
      const id = hexId(txid, 'a transaction id');
      const { rpc } = await connect(flags);
      const tx = await rpc.call<Record<string, string>>('gettransaction', { txid: id });
      print(tx, flags.json ?? false, () =>
        table(
          Object.entries(tx).map(([k, v]): [string, unknown] => [
            k,
            LI_FIELDS.has(k) ? `${formatZi(BigInt(v))} Zi (${v} Li)` : v,
          ]),
        ),
      );
    });
}
