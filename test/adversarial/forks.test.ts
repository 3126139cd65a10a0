import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Block } from '../../src/chain/block.ts';
import { OrphanBlockError } from '../../src/chain/chain.ts';
import { earliestChildTime } from '../../src/chain/checks.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { ValidationError } from '../../src/chain/errors.ts';
import { devnet, type Keypair, keypair, ManualClock, openChain, transfer } from '../support/chain.ts';
import { votesRules } from '../support/votes.ts';
import { assertMatchesReference, rng, seedOf } from './reference.ts';
import { blockOn, type Tip, tipOf } from './support.ts';

const SCENARIOS = Number(process.env.ZI_ADV_FORKS ?? 10);

interface Node {
  block?: Block;
  tip: Tip;
  parent?: Node;
  /** Next nonce of each spender on this block's chain. */
  nonces: bigint[];
  /** Spenders that have mined a block on this chain: only they have coins. */
  funded: number[];
  /** False from the first block that breaks a rule (a spent nonce spent again) down. */
  valid: boolean;
}

interface Scenario {
  /** Every block, each after its parent. */
  blocks: Block[];
  invalid: Set<string>;
  /** The valid chain with the most work, from height 1. */
  winner: Block[];
  branches: number;
}

/**
 * Competing branches off a shared start: three blocks that fund the
 * spenders, then branches forking from random blocks, each block holding a
 * few transfers (the same nonce spent differently on two branches is a
 * double spend between them) and now and then a fake vote. Some blocks spend
 * a nonce their own chain already spent: invalid, and so is everything after.
 */
function scenario(random: () => number, genesis: Tip, spenders: Keypair[], payees: Keypair[]): Scenario {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const nodes: Node[] = [];
  const invalid = new Set<string>();
  const blocks: Block[] = [];
  const extend = (parent: Node, miner: Uint8Array, kind: 'fund' | 'valid' | 'any' = 'any'): Node => {
    const nonces = [...parent.nonces];
    const { funded } = parent;
    const txs = Array.from({ length: kind === 'fund' || funded.length === 0 ? 0 : Math.floor(random() * 4) }, () => {
      const s = pick(funded);
      const amount = 1_000n + BigInt(Math.floor(random() * 1e6));
      return transfer(spenders[s]!, pick(payees).address, amount, nonces[s]!++, genesis.hash);
    });
    let valid = parent.valid;
    const spent = nonces.flatMap((n, s) => (n > 0n ? [s] : []));
    if (kind === 'any' && valid && spent.length > 0 && random() < 0.12) {
      const s = pick(spent);
      txs.push(transfer(spenders[s]!, pick(payees).address, 7n, nonces[s]! - 1n, genesis.hash));
      valid = false;
    }
    const votes = random() < 0.3 ? [Uint8Array.from([1, ...Array.from({ length: 7 }, () => random() * 256)])] : [];
    const timestamp = earliestChildTime(parent.tip.timestamp, devnet) + Math.floor(random() * 3) * 1000;
    const block = blockOn(parent.tip, { txs, votes, miner, timestamp });
    const mined = spenders.findIndex((k) => toHex(k.address) === toHex(miner));
    const node: Node = {
      block,
      tip: tipOf(block),
      parent,
      nonces,
      funded: mined < 0 ? funded : [...funded, mined],
      valid,
    };
    if (!valid) invalid.add(toHex(block.hash()));
    nodes.push(node);
    blocks.push(block);
    return node;
  };

  let start: Node = { tip: genesis, nonces: spenders.map(() => 0n), funded: [], valid: true };
  for (const s of spenders) start = extend(start, s.address, 'fund');
  const branches = 3 + Math.floor(random() * 4);
  for (let b = 0; b < branches; b++) {
    let tip = b === 0 ? start : pick(nodes);
    const miner = new Uint8Array(20).fill(0x10 + b);
    for (let k = 1 + Math.floor(random() * 8); k > 0; k--) tip = extend(tip, miner);
  }
  // One winner: on a tie in height (equal work), one more block settles it.
  const best = () => Math.max(...nodes.filter((n) => n.valid).map((n) => n.tip.height));
  const top = nodes.filter((n) => n.valid && n.tip.height === best());
  if (top.length > 1) extend(pick(top), new Uint8Array(20).fill(0x0f), 'valid');
  const winner: Block[] = [];
  for (let n: Node | undefined = nodes.find((n) => n.valid && n.tip.height === best()); n?.block; n = n.parent) {
    winner.unshift(n.block);
  }
  return { blocks, invalid, winner, branches };
}

/** Each block at its place give or take `spread` places, and some twice. */
function deliveryOrder(random: () => number, blocks: Block[], spread: number): Block[] {
  const keyed = blocks.map((b, i) => ({ b, key: i + random() * spread }));
  for (const b of blocks) if (random() < 0.15) keyed.push({ b, key: random() * blocks.length });
  return keyed.sort((x, y) => x.key - y.key).map((x) => x.b);
}

test(`${SCENARIOS} seeded fork scenarios, delivered out of order and twice: the node ends on the valid branch with the most work, equal to a reference that got it in order`, async (t) => {
  const seed = seedOf(14);
  t.diagnostic(`seed ${seed} (ZI_SEED=${seed} replays it; ZI_ADV_FORKS sets the number of scenarios)`);
  const spenders = [keypair(), keypair(), keypair()];
  const payees = [keypair(), keypair(), keypair(), keypair()];
  for (let i = 0; i < SCENARIOS; i++) {
    const random = rng(seed + i);
    const clock = new ManualClock();
    const node = await openChain(t, { clock, rules: votesRules() });
    const genesis: Tip = { hash: node.chain.genesisHash, height: 0, timestamp: node.chain.tip.header.timestamp };
    const sc = scenario(random, genesis, spenders, payees);
    clock.now = Math.max(...sc.blocks.map((b) => b.header.timestamp));
    const order = deliveryOrder(random, sc.blocks, 1 + random() * sc.blocks.length);

    let reorgs = 0;
    let refused = 0;
    node.chain.on('tip', (c) => {
      if (c.disconnected.length > 0) reorgs++;
    });
    // Held until their parent is stored, as the network's orphan pool holds them.
    const held = new Map<string, Block[]>();
    let orphans = 0;
    const deliver = async (b: Block): Promise<void> => {
      const bad = sc.invalid.has(toHex(b.hash()));
      try {
        // An invalid block may be taken as a side block: it is found out when its chain would lead.
        await node.chain.addBlock(b);
      } catch (err) {
        if (err instanceof OrphanBlockError) {
          orphans++;
          const parent = toHex(b.header.parent);
          held.set(parent, [...(held.get(parent) ?? []), b]);
          return;
        }
        if (!(err instanceof ValidationError) || !bad) throw err;
        refused++;
      }
      const children = held.get(toHex(b.hash())) ?? [];
      held.delete(toHex(b.hash()));
      for (const child of children) await deliver(child);
    };
    for (const b of order) await deliver(b);

    assert.equal(held.size, 0, 'every held block got its parent');
    const tip = sc.winner.at(-1)!;
    t.diagnostic(
      `scenario ${i} (seed ${seed + i}): ${sc.blocks.length} blocks in ${sc.branches} branches, ` +
        `${order.length - sc.blocks.length} sent twice, ${orphans} held as orphans, ${sc.invalid.size} invalid ` +
        `(${refused} refusals), ${reorgs} reorgs; winner height ${tip.header.height}`,
    );
    assert.equal(toHex(node.chain.tip.hash), toHex(tip.hash()), `scenario ${i}: the tip is the winner's`);
    await assertMatchesReference(t, node.chain, votesRules(), sc.winner);
    await node.chain.close();
  }
});
