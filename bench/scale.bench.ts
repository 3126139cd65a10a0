// Scale curves (issue 16): how the node's costs grow with the chain, the
// state and the mempool. Each curve is measured at sizes spanning 100× or
// more, and printed with its growth exponent: the slope of log(cost) over
// log(size) between the smallest and the largest size (0 = flat, 1 = linear).
//
// Sizes are kept so that `npm run bench` finishes in minutes; ZI_SCALE_FULL=1
// adds the largest ones (1M headers), which take much longer to build.
//
// Shortcut, named as such: the accounts of the state curves are written
// straight into the state as a block's batch would write them (sealed, under
// their layout keys), not mined in 500 blocks of 2,000 transfers each; the
// measured block and the measured mempool transactions are real and fully
// checked.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { encodeAccount } from '../src/chain/accounts.ts';
import { type Address, addressOf } from '../src/chain/address.ts';
import { Block } from '../src/chain/block.ts';
import { Chain } from '../src/chain/chain.ts';
import { generatePrivateKey, publicKeyOf } from '../src/chain/keys.ts';
import { Mempool } from '../src/chain/mempool.ts';
import { LI_PER_ZI, NETWORKS } from '../src/chain/params.ts';
import { StateOverlay } from '../src/chain/state.ts';
import { dbKey, PREFIX_STATE, STATE_ACCOUNT } from '../src/chain/store/layout.ts';
import { seal } from '../src/chain/store/seal.ts';
import { Transaction, TX_KINDS } from '../src/chain/transaction.ts';
import { coreRules, transferRules } from '../src/chain/tx-rules.ts';
import { cidOf } from '../src/content/cid.ts';
import { collectResults, writeOutputLines } from '../src/market/collect.ts';
import { PaidRanges, putPaidRanges } from '../src/market/paid-ranges.ts';
import type { Range } from '../src/market/ranges.ts';
import { encodeResults } from '../src/market/results.ts';
import { solveTemplate } from '../src/miner/solve.ts';
import { buildTemplate } from '../src/miner/template.ts';

const params = NETWORKS.devnet;
const FULL = process.env.ZI_SCALE_FULL === '1';

interface Point {
  size: number;
  value: number;
}

/** Slope of log(value) over log(size) between the first and the last point. */
function exponent(points: Point[]): number {
  const a = points[0]!;
  const b = points.at(-1)!;
  return Math.log(b.value / a.value) / Math.log(b.size / a.size);
}

function report(title: string, unit: string, points: Point[], digits = 1): void {
  console.log(`${title}`);
  for (const p of points)
    console.log(`  ${p.size.toLocaleString('en').padStart(10)}  ${p.value.toFixed(digits)} ${unit}`);
  console.log(`  growth exponent ${exponent(points).toFixed(2)}`);
}

async function openChain(path: string, clock: () => number = Date.now): Promise<Chain> {
  return Chain.open({ path, params, rules: coreRules(), clock });
}

/** In a fresh process: how long the node's chain takes to open, and its resident memory then. */
function openInChild(path: string): { ms: number; rssMiB: number } {
  const r = spawnSync(process.execPath, [import.meta.filename], {
    env: { ...process.env, ZI_SCALE_CHILD: path },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`scale bench child failed (${r.status})`);
  return JSON.parse(r.stdout);
}

async function childOpen(path: string): Promise<void> {
  const t0 = performance.now();
  const chain = await openChain(path);
  const ms = performance.now() - t0;
  globalThis.gc?.();
  const rssMiB = process.memoryUsage().rss / 2 ** 20;
  await chain.close();
  console.log(JSON.stringify({ ms, rssMiB }));
}

/** A devnet chain whose clock follows its blocks, so a long history takes no wall time. */
async function growingChain(path: string) {
  let now = params.genesisTimestamp;
  const chain = await openChain(path, () => now);
  return {
    chain,
    async mine(miner: Address, txs: Transaction[] = []): Promise<Block> {
      now = Math.max(now, chain.earliestNext());
      const block = solveTemplate(buildTemplate(chain, undefined, miner, now, txs));
      const r = await chain.addBlock(block);
      if (r !== 'connected') throw new Error(`block not connected: ${r}`);
      return block;
    },
    setNow: (t: number) => (now = t),
  };
}

async function startupCurve(root: string): Promise<void> {
  const sizes = FULL ? [10_000, 100_000, 1_000_000] : [1_000, 10_000, 100_000];
  const path = join(root, 'headers');
  const g = await growingChain(path);
  const miner = addressOf(publicKeyOf(generatePrivateKey()));
  const time: Point[] = [];
  const memory: Point[] = [];
  let built = 0;
  const t0 = performance.now();
  for (const size of sizes) {
    while (built < size) {
      await g.mine(miner);
      built++;
    }
    await g.chain.close();
    const m = openInChild(path);
    time.push({ size, value: m.ms });
    memory.push({ size, value: m.rssMiB });
    if (size !== sizes.at(-1)) Object.assign(g, await growingChain(path));
  }
  const rate = (built / (performance.now() - t0)) * 1000;
  console.log(`(${built.toLocaleString('en')} empty blocks mined and connected at ${rate.toFixed(0)} blocks/s)`);
  report('node start-up (open the chain: index every header, check the newest blocks, scan the state)', 'ms', time, 0);
  report('resident memory after start-up', 'MiB', memory, 0);
}

const pay = (from: Uint8Array, to: Address, amount: bigint, nonce: bigint, genesis: Uint8Array) =>
  Transaction.sign(
    { kind: TX_KINDS.transfer, nonce, fee: 1_000n, payload: transferRules.encode({ to, amount }) },
    from,
    genesis,
  );

/** Writes `count` funded accounts into a closed chain's state; the first `keys.length` belong to `keys`. */
async function writeAccounts(path: string, count: number, keys: Uint8Array[]): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const value = encodeAccount({ balance: LI_PER_ZI, nonce: 0n, activity: [] });
  let ops: { type: 'put'; key: Uint8Array; value: Uint8Array }[] = [];
  for (let i = 0; i < count; i++) {
    const address = i < keys.length ? addressOf(publicKeyOf(keys[i]!)) : new Uint8Array(randomBytes(20));
    const key = dbKey(PREFIX_STATE, new Uint8Array([STATE_ACCOUNT]), address);
    ops.push({ type: 'put', key, value: seal(key, value) });
    if (ops.length === 10_000) {
      await db.batch(ops);
      ops = [];
    }
  }
  if (ops.length > 0) await db.batch(ops);
  await db.close();
}

/** A chain at height 1 whose state holds `accounts` funded accounts, the first `keys.length` of them ours. */
async function stateOf(path: string, accounts: number, keys: Uint8Array[]) {
  const g = await growingChain(path);
  const miner = addressOf(publicKeyOf(generatePrivateKey()));
  await g.mine(miner);
  const genesis = g.chain.genesisHash;
  await g.chain.close();
  await writeAccounts(path, accounts, keys);
  return { genesis, miner };
}

async function stateCurves(root: string): Promise<void> {
  const sizes = [1_000, 100_000, 1_000_000];
  const TXS = 2_000;
  const POOL = [1_000, 10_000, 100_000];
  const keys = Array.from({ length: Math.max(TXS, POOL.at(-1)!) }, () => generatePrivateKey());
  const sinks = Array.from({ length: TXS }, () => addressOf(publicKeyOf(generatePrivateKey())));
  const validation: Point[] = [];
  const startup: Point[] = [];
  for (const size of sizes) {
    const path = join(root, `accounts-${size}`);
    const { genesis, miner } = await stateOf(path, Math.max(size, TXS), keys.slice(0, TXS));
    startup.push({ size, value: openInChild(path).ms });
    const txs = keys.slice(0, TXS).map((k, i) => pay(k, sinks[i]!, 1_000n, 0n, genesis));
    // Built on a copy of the state's chain, connected on a fresh open: no cache holds these accounts.
    const g = await growingChain(path);
    g.setNow(g.chain.earliestNext());
    const block = solveTemplate(buildTemplate(g.chain, undefined, miner, g.chain.earliestNext(), txs));
    const bytes = block.toBytes();
    await g.chain.close();
    const chain = await openChain(path, () => block.header.timestamp);
    const t0 = performance.now();
    const r = await chain.addBlock(Block.fromBytes(bytes, params.maxBlockBytes, params.maxTxBytes));
    const ms = performance.now() - t0;
    if (r !== 'connected') throw new Error(`block not connected: ${r}`);
    await chain.close();
    validation.push({ size, value: (TXS / ms) * 1000 });
  }
  report(`block validation of ${TXS.toLocaleString('en')} transfers, by accounts in state`, 'tx/s', validation, 0);
  report('node start-up, by accounts in state', 'ms', startup, 0);

  // The mempool: admission rate while it fills, and a template from it, at each size.
  const path = join(root, 'mempool');
  const { genesis } = await stateOf(path, POOL.at(-1)!, keys);
  const chain = await openChain(path);
  const pool = new Mempool(chain);
  const sink = addressOf(publicKeyOf(generatePrivateKey()));
  const txs = keys.map((k) => pay(k, sink, 1_000n, 0n, genesis));
  const admission: Point[] = [];
  const template: Point[] = [];
  let n = 0;
  for (const size of POOL) {
    const from = n;
    const t0 = performance.now();
    for (; n < size; n++) await pool.accept(txs[n]!);
    admission.push({ size, value: ((n - from) / (performance.now() - t0)) * 1000 });
    const t1 = performance.now();
    buildTemplate(chain, pool, sink, chain.earliestNext());
    template.push({ size, value: performance.now() - t1 });
  }
  await chain.close();
  report('mempool admission (decode, signature, state checks), by pool size when admitted', 'tx/s', admission, 0);
  report('block template build, by pool size', 'ms', template, 1);
}

/**
 * The part of a payout's check and apply that grows with the contract: its
 * paid-range trie opened, the batch checked free, paid and the changed pages
 * written, in a block's state overlay (as payout apply does). The rest of a
 * payout (signatures, escrow arithmetic) does not depend on the contract's
 * history. Also the bytes (keys and values) one such payout writes.
 */
function paidRangesCurve(): void {
  const sizes = [1, 1_000, 100_000];
  const id = new Uint8Array(32).fill(7);
  const points: Point[] = [];
  const written: Point[] = [];
  for (const size of sizes) {
    // `size` disjoint paid ranges (every other batch of 16 paid), and payouts filling the gaps.
    const paid: Range[] = Array.from({ length: size }, (_, k) => ({ start: 32 * k, end: 32 * k + 16 }));
    const base = new StateOverlay({ get: () => undefined });
    putPaidRanges(base, id, paid);
    const reps = 5_000;
    let bytes = 0;
    const t0 = performance.now();
    for (let k = 0; k < reps; k++) {
      const state = new StateOverlay(base);
      const batch = [{ start: 32 * (k % size) + 16, end: 32 * (k % size) + 32 }];
      const set = PaidRanges.open(state, id);
      if (!batch.every((r) => set.isFree(r))) throw new Error('overlap');
      set.add(batch);
      set.save(state);
      if (k === 0) for (const c of state.changes()) bytes += c.key.length + (c.value?.length ?? 0);
    }
    points.push({ size, value: ((performance.now() - t0) / reps) * 1000 });
    written.push({ size, value: bytes });
  }
  report(
    "a payout's paid-range step (open, check free, pay, write the changed pages), by the contract's paid ranges",
    'µs',
    points,
    1,
  );
  report('  bytes it writes', 'B', written, 0);
}

/**
 * What `zi contract results --outputs` does past the fetch: every paid batch
 * checked against its CID, decoded, put in order and written one line per
 * MCU. In a fresh process per size, for its peak resident memory; the batches
 * (numeric outputs, 65,536 MCUs each, as a Solver's larger leases) come from
 * memory, so the IPFS fetch is left out.
 */
async function childResults(spec: string): Promise<void> {
  const [mcus, dir] = [Number(spec.split(':')[0]), spec.slice(spec.indexOf(':') + 1)];
  const contract = new Uint8Array(32).fill(3);
  const BATCH = 65_536;
  const store = new Map<string, Uint8Array>();
  const refs = [];
  for (let start = 0; start < mcus; start += BATCH) {
    const end = Math.min(mcus, start + BATCH);
    const values = Float64Array.from({ length: end - start }, (_, k) => (start + k) * 0.5);
    const bytes = encodeResults({ contract, ranges: [{ start, end }], outputs: { kind: 'f64', values } });
    const cid = cidOf(bytes).toString();
    store.set(cid, bytes);
    refs.push({ start, end, cid });
  }
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  const collected = await collectResults(contract, refs.reverse(), async (cid) => store.get(cid)!);
  await writeOutputLines(join(dir, `outputs-${mcus}.jsonl`), collected);
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ ms, rssMiB: (peak - before) / 2 ** 20 }));
}

async function resultsCurve(root: string): Promise<void> {
  const sizes = [10_000, 100_000, 1_000_000, 10_000_000];
  const time: Point[] = [];
  const memory: Point[] = [];
  for (const size of sizes) {
    const r = spawnSync(process.execPath, [import.meta.filename], {
      env: { ...process.env, ZI_SCALE_RESULTS: `${size}:${root}` },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`results child failed (${r.status})`);
    const m = JSON.parse(r.stdout) as { ms: number; rssMiB: number };
    time.push({ size, value: m.ms });
    memory.push({ size, value: Math.max(1, m.rssMiB) });
  }
  report(
    'contract results (check CIDs, decode, order, write one line per MCU), by contract size in MCUs',
    'ms',
    time,
    0,
  );
  report('  its memory beyond the batches themselves (peak resident)', 'MiB', memory, 0);
}

if (process.env.ZI_SCALE_RESULTS !== undefined) {
  await childResults(process.env.ZI_SCALE_RESULTS);
} else if (process.env.ZI_SCALE_CHILD !== undefined) {
  await childOpen(process.env.ZI_SCALE_CHILD);
} else {
  const root = await mkdtemp(join(tmpdir(), 'zi-bench-scale-'));
  try {
    console.log(
      `machine: ${cpus()[0]?.model} × ${cpus().length}, node ${process.version}${FULL ? ', full sizes' : ''}`,
    );
    paidRangesCurve();
    await resultsCurve(root);
    await startupCurve(root);
    await stateCurves(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
