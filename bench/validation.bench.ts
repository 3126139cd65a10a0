// Validation: a block of 2,000 transfers from 2,000 senders, decoded from
// bytes, verified and applied (one level batch), against the same 2,000
// signature verifications alone, measured in the same run.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Address, addressOf } from '../src/chain/address.ts';
import { Block } from '../src/chain/block.ts';
import { Chain } from '../src/chain/chain.ts';
import { generatePrivateKey, publicKeyOf, verify } from '../src/chain/keys.ts';
import { NETWORKS } from '../src/chain/params.ts';
import { SignatureVerifier } from '../src/chain/sig-verifier.ts';
import { Transaction, TX_KINDS } from '../src/chain/transaction.ts';
import { coreRules, transferRules } from '../src/chain/tx-rules.ts';
import { solveTemplate } from '../src/miner/solve.ts';
import { buildTemplate, earliestTimestamp } from '../src/miner/template.ts';

const N = 2000;
const ROUNDS = 3;
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
  const chain = await Chain.open({ path: dir, params, rules: coreRules(), clock: () => now });
  const next = async (txs: Transaction[], miner: Address) => {
    now = Math.max(now, earliestTimestamp(chain));
    const block = solveTemplate(buildTemplate(chain, undefined, miner, now, txs));
    await chain.addBlock(block);
    return block;
  };
  return { chain, next, setNow: (t: number) => (now = t) };
}

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
  const verifyTimes: number[] = [];
  const poolTimes: number[] = [];
  const pool = new SignatureVerifier();
  for (let round = 0; round < ROUNDS; round++) {
    const node = await setup(join(root, `round-${round}`));
    for (const b of history) {
      node.setNow(b.header.timestamp);
      await node.chain.addBlock(b);
    }
    node.setNow(measured.header.timestamp);

    const sigs = measured.txs.map((tx) => ({ sig: tx.signature, msg: tx.sigHash(genesis), pub: tx.sender }));
    let t0 = performance.now();
    for (const s of sigs) if (!verify(s.sig, s.msg, s.pub)) throw new Error('bad signature');
    verifyTimes.push(performance.now() - t0);
    t0 = performance.now();
    if ((await pool.firstInvalid(sigs)) !== -1) throw new Error('bad signature');
    poolTimes.push(performance.now() - t0);

    // A fresh node has verified none of these: the block pays for every signature.
    t0 = performance.now();
    const result = await node.chain.addBlock(Block.fromBytes(bytes, params.maxBlockBytes, params.maxTxBytes));
    blockTimes.push(performance.now() - t0);
    if (result !== 'connected') throw new Error(`block not connected: ${result}`);
    await node.chain.close();
  }
  await pool.close();
  const best = (xs: number[]) => Math.min(...xs);
  const blockRate = (N / best(blockTimes)) * 1000;
  const verifyRate = (N / best(verifyTimes)) * 1000;
  const poolRate = (N / best(poolTimes)) * 1000;
  console.log(`machine: ${cpus()[0]?.model} × ${cpus().length}, node ${process.version}`);
  console.log(`block of ${N} transfers (${(bytes.length / 1024).toFixed(0)} KiB): decode + verify + apply + commit`);
  console.log(
    `  block validation      ${blockRate.toFixed(0)} tx/s   (best of ${ROUNDS}: ${best(blockTimes).toFixed(1)} ms)`,
  );
  console.log(
    `  signatures only, 1 thread        ${verifyRate.toFixed(0)} tx/s   (${best(verifyTimes).toFixed(1)} ms)`,
  );
  console.log(`  signatures only, all cores       ${poolRate.toFixed(0)} tx/s   (${best(poolTimes).toFixed(1)} ms)`);
  console.log(`  ratio validation ÷ signatures (1 thread)  = ${(blockRate / verifyRate).toFixed(3)}   (target ≥ 0.8)`);
  console.log(
    `  ratio validation ÷ signatures (all cores) = ${(blockRate / poolRate).toFixed(3)}   (the ledger's own overhead)`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
