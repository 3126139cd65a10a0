// Validation: a block of 2,000 transfers from 2,000 senders, decoded from
// bytes, checked, verified and applied, its body stored, against the same
// 2,000 signature verifications alone, measured in the same run. What
// connecting it changed goes to disk in the store's next flush (one level
// batch, store/pending.ts), timed on its own and added in the "with its
// flush" figure, which is what a node keeps up with block after block when
// every block touches new keys (as these do). Once with
// libsecp256k1 and once on the OpenSSL path (ZI_SECP=openssl), each in its own
// process because the backend is chosen when keys.ts loads.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Address, addressOf } from '../src/chain/address.ts';
import { Block } from '../src/chain/block.ts';
import { Chain } from '../src/chain/chain.ts';
import { generatePrivateKey, publicKeyOf, verify } from '../src/chain/keys.ts';
import { sigBackend } from '../src/chain/libsecp.ts';
import { NETWORKS } from '../src/chain/params.ts';
import { Transaction, TX_KINDS } from '../src/chain/transaction.ts';
import { coreRules, transferRules } from '../src/chain/tx-rules.ts';
import { explorerIndexer } from '../src/explorer/indexer.ts';
import { solveTemplate } from '../src/miner/solve.ts';
import { buildTemplate } from '../src/miner/template.ts';

const N = 2000;
// A node validates block after block: its code is hot. The first blocks of a fresh process
// run half-compiled code (measured: 200+ ms for a block the eighth round does in 130), so
// each process validates the block several times, on a fresh store each, and the best counts;
// the median is printed beside it.
const ROUNDS = Number(process.env.ZI_BENCH_VALIDATION_ROUNDS ?? 8);
const params = NETWORKS.devnet;

function pay(from: Uint8Array, to: Address, amount: bigint, nonce: bigint, genesis: Uint8Array): Transaction {
  return Transaction.sign(
    { kind: TX_KINDS.transfer, nonce, fee: 1_000n, payload: transferRules.encode({ to, amount }) },
    from,
    genesis,
  );
}

async function setup(dir: string) {
  let now = params.genesisTimestamp;
  // ZI_BENCH_INDEXERS=1: with the explorer's indexes, which every node keeps (src/node/node.ts).
  const indexers = process.env.ZI_BENCH_INDEXERS === '1' ? [explorerIndexer] : [];
  const chain = await Chain.open({ path: dir, params, rules: coreRules(), clock: () => now, indexers });
  const next = async (txs: Transaction[], miner: Address) => {
    now = Math.max(now, chain.earliestNext());
    const block = solveTemplate(buildTemplate(chain, undefined, miner, now, txs));
    await chain.addBlock(block);
    return block;
  };
  return { chain, next, setNow: (t: number) => (now = t) };
}

async function measure() {
  const funder = generatePrivateKey();
  const funderAddr = addressOf(publicKeyOf(funder));
  const senders = Array.from({ length: N }, () => generatePrivateKey());
  const sinks = Array.from({ length: N }, () => addressOf(publicKeyOf(generatePrivateKey())));

  const root = await mkdtemp(join(tmpdir(), 'zi-bench-validation-'));
  try {
    // Build the history once: fund N senders, then the measured block of N transfers.
    const build = await setup(join(root, 'source'));
    const genesis = build.chain.genesisHash;
    const history: Block[] = [];
    // One subsidy (50 Zi) funds all 2,000 senders.
    history.push(await build.next([], funderAddr));
    history.push(
      await build.next(
        senders.map((s, i) => pay(funder, addressOf(publicKeyOf(s)), 100_000n, BigInt(i), genesis)),
        funderAddr,
      ),
    );
    const measured = await build.next(
      senders.map((s, i) => pay(s, sinks[i]!, 50_000n, 0n, genesis)),
      funderAddr,
    );
    await build.chain.close();
    const bytes = measured.toBytes();

    const blockTimes: number[] = [];
    const flushTimes: number[] = [];
    const verifyTimes: number[] = [];
    const poolTimes: number[] = [];
    /** Each round's block against the signatures alone just before and just after it: the machine's speed drifts by the second. */
    const pairedRatios: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const node = await setup(join(root, `round-${round}`));
      for (const b of history) {
        node.setNow(b.header.timestamp);
        await node.chain.addBlock(b);
      }
      node.setNow(measured.header.timestamp);
      await node.chain.store.flush();

      const sigs = measured.txs.map((tx) => ({ sig: tx.signature, msg: tx.sigHash(genesis), pub: tx.sender }));
      let t0 = performance.now();
      for (const s of sigs) if (!verify(s.sig, s.msg, s.pub)) throw new Error('bad signature');
      verifyTimes.push(performance.now() - t0);
      // On the node's own verifier threads, which then validate the block: the same threads, as warm.
      t0 = performance.now();
      if ((await node.chain.verifier.firstInvalid(sigs)) !== -1) throw new Error('bad signature');
      poolTimes.push(performance.now() - t0);

      // A fresh node has verified none of these: the block pays for every signature.
      t0 = performance.now();
      const result = await node.chain.addBlock(Block.fromBytes(bytes, params.maxBlockBytes, params.maxTxBytes));
      blockTimes.push(performance.now() - t0);
      if (result !== 'connected') throw new Error(`block not connected: ${result}`);
      t0 = performance.now();
      if ((await node.chain.verifier.firstInvalid(sigs)) !== -1) throw new Error('bad signature');
      const poolAfter = performance.now() - t0;
      pairedRatios.push((poolTimes.at(-1)! + poolAfter) / 2 / blockTimes.at(-1)!);
      t0 = performance.now();
      await node.chain.store.flush();
      flushTimes.push(performance.now() - t0);
      await node.chain.close();
    }
    const best = (xs: number[]) => Math.min(...xs);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return {
      backend: sigBackend,
      kib: bytes.length / 1024,
      blockMs: best(blockTimes),
      blockMedianMs: median(blockTimes),
      poolMedianMs: median(poolTimes),
      flushMs: best(flushTimes),
      verifyMs: best(verifyTimes),
      poolMs: best(poolTimes),
      pairedRatio: median(pairedRatios),
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

type Figures = Awaited<ReturnType<typeof measure>>;

function inChild(env: Record<string, string>): Figures {
  const r = spawnSync(process.execPath, [import.meta.filename], {
    env: { ...process.env, ...env, ZI_BENCH_VALIDATION_CHILD: '1' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`validation bench child failed (${r.status})`);
  return JSON.parse(r.stdout) as Figures;
}

if (process.env.ZI_BENCH_VALIDATION_CHILD === '1') {
  console.log(JSON.stringify(await measure()));
} else {
  const lib = inChild({ ZI_SECP: '' });
  const indexed = inChild({ ZI_SECP: '', ZI_BENCH_INDEXERS: '1' });
  const ossl = inChild({ ZI_SECP: 'openssl' });
  if (lib.backend !== 'libsecp256k1') throw new Error(`libsecp256k1 does not load here (got ${lib.backend})`);
  const rate = (ms: number) => (N / ms) * 1000;
  console.log(`machine: ${cpus()[0]?.model} × ${cpus().length}, node ${process.version}`);
  console.log(
    `block of ${N} transfers (${lib.kib.toFixed(0)} KiB): decode + check + verify + apply + store the body, best of ${ROUNDS} in one process`,
  );
  for (const f of [lib, ossl]) {
    console.log(`${f.backend}:`);
    console.log(
      `  block validation                 ${rate(f.blockMs).toFixed(0)} tx/s   (${f.blockMs.toFixed(1)} ms; median ${f.blockMedianMs.toFixed(1)} ms)`,
    );
    console.log(`  its flush                        ${f.flushMs.toFixed(1)} ms`);
    console.log(
      `  with its flush                   ${rate(f.blockMs + f.flushMs).toFixed(0)} tx/s   (${(f.blockMs + f.flushMs).toFixed(1)} ms)`,
    );
    console.log(
      `  signatures only, 1 thread        ${rate(f.verifyMs).toFixed(0)} tx/s   (${f.verifyMs.toFixed(1)} ms)`,
    );
    console.log(
      `  signatures only, all cores       ${rate(f.poolMs).toFixed(0)} tx/s   (${f.poolMs.toFixed(1)} ms; median ${f.poolMedianMs.toFixed(1)} ms)`,
    );
  }
  console.log(
    `libsecp256k1 with the explorer's indexes (what a node runs): block validation ${rate(indexed.blockMs).toFixed(0)} tx/s   (${indexed.blockMs.toFixed(1)} ms)`,
  );
  const ratio = (a: number, b: number) => (rate(a) / rate(b)).toFixed(3);
  console.log(
    `ratio validation ÷ libsecp256k1 signatures (all cores) = ${ratio(lib.blockMs, lib.poolMs)}   (target ≥ 0.8)`,
  );
  console.log(`   the same, medians                                  = ${ratio(lib.blockMedianMs, lib.poolMedianMs)}`);
  console.log(
    `   the same, each round against its own signatures    = ${lib.pairedRatio.toFixed(3)}   (median of ${ROUNDS} rounds; the reference measured just before and after the block)`,
  );
  console.log(
    `ratio validation libsecp256k1 ÷ OpenSSL path          = ${ratio(lib.blockMs, ossl.blockMs)}   (target ≥ 4)`,
  );
  console.log(
    `ratio with its flush ÷ libsecp256k1 signatures        = ${ratio(lib.blockMs + lib.flushMs, lib.poolMs)}`,
  );
  console.log(`ratio libsecp256k1 ÷ OpenSSL, signatures, 1 thread    = ${ratio(lib.verifyMs, ossl.verifyMs)}`);
  console.log(`ratio validation with ÷ without the explorer's indexes = ${ratio(indexed.blockMs, lib.blockMs)}`);
}
