// Scale curves (issue 16): how the node's costs grow with the chain, the
// state and the mempool. Each curve is measured at sizes spanning 100× or
// more, and printed with its growth exponent: the slope of log(cost) over
// log(size) between the smallest and the largest size (0 = flat, 1 = linear).
//
// Sizes are kept so that `npm run bench` finishes in minutes; ZI_SCALE_FULL=1
// adds the largest ones (1M headers), which take much longer to build.
//
// Shortcuts, named as such:
// - the accounts of the state curves are written straight into the state as
//   a block's batch would write them (sealed, under their layout keys), not
//   mined in 500 blocks of 2,000 transfers each; the measured block and the
//   measured mempool transactions are real and fully checked;
// - the chains of the start-up curve are 200 blocks through Chain.addBlock,
//   then empty blocks appended by appendEmptyBlocks: each one real (its proof
//   of work solved, its state changes from applyBlock) and written as
//   addBlock's two batches would write it, but many blocks to a batch and
//   without addBlock's checks. checkShortcut compares the two, record by
//   record, on every run.
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
import { earliestChildTime } from '../src/chain/checks.ts';
import { nextDifficulty, targetFromDifficulty, workFromTarget } from '../src/chain/difficulty.ts';
import { equalBytes, toHex } from '../src/chain/encoding.ts';
import { bigIntToBytes32, hashToBigInt } from '../src/chain/hash.ts';
import { BlockHeader, HEADER_SIZE, HEADER_VERSION, NONCE_OFFSET } from '../src/chain/header.ts';
import { generatePrivateKey, publicKeyOf } from '../src/chain/keys.ts';
import { applyBlock } from '../src/chain/ledger.ts';
import { Mempool } from '../src/chain/mempool.ts';
import { merkleRoot } from '../src/chain/merkle.ts';
import { LI_PER_ZI, NETWORKS } from '../src/chain/params.ts';
import { StateOverlay, type StateReader } from '../src/chain/state.ts';
import { encodeEntry, encodeUndo, STATUS_CONNECTED, STATUS_HAS_BODY } from '../src/chain/store/chaindb.ts';
import {
  DB_HEADERS,
  DB_TIP,
  dbKey,
  PREFIX_ADDRESS,
  PREFIX_BLOCK,
  PREFIX_ENTRY,
  PREFIX_HEADERS,
  PREFIX_HEIGHT,
  PREFIX_STATE,
  PREFIX_UNDO,
  STATE_ACCOUNT,
  STATE_OPEN_PROBLEMS,
  u32be,
} from '../src/chain/store/layout.ts';
import { seal, unseal } from '../src/chain/store/seal.ts';
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
/** ZI_SCALE_ONLY=startup,state (or ranges, results) runs those curves alone. */
const ONLY = process.env.ZI_SCALE_ONLY?.split(',');
const runs = (curve: string) => ONLY === undefined || ONLY.includes(curve);

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

type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

/**
 * The start-up curve's shortcut (see the top of this file): `count` empty
 * blocks mined by `miner` on the tip of the closed chain at `path`, stamped
 * parent + T as growingChain stamps them, and written with the records
 * Chain.addBlock leaves (ChainDB.saveBlock, then ChainDB.connect): body,
 * entry, state changes, undo, height, the miner's history, the tip. The
 * chain's snapshot of its block index is dropped, as a crash would leave it.
 */
async function appendEmptyBlocks(path: string, count: number, miner: Address): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const read = (key: Uint8Array) => {
    const raw = db.getSync(key);
    return raw === undefined ? undefined : new Uint8Array(unseal(key, raw, path));
  };
  let hash: Uint8Array = read(DB_TIP)!;
  const tipEntry = read(dbKey(PREFIX_ENTRY, hash))!;
  let header = BlockHeader.fromBytes(tipEntry.subarray(0, HEADER_SIZE));
  let chainwork = hashToBigInt(tipEntry.subarray(HEADER_SIZE, HEADER_SIZE + 32));
  let openProblems = new DataView(tipEntry.buffer, tipEntry.byteOffset).getUint32(HEADER_SIZE + 33);
  const rules = coreRules();
  // The state written so far but not yet in the store, over the store.
  const pending = new Map<string, Uint8Array | undefined>();
  const base: StateReader = {
    get: (key) => (pending.has(toHex(key)) ? pending.get(toHex(key)) : read(dbKey(PREFIX_STATE, key))),
  };
  let ops: Op[] = [];
  const flush = async () => {
    ops.push({ type: 'put', key: DB_TIP, value: hash });
    await db.batch(ops.map((op) => (op.type === 'put' ? { ...op, value: seal(op.key, op.value) } : op)));
    ops = [];
    pending.clear();
  };
  for (let i = 0; i < count; i++) {
    const difficulty = nextDifficulty(params, header.height, openProblems);
    const next = BlockHeader.create({
      version: HEADER_VERSION,
      height: header.height + 1,
      parent: hash,
      merkleRoot: merkleRoot([], []),
      timestamp: earliestChildTime(header.timestamp, params),
      difficulty,
      miner,
      nonce: 0n,
    });
    const block = solveTemplate({
      parent: hash,
      header: next,
      txs: [],
      votes: [],
      prefix: next.toBytes().slice(0, NONCE_OFFSET),
      target: bigIntToBytes32(targetFromDifficulty(difficulty)),
      createdAt: 0,
    });
    header = block.header;
    hash = block.hash();
    const state = new StateOverlay(base);
    const ctx = { params, height: header.height, timestamp: header.timestamp, position: 0, ports: rules.ports };
    applyBlock(state, block, rules, ctx);
    const po = state.get(new Uint8Array([STATE_OPEN_PROBLEMS]));
    openProblems = po === undefined ? 0 : new DataView(po.buffer, po.byteOffset).getUint32(0);
    chainwork += workFromTarget(targetFromDifficulty(difficulty));
    const entry = {
      hash,
      header,
      height: header.height,
      chainwork,
      status: STATUS_HAS_BODY | STATUS_CONNECTED,
      openProblems,
    };
    const changes = state.changes();
    ops.push({ type: 'put', key: dbKey(PREFIX_BLOCK, hash), value: block.toBytes() });
    for (const c of changes) {
      const key = dbKey(PREFIX_STATE, c.key);
      ops.push(c.value === undefined ? { type: 'del', key } : { type: 'put', key, value: c.value });
      pending.set(toHex(c.key), c.value);
    }
    ops.push({ type: 'put', key: dbKey(PREFIX_UNDO, hash), value: encodeUndo(changes) });
    ops.push({ type: 'put', key: dbKey(PREFIX_HEIGHT, u32be(header.height)), value: hash });
    ops.push({ type: 'put', key: dbKey(PREFIX_ENTRY, hash), value: encodeEntry(entry) });
    ops.push({ type: 'put', key: dbKey(PREFIX_ADDRESS, miner, u32be(header.height), u32be(0xffffffff)), value: hash });
    if (ops.length >= 50_000) await flush();
  }
  await flush();
  await db.del(DB_HEADERS);
  await db.close();
}

/** Every record of the closed store at `path` but its block index snapshot, as key=value text. */
async function records(path: string): Promise<string[]> {
  const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const out: string[] = [];
  for await (const [k, v] of db.iterator()) {
    if (k[0] !== PREFIX_HEADERS && !equalBytes(k, DB_HEADERS)) out.push(`${toHex(k)}=${toHex(v)}`);
  }
  await db.close();
  return out;
}

/** The shortcut must leave what addBlock leaves: the same 200 blocks both ways, compared record by record. */
async function checkShortcut(root: string, miner: Address): Promise<string> {
  const real = join(root, 'shortcut-real');
  const g = await growingChain(real);
  for (let i = 0; i < 200; i++) await g.mine(miner);
  await g.chain.close();
  const fast = join(root, 'shortcut-fast');
  await (await openChain(fast)).close();
  await appendEmptyBlocks(fast, 200, miner);
  const [a, b] = [await records(real), await records(fast)];
  const differ = a.filter((r, i) => r !== b[i]);
  if (a.length !== b.length || differ.length > 0) {
    throw new Error(`the shortcut's store differs from addBlock's: ${differ.length} of ${a.length} records`);
  }
  return real;
}

async function startupCurve(root: string): Promise<void> {
  const sizes = FULL ? [10_000, 100_000, 1_000_000] : [1_000, 10_000, 100_000];
  const miner = addressOf(publicKeyOf(generatePrivateKey()));
  const path = await checkShortcut(root, miner);
  let built = 200;
  const crash: Point[] = [];
  const crashMemory: Point[] = [];
  const clean: Point[] = [];
  const cleanMemory: Point[] = [];
  const t0 = performance.now();
  for (const size of sizes) {
    await appendEmptyBlocks(path, size - built, miner);
    built = size;
    // The shortcut leaves no snapshot of the block index, as a crash would: the first
    // open reads every entry, and its close writes the snapshot the second open reads.
    const first = openInChild(path);
    crash.push({ size, value: first.ms });
    crashMemory.push({ size, value: first.rssMiB });
    const second = openInChild(path);
    clean.push({ size, value: second.ms });
    cleanMemory.push({ size, value: second.rssMiB });
  }
  const rate = ((built - 200) / (performance.now() - t0)) * 1000;
  console.log(
    `(${built.toLocaleString('en')} blocks: 200 through addBlock, the rest by the shortcut and both opens at ${rate.toFixed(0)} blocks/s)`,
  );
  report(
    'node start-up after a clean close (the block index read in chunks, the newest blocks checked)',
    'ms',
    clean,
    0,
  );
  report('  resident memory after it', 'MiB', cleanMemory, 0);
  report('node start-up after a crash (every block index entry read, the newest blocks checked)', 'ms', crash, 0);
  report('  resident memory after it', 'MiB', crashMemory, 0);
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
    if (runs('ranges')) paidRangesCurve();
    if (runs('results')) await resultsCurve(root);
    if (runs('startup')) await startupCurve(root);
    if (runs('state')) await stateCurves(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
