// Initial sync from a loopback peer: a chain of 2,000 blocks with 200
// transfers each, downloaded headers-first over real libp2p (TCP, Noise,
// Yamux) and validated, against validating the same blocks read from local
// storage, in the same run. The ratio says whether the network is the
// bottleneck (target ≥ 0.9). ZI_BENCH_BLOCKS / ZI_BENCH_TXS shrink it for a quick look.
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import pino from 'pino';
import { type Address, addressOf } from '../src/chain/address.ts';
import { Block } from '../src/chain/block.ts';
import { Chain } from '../src/chain/chain.ts';
import { generatePrivateKey, publicKeyOf } from '../src/chain/keys.ts';
import { Mempool } from '../src/chain/mempool.ts';
import { NETWORKS } from '../src/chain/params.ts';
import { Transaction, TX_KINDS } from '../src/chain/transaction.ts';
import { coreRules, transferRules } from '../src/chain/tx-rules.ts';
import { solveTemplate } from '../src/miner/solve.ts';
import { buildTemplate } from '../src/miner/template.ts';
import { Network } from '../src/p2p/network.ts';

const BLOCKS = Number(process.env.ZI_BENCH_BLOCKS ?? 2000);
const TXS = Number(process.env.ZI_BENCH_TXS ?? 200);
const params = NETWORKS.devnet;
const logger = pino({ level: process.env.ZI_BENCH_LOG ?? 'silent' });

/** Transfers for blocks 3..BLOCKS, signed on worker threads: 400,000 signatures are setup, not the subject. */
interface SignJob {
  privs: Uint8Array[];
  sinks: Address[];
  genesis: Uint8Array;
  worker: number;
  workers: number;
}

function signBlock(job: SignJob, h: number): Uint8Array[] {
  return job.privs.map((priv, i) =>
    Transaction.sign(
      {
        kind: TX_KINDS.transfer,
        nonce: BigInt(h - 3),
        fee: 1_000n,
        payload: transferRules.encode({ to: job.sinks[i]!, amount: 1n }),
      },
      priv,
      job.genesis,
    ).toBytes(),
  );
}

if (!isMainThread) {
  const job = workerData as SignJob;
  for (let h = 3 + job.worker; h <= BLOCKS; h += job.workers) parentPort!.postMessage({ h, txs: signBlock(job, h) });
  process.exit(0);
}

function signAll(job: Omit<SignJob, 'worker' | 'workers'>): (h: number) => Promise<Transaction[]> {
  const workers = Math.max(1, availableParallelism());
  const ready = new Map<number, Uint8Array[]>();
  const waiting = new Map<number, () => void>();
  for (let w = 0; w < workers; w++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { ...job, worker: w, workers } });
    worker.on('message', (m: { h: number; txs: Uint8Array[] }) => {
      ready.set(m.h, m.txs);
      waiting.get(m.h)?.();
    });
  }
  return async (h) => {
    if (!ready.has(h)) await new Promise<void>((r) => waiting.set(h, r));
    const txs = ready.get(h)!;
    ready.delete(h);
    return txs.map((b) => Transaction.fromBytes(b, params.maxTxBytes));
  };
}

async function openChain(path: string): Promise<Chain> {
  return Chain.open({ path, params, rules: coreRules() });
}

const root = await mkdtemp(join(tmpdir(), 'zi-bench-sync-'));
try {
  // --- build the source chain (signatures are ours: marked verified to build it quickly) ---
  const t0 = performance.now();
  let now = params.genesisTimestamp;
  const source = await Chain.open({ path: join(root, 'source'), params, rules: coreRules(), clock: () => now });
  const genesis = source.genesisHash;
  const funder = generatePrivateKey();
  const funderAddr = addressOf(publicKeyOf(funder));
  const privs = Array.from({ length: TXS }, () => generatePrivateKey());
  const sinks = Array.from({ length: TXS }, () => addressOf(publicKeyOf(generatePrivateKey())));
  const signed = signAll({ privs, sinks, genesis });
  const add = async (txs: Transaction[]) => {
    now = source.earliestNext();
    for (const tx of txs) source.verified.add(tx.hash());
    await source.addBlock(solveTemplate(buildTemplate(source, undefined, funderAddr, now, txs)));
  };
  await add([]);
  await add(
    privs.map((p, i) =>
      Transaction.sign(
        {
          kind: TX_KINDS.transfer,
          nonce: BigInt(i),
          fee: 1_000n,
          payload: transferRules.encode({ to: addressOf(publicKeyOf(p)), amount: 10_000_000n }),
        },
        funder,
        genesis,
      ),
    ),
  );
  for (let h = 3; h <= BLOCKS; h++) await add(await signed(h));
  const txCount = TXS * (BLOCKS - 1);
  console.log(
    `built ${BLOCKS} blocks, ${txCount} transactions in ${((performance.now() - t0) / 1000).toFixed(1)} s (not measured)`,
  );

  // --- reference: validate the same blocks read from local storage ---
  const local = await openChain(join(root, 'local'));
  const t1 = performance.now();
  // The next block is read while this one is validated, as a reindex would.
  const read = (h: number) => source.store.getBlockBytes(source.entryAtHeight(h)!.hash);
  let next = read(1);
  for (let h = 1; h <= BLOCKS; h++) {
    const bytes = await next;
    if (h < BLOCKS) next = read(h + 1);
    await local.addBlock(Block.fromBytes(bytes!, params.maxBlockBytes, params.maxTxBytes));
  }
  const localSec = (performance.now() - t1) / 1000;
  if (local.tip.hash.toString() !== source.tip.hash.toString()) throw new Error('local validation diverged');
  await local.close();

  // --- initial sync over loopback libp2p ---
  const server = await Network.start({
    chain: source,
    mempool: new Mempool(source),
    logger,
    listen: ['/ip4/127.0.0.1/tcp/0'],
  });
  const fresh = await openChain(join(root, 'synced'));
  const client = await Network.start({
    chain: fresh,
    mempool: new Mempool(fresh),
    logger,
    listen: ['/ip4/127.0.0.1/tcp/0'],
  });
  const t2 = performance.now();
  await client.connect(server.addresses()[0]!);
  while (fresh.height < BLOCKS) await new Promise((r) => setTimeout(r, 5));
  const netSec = (performance.now() - t2) / 1000;
  if (fresh.tip.hash.toString() !== source.tip.hash.toString()) throw new Error('sync diverged');
  await client.stop();
  await server.stop();
  await fresh.close();
  await source.close();

  const fmt = (sec: number) =>
    `${(BLOCKS / sec).toFixed(0)} blocks/s, ${Math.round(txCount / sec)} tx/s (${sec.toFixed(1)} s)`;
  console.log(`validate from local storage: ${fmt(localSec)}`);
  console.log(`sync from a loopback peer:   ${fmt(netSec)}`);
  console.log(`ratio sync / local: ${(localSec / netSec).toFixed(2)} (target ≥ 0.9)`);
} finally {
  await rm(root, { recursive: true, force: true });
}
