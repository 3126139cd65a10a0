import assert from 'node:assert/strict';
import type { Block } from '../../src/chain/block.ts';
import type { Chain } from '../../src/chain/chain.ts';
import { toHex } from '../../src/chain/encoding.ts';
import type { TxRulesRegistry } from '../../src/chain/tx-rules.ts';
import { openChain } from '../support/chain.ts';

/** A small seeded generator (mulberry32), so a failing run is replayed with its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: ZI_SEED when set, else the given default. */
export function seedOf(fallback: number): number {
  const s = process.env.ZI_SEED;
  return s === undefined ? fallback : Number(s);
}

export async function mainBlocks(chain: Chain): Promise<Block[]> {
  const blocks: Block[] = [];
  for (let h = 1; h <= chain.height; h++) {
    const block = await chain.getBlock(chain.entryAtHeight(h)!.hash);
    assert.ok(block, `body of main-chain block ${h} is missing`);
    blocks.push(block);
  }
  return blocks;
}

/** Every state record, the tx index and address history of `chain`, as comparable text. */
export async function dump(chain: Chain): Promise<{ tip: string; state: string[]; index: string[] }> {
  const state: string[] = [];
  for await (const [k, v] of chain.store.stateEntries()) state.push(`${toHex(k)}=${toHex(v)}`);
  const index: string[] = [];
  const parties = new Map<string, Uint8Array>();
  for (const block of await mainBlocks(chain)) {
    parties.set(toHex(block.header.miner), block.header.miner);
    for (const tx of block.txs) {
      const loc = await chain.store.txLocation(tx.hash());
      index.push(`${toHex(tx.hash())}@${loc ? `${toHex(loc.block)}/${loc.position}` : 'none'}`);
      parties.set(toHex(tx.from), tx.from);
    }
  }
  for (const [id, a] of parties) {
    for (const h of await chain.store.history(a, 10_000)) index.push(`${id}:${h.height}/${h.position}/${toHex(h.id)}`);
  }
  return { tip: toHex(chain.tip.hash), state, index };
}

/**
 * The reference: `blocks` (by default `chain`'s own main chain) connected in
 * order to an empty chain in this process. The two must agree on the tip, on
 * every state record and on the indexes.
 */
export async function assertMatchesReference(
  t: Parameters<typeof openChain>[0],
  chain: Chain,
  rules?: TxRulesRegistry,
  expected?: readonly Block[],
): Promise<number> {
  const ref = await openChain(t, { rules });
  const blocks = expected ?? (await mainBlocks(chain));
  for (const b of blocks) {
    ref.clock.now = Math.max(ref.clock.now, b.header.timestamp);
    assert.equal(await ref.chain.addBlock(b), 'connected');
  }
  assert.deepEqual(await dump(chain), await dump(ref.chain));
  await ref.chain.close();
  return blocks.length;
}
