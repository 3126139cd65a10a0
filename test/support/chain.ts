import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Address, addressOf } from '../../src/chain/address.ts';
import type { Block } from '../../src/chain/block.ts';
import { Chain } from '../../src/chain/chain.ts';
import type { Hash } from '../../src/chain/hash.ts';
import type { BlockIndexer } from '../../src/chain/indexer.ts';
import { generatePrivateKey, publicKeyOf } from '../../src/chain/keys.ts';
import type { Mempool } from '../../src/chain/mempool.ts';
import { NETWORKS, type NetworkParams } from '../../src/chain/params.ts';
import { Transaction, TX_KINDS } from '../../src/chain/transaction.ts';
import { coreRules, type TxRulesRegistry, transferRules } from '../../src/chain/tx-rules.ts';
import { buildTemplate, completeBlock, type Template } from '../../src/miner/template.ts';
import { assertSupply } from './supply.ts';

export const devnet: NetworkParams = NETWORKS.devnet;

const tempDirs: string[] = [];
// Removed as the test process exits, not in an after-hook: hooks run in the
// order they were added, so a store a test closes in its own hook was still
// writing when the directory's removal (added first) had already begun.
process.on('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

export async function tempDir(_t: { after(fn: () => Promise<void>): void }, prefix = 'zi-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** A clock tests move by hand, so a 100-block history takes no wall time. */
export class ManualClock {
  now: number;
  constructor(start = devnet.genesisTimestamp + 1000) {
    this.now = start;
  }
  readonly fn = (): number => this.now;
}

export interface TestChain {
  chain: Chain;
  clock: ManualClock;
  dir: string;
}

export interface OpenOptions {
  dir?: string;
  clock?: ManualClock;
  rules?: TxRulesRegistry;
  params?: NetworkParams;
  indexers?: readonly BlockIndexer[];
}

export async function openChain(
  t: { after(fn: () => Promise<void>): void },
  opts: OpenOptions = {},
): Promise<TestChain> {
  const dir = opts.dir ?? (await tempDir(t));
  const clock = opts.clock ?? new ManualClock();
  const chain = await Chain.open({
    path: join(dir, 'chain'),
    params: opts.params ?? devnet,
    // Guarded: every test proves that each domain writes only the state it owns.
    rules: opts.rules ?? coreRules({ guardWrites: true }),
    clock: clock.fn,
    indexers: opts.indexers,
  });
  t.after(() => chain.close().catch(() => undefined));
  return { chain, clock, dir };
}

export interface Keypair {
  priv: Uint8Array;
  pub: Uint8Array;
  address: Address;
}

export function keypair(): Keypair {
  const priv = generatePrivateKey();
  const pub = publicKeyOf(priv);
  return { priv, pub, address: addressOf(pub) };
}

export function transfer(
  from: Keypair,
  to: Address,
  amount: bigint,
  nonce: bigint,
  genesis: Hash,
  fee = 1_000n,
): Transaction {
  return Transaction.sign(
    { kind: TX_KINDS.transfer, nonce, fee, payload: transferRules.encode({ to, amount }) },
    from.priv,
    genesis,
  );
}

/** Brute-force nonce search with node:crypto: devnet's 8-bit targets take ~256 tries. */
export function solve(t: Template): Block {
  const header = t.header.toBytes().slice();
  const view = new DataView(header.buffer);
  const target = Buffer.from(t.target);
  for (let nonce = 0n; ; nonce++) {
    view.setBigUint64(header.length - 8, nonce);
    const h = createHash('sha256').update(header).digest();
    if (Buffer.compare(h, target) < 0) return completeBlock(t, nonce);
  }
}

/**
 * Builds, solves and submits the next block on the tip, with the clock moved
 * to its earliest allowed timestamp.
 */
export interface BlockOptions {
  miner?: Address;
  txs?: Transaction[];
  votes?: Uint8Array[];
  mempool?: Mempool;
}

/** Mines the next block and checks the supply invariant after it (test/support/supply.ts). */
export async function mine(tc: TestChain, opts: BlockOptions = {}): Promise<Block> {
  const block = nextBlock(tc, opts);
  await tc.chain.addBlock(block);
  await assertSupply(tc.chain);
  return block;
}

export function nextBlock(tc: TestChain, opts: BlockOptions = {}): Block {
  const ts = tc.chain.earliestNext();
  tc.clock.now = Math.max(tc.clock.now, ts);
  const miner = opts.miner ?? new Uint8Array(20).fill(9);
  const template = buildTemplate(tc.chain, opts.mempool, miner, ts, opts.txs, opts.votes);
  return solve(template);
}

/** The main-chain blocks of `chain` at heights `from` to `to`, in order. */
export async function mainBlocks(chain: Chain, from = 1, to = chain.height): Promise<Block[]> {
  const out: Block[] = [];
  for (let h = from; h <= to; h++) out.push((await chain.getBlock(chain.entryAtHeight(h)!.hash))!);
  return out;
}

/**
 * Where a competing branch starts: another chain, in a dir of its own and on
 * the same clock, holding `tc`'s main chain up to height `upTo`. `opts` are
 * the rules and params `tc` was opened with.
 */
export async function copyChain(
  t: { after(fn: () => Promise<void>): void },
  tc: TestChain,
  upTo: number,
  opts: Omit<OpenOptions, 'dir' | 'clock'> = {},
): Promise<TestChain> {
  const copy = await openChain(t, { ...opts, clock: tc.clock });
  for (const block of await mainBlocks(tc.chain, 1, upTo)) await copy.chain.addBlock(block);
  return copy;
}

export async function mineMany(tc: TestChain, n: number, miner?: Address): Promise<Block[]> {
  const out: Block[] = [];
  for (let i = 0; i < n; i++) out.push(await mine(tc, { miner }));
  return out;
}
