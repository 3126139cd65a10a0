// Block propagation across 8 nodes on loopback (real libp2p: TCP, Noise,
// Yamux, gossipsub), in two topologies: a line (7 hops end to end) and the
// same line with extra mesh links. Each block is mined at a random node and
// timed from the moment it was found to the moment it is connected at every
// other node. Target: p95 < 100 ms with unseen transactions. Blocks carry transfers, either already
// relayed as transactions (the usual case: their signatures are checked once,
// at mempool admission) or never seen before (every hop verifies them). All 8 nodes share this process's two
// cores, so every hop's validation queues behind the others: a pessimistic setting.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type Address, addressOf } from '../src/chain/address.ts';
import type { Block } from '../src/chain/block.ts';
import { Chain } from '../src/chain/chain.ts';
import { toHex } from '../src/chain/encoding.ts';
import { generatePrivateKey, publicKeyOf } from '../src/chain/keys.ts';
import { Mempool } from '../src/chain/mempool.ts';
import { NETWORKS } from '../src/chain/params.ts';
import { Transaction, TX_KINDS } from '../src/chain/transaction.ts';
import { coreRules, transferRules } from '../src/chain/tx-rules.ts';
import { solveTemplate } from '../src/miner/solve.ts';
import { buildTemplate } from '../src/miner/template.ts';
import { Network } from '../src/p2p/network.ts';

const NODES = 8;
const BLOCKS = Number(process.env.ZI_BENCH_BLOCKS ?? 40);
const TXS = Number(process.env.ZI_BENCH_TXS ?? 50);
const params = NETWORKS.devnet;
const logger = pino({ level: process.env.ZI_BENCH_LOG ?? 'silent' });

interface Node {
  chain: Chain;
  mempool: Mempool;
  net: Network;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(name: string, links: [number, number][], relayed: boolean): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'zi-bench-prop-'));
  const nodes: Node[] = [];
  try {
    for (let i = 0; i < NODES; i++) {
      const chain = await Chain.open({ path: join(root, `n${i}`), params, rules: coreRules() });
      chain.verifier.warm(); // as zi node does at start
      const mempool = new Mempool(chain);
      chain.on('tip', (c) => mempool.onTip(c));
      const net = await Network.start({ chain, mempool, logger, listen: ['/ip4/127.0.0.1/tcp/0'] });
      nodes.push({ chain, mempool, net });
    }
    for (const [a, b] of links) await nodes[a]!.net.connect(nodes[b]!.net.addresses()[0]!);
    // Let gossipsub graft its meshes (heartbeat 0.5 s).
    await new Promise((r) => setTimeout(r, 3000));

    // One spender with coins, so blocks carry signed transfers like real ones.
    const spender = generatePrivateKey();
    const spenderAddr = addressOf(publicKeyOf(spender));
    const sink: Address = addressOf(publicKeyOf(generatePrivateKey()));
    let nonce = 0n;
    const samples: number[] = [];
    for (let b = 0; b < BLOCKS; b++) {
      const origin = nodes[b === 0 ? 0 : Math.floor(Math.random() * NODES)]!;
      const txs =
        b === 0
          ? []
          : Array.from({ length: TXS }, () =>
              Transaction.sign(
                {
                  kind: TX_KINDS.transfer,
                  nonce: nonce++,
                  fee: 1_000n,
                  payload: transferRules.encode({ to: sink, amount: 1n }),
                },
                spender,
                origin.chain.genesisHash,
              ),
            );
      const arrived = nodes
        .filter((n) => n !== origin)
        .map(
          (n) =>
            new Promise<number>((resolve) => {
              const onTip = (c: { tip: { hash: Uint8Array } }) => {
                if (toHex(c.tip.hash) === hash) {
                  n.chain.off('tip', onTip);
                  resolve(performance.now());
                }
              };
              n.chain.on('tip', onTip);
            }),
        );
      if (relayed && txs.length > 0) {
        // The usual case: transactions reach every mempool before a block carries them.
        for (const tx of txs) await origin.mempool.accept(tx);
        const all = () => nodes.every((n) => txs.every((tx) => n.mempool.has(tx.hash())));
        while (!all()) await new Promise((r) => setTimeout(r, 10));
      }
      let hash = '';
      const template = buildTemplate(origin.chain, undefined, spenderAddr, origin.chain.earliestNext(), txs);
      const block: Block = solveTemplate(template);
      hash = toHex(block.hash());
      const found = performance.now();
      await origin.chain.addBlock(block);
      origin.net.publishBlock(block);
      const times = await Promise.race([
        Promise.all(arrived),
        new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`block ${b} did not reach every node`)), 30_000)),
      ]);
      if (b > 0) for (const t of times) samples.push(t - found); // block 0 funds the spender and warms up
      await new Promise((r) => setTimeout(r, 100));
    }
    samples.sort((x, y) => x - y);
    console.log(
      `${name.padEnd(12)} ${NODES} nodes, ${links.length} links, ${BLOCKS - 1} blocks of ${TXS} transfers ` +
        `${relayed ? '(relayed first)' : '(unseen txs)  '}: ` +
        `median ${percentile(samples, 50).toFixed(1)} ms, p95 ${percentile(samples, 95).toFixed(1)} ms, ` +
        `max ${samples.at(-1)!.toFixed(1)} ms${relayed ? '' : ' (target p95 < 100 ms)'}`,
    );
  } finally {
    for (const n of nodes) await n.net.stop();
    for (const n of nodes) await n.chain.close();
    await rm(root, { recursive: true, force: true });
  }
}

const line: [number, number][] = Array.from({ length: NODES - 1 }, (_, i) => [i, i + 1]);
const mesh: [number, number][] = [...line, [0, 3], [1, 5], [2, 6], [3, 7], [4, 0], [5, 2], [6, 1], [7, 4]];
for (const relayed of [true, false]) {
  await run('line', line, relayed);
  await run('line + mesh', mesh, relayed);
}
