import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as secp from '@noble/secp256k1';
import fc from 'fast-check';
import { getAccount } from '../../src/chain/accounts.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { ValidationError } from '../../src/chain/errors.ts';
import { bigIntToBytes32, hashToBigInt } from '../../src/chain/hash.ts';
import { MAX_PENDING_PER_SENDER, Mempool, MempoolError, type MempoolOptions } from '../../src/chain/mempool.ts';
import { MEMO_SIZE, Transaction, TX_KINDS } from '../../src/chain/transaction.ts';
import { transferRules } from '../../src/chain/tx-rules.ts';
import { devnet, type Keypair, keypair, mine, openChain, type TestChain, transfer } from '../support/chain.ts';

/** A plain transfer's encoded size: fee = k · SIZE pays exactly k Li per byte. */
const SIZE = 148;
const sink = keypair().address;

interface Pool {
  tc: TestChain;
  mempool: Mempool;
  g: Uint8Array;
  /** Signs a 1-Li transfer to `sink` paying `rate` Li per byte. */
  pay(from: Keypair, nonce: bigint, rate: number, amount?: bigint): Transaction;
  ids(): string[];
}

/** A chain where each of `n` keypairs has mined one block (50 Zi each), and a mempool following its tip. */
async function pool(t: Parameters<typeof openChain>[0], n: number, opts?: MempoolOptions) {
  const tc = await openChain(t);
  const keys = Array.from({ length: n }, () => keypair());
  for (const k of keys) await mine(tc, { miner: k.address });
  const mempool = new Mempool(tc.chain, opts);
  tc.chain.on('tip', (c) => mempool.onTip(c));
  const g = tc.chain.genesisHash;
  const p: Pool = {
    tc,
    mempool,
    g,
    pay: (from, nonce, rate, amount = 1n) => transfer(from, sink, amount, nonce, g, BigInt(rate * SIZE)),
    ids: () =>
      mempool
        .entries()
        .map((e) => e.id)
        .sort(),
  };
  return { ...p, keys };
}

const idOf = (tx: Transaction) => toHex(tx.hash());
const sorted = (txs: Transaction[]) => txs.map(idOf).sort();

function code(c: string, type: abstract new (...args: never[]) => Error = Error) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.equal((err as { code?: string }).code, c, (err as Error).message);
    return true;
  };
}

test('a transfer is the size the fee arithmetic below assumes', () => {
  const k = keypair();
  assert.equal(transfer(k, sink, 1n, 0n, new Uint8Array(32)).size, SIZE);
});

test('nonces: a gap is NONCE_GAP, a sender chain is accepted in order, a mined nonce is NONCE_USED', async (t) => {
  const { mempool, pay, keys, tc } = await pool(t, 1);
  const [alice] = keys as [Keypair];
  assert.throws(() => mempool.add(pay(alice, 1n, 2)), code('NONCE_GAP'));
  const chainTxs = [0n, 1n, 2n].map((n) => pay(alice, n, 2));
  for (const tx of chainTxs) mempool.add(tx);
  assert.deepEqual(mempool.pendingOf(alice.address).map(idOf), chainTxs.map(idOf));
  assert.equal(mempool.nextNonce(alice.address), 3n);
  assert.throws(() => mempool.add(pay(alice, 4n, 2)), code('NONCE_GAP'));

  await mine(tc, { mempool });
  assert.equal(mempool.count, 0);
  assert.equal(getAccount(tc.chain.state, alice.address).nonce, 3n);
  // A different transaction (other amount) with a nonce the chain has used.
  assert.throws(() => mempool.add(pay(alice, 2n, 2, 99n)), code('NONCE_USED'));
  assert.equal(mempool.nextNonce(alice.address), 3n);
});

test('a double spend across pending transactions is INSUFFICIENT_FUNDS; spending exactly the rest is fine', async (t) => {
  const { mempool, pay, keys } = await pool(t, 1);
  const [alice] = keys as [Keypair];
  const fee = BigInt(2 * SIZE);
  const first = pay(alice, 0n, 2, devnet.subsidy - fee - 10_000n);
  mempool.add(first);
  // 10,000 Li remain: a second payment of 10,000 plus its fee overspends.
  assert.throws(() => mempool.add(pay(alice, 1n, 2, 10_000n)), code('INSUFFICIENT_FUNDS', ValidationError));
  assert.equal(mempool.count, 1);
  mempool.add(pay(alice, 1n, 2, 10_000n - fee));
  assert.equal(mempool.count, 2);
  assert.throws(() => mempool.add(pay(alice, 2n, 1, 1n)), code('INSUFFICIENT_FUNDS', ValidationError));
  // An account with nothing cannot pay even the fee.
  assert.throws(() => mempool.add(pay(keypair(), 0n, 2)), code('INSUFFICIENT_FUNDS', ValidationError));
});

test('bad signatures are BAD_SIGNATURE: a foreign signature, another network, and the high-S twin', async (t) => {
  const { mempool, pay, keys, g } = await pool(t, 2);
  const [alice, bob] = keys as [Keypair, Keypair];
  const good = pay(alice, 0n, 2);
  const foreign = Transaction.create({ ...good, signature: pay(bob, 0n, 2).signature });
  assert.throws(() => mempool.add(foreign), code('BAD_SIGNATURE', ValidationError));

  const otherGenesis = g.slice();
  otherGenesis[0]! ^= 1;
  const elsewhere = transfer(alice, sink, 1n, 0n, otherGenesis, BigInt(2 * SIZE));
  assert.throws(() => mempool.add(elsewhere), code('BAD_SIGNATURE', ValidationError));

  // Same content, s replaced by n − s: a valid ECDSA signature with another txid.
  const n = secp.Point.CURVE().n;
  const sig = good.signature.slice();
  sig.set(bigIntToBytes32(n - hashToBigInt(good.signature.subarray(32))), 32);
  const twin = Transaction.create({ ...good, signature: sig });
  assert.notEqual(idOf(twin), idOf(good));
  assert.throws(() => mempool.add(twin), code('BAD_SIGNATURE', ValidationError));

  assert.equal(mempool.count, 0);
  mempool.add(good);
  assert.deepEqual(mempool.pendingOf(alice.address).map(idOf), [idOf(good)]);
});

test('a fee below minFeePerByte × size is FEE_TOO_LOW; a known transaction is ALREADY_KNOWN', async (t) => {
  const { mempool, keys, g } = await pool(t, 1);
  const [alice] = keys as [Keypair];
  const minimum = devnet.minFeePerByte * BigInt(SIZE);
  assert.throws(() => mempool.add(transfer(alice, sink, 1n, 0n, g, minimum - 1n)), code('FEE_TOO_LOW'));
  const tx = transfer(alice, sink, 1n, 0n, g, minimum);
  mempool.add(tx);
  assert.throws(() => mempool.add(tx), code('ALREADY_KNOWN'));
  assert.throws(() => mempool.add(Transaction.fromBytes(tx.toBytes())), code('ALREADY_KNOWN'));
  assert.equal(mempool.count, 1);
  assert.equal(mempool.totalBytes, SIZE);
});

test('replace-by-fee: +10% replaces the same nonce, less is REPLACEMENT_UNDERPRICED', async (t) => {
  const { mempool, keys, g } = await pool(t, 1);
  const [alice] = keys as [Keypair];
  const old = transfer(alice, sink, 5n, 0n, g, 1_000n);
  const next = transfer(alice, sink, 6n, 1n, g, 1_000n);
  mempool.add(old);
  mempool.add(next);
  const removed: Transaction[][] = [];
  mempool.on('removed', (txs) => removed.push(txs));

  const cheap = transfer(alice, sink, 7n, 0n, g, 1_099n);
  assert.throws(() => mempool.add(cheap), code('REPLACEMENT_UNDERPRICED'));
  assert.ok(mempool.has(old.hash()));

  // Exactly 10% more is "at least 100 per mille more".
  const better = transfer(alice, sink, 7n, 0n, g, 1_100n);
  mempool.add(better);
  assert.equal(mempool.has(old.hash()), false);
  assert.ok(mempool.has(better.hash()));
  assert.deepEqual(removed, [[old]]);
  // The follower still applies after the replacement, so it stays, in nonce order.
  assert.deepEqual(mempool.pendingOf(alice.address).map(idOf), [idOf(better), idOf(next)]);
  assert.equal(mempool.totalBytes, 2 * SIZE);
});

test('a replacement that spends what a follower needed takes the follower out too', async (t) => {
  const { mempool, keys, g } = await pool(t, 1);
  const [alice] = keys as [Keypair];
  const first = transfer(alice, sink, 5n, 0n, g, 1_000n);
  const follower = transfer(alice, sink, 1_000_000n, 1n, g, 1_000n);
  mempool.add(first);
  mempool.add(follower);
  const removed: Transaction[] = [];
  mempool.on('removed', (txs) => removed.push(...txs));
  const all = transfer(alice, sink, devnet.subsidy - 2_000n, 0n, g, 2_000n);
  mempool.add(all);
  assert.deepEqual(mempool.pendingOf(alice.address).map(idOf), [idOf(all)]);
  assert.equal(mempool.totalBytes, SIZE);
  // Listeners (gossip, wallets) hear of both: the replaced one and the follower it pushed out.
  assert.deepEqual(removed.map(idOf), [first, follower].map(idOf));
});

test('select: fee-rate priority across senders, nonce order within a sender, and a byte budget', async (t) => {
  const { mempool, pay, keys, tc } = await pool(t, 3);
  const [a, b, c] = keys as [Keypair, Keypair, Keypair];
  const a0 = pay(a, 0n, 2);
  const a1 = pay(a, 1n, 100);
  const b0 = pay(b, 0n, 10);
  const c0 = pay(c, 0n, 50);
  for (const tx of [a0, a1, b0, c0]) mempool.add(tx);
  // a1 pays most but cannot go before a0, which pays least.
  assert.deepEqual(mempool.select(tc.chain.state, 1 << 20).map(idOf), [c0, b0, a0, a1].map(idOf));
  // Each transaction costs its size plus a 4-byte length in the block.
  assert.deepEqual(mempool.select(tc.chain.state, 2 * (SIZE + 4)).map(idOf), [c0, b0].map(idOf));
  assert.deepEqual(mempool.select(tc.chain.state, 2 * (SIZE + 4) - 1).map(idOf), [c0].map(idOf));
  const block = await mine(tc, { mempool });
  assert.deepEqual(block.txs.map(idOf), [c0, b0, a0, a1].map(idOf));
});

test('size cap: the cheapest sender tail is evicted for a better-paying transaction', async (t) => {
  const { mempool, pay, keys, ids } = await pool(t, 3, { maxBytes: 3 * SIZE });
  const [a, b, c] = keys as [Keypair, Keypair, Keypair];
  const a0 = pay(a, 0n, 20);
  const a1 = pay(a, 1n, 2);
  const b0 = pay(b, 0n, 5);
  for (const tx of [a0, a1, b0]) mempool.add(tx);
  const removed: Transaction[] = [];
  mempool.on('removed', (txs) => removed.push(...txs));

  const c0 = pay(c, 0n, 10);
  mempool.add(c0);
  // a1 is the cheapest and a sender's last: evicting it leaves a0's chain whole.
  assert.deepEqual(ids(), sorted([a0, b0, c0]));
  assert.deepEqual(removed, [a1]);
  assert.equal(mempool.totalBytes, 3 * SIZE);
  assert.equal(mempool.nextNonce(a.address), 1n);
});

test('size cap: a transaction paying less than everything held is MEMPOOL_FULL and changes nothing', async (t) => {
  const { mempool, pay, keys, ids } = await pool(t, 4, { maxBytes: 3 * SIZE });
  const [a, b, c, d] = keys as [Keypair, Keypair, Keypair, Keypair];
  const held = [pay(a, 0n, 4), pay(b, 0n, 5), pay(c, 0n, 6)];
  for (const tx of held) mempool.add(tx);
  assert.throws(() => mempool.add(pay(d, 0n, 3)), code('MEMPOOL_FULL'));
  // Equal to the cheapest held is not better than it.
  assert.throws(() => mempool.add(pay(d, 0n, 4)), code('MEMPOOL_FULL'));
  // A sender cannot push out others with a cheap follower of its own.
  assert.throws(() => mempool.add(pay(c, 1n, 1)), code('MEMPOOL_FULL'));
  assert.deepEqual(ids(), sorted(held));
});

test('size cap: a refused newcomer evicts nobody, even when it outbids some of those it would need out', async (t) => {
  const { mempool, pay, keys, ids, g } = await pool(t, 4, { maxBytes: 3 * SIZE });
  const [a, b, c, d] = keys as [Keypair, Keypair, Keypair, Keypair];
  const held = [pay(a, 0n, 2), pay(b, 0n, 9), pay(c, 0n, 9)];
  for (const tx of held) mempool.add(tx);
  // With a memo it is 212 bytes: it would need a0 *and* b0 out, and b0 pays more.
  const big = Transaction.sign(
    {
      kind: TX_KINDS.transfer,
      nonce: 0n,
      fee: 5n * BigInt(SIZE + MEMO_SIZE),
      memo: new Uint8Array(MEMO_SIZE).fill(1),
      payload: transferRules.encode({ to: sink, amount: 1n }),
    },
    d.priv,
    g,
  );
  assert.equal(big.size, SIZE + MEMO_SIZE);
  assert.throws(() => mempool.add(big), code('MEMPOOL_FULL'));
  assert.deepEqual(ids(), sorted(held));
  assert.equal(mempool.totalBytes, 3 * SIZE);
});

test('size cap, random adds: what is kept and what is refused equals a model that scans every sender for the cheapest tail (property)', async (t) => {
  // Random (sender, fee rate) adds, each the sender's next nonce; the model is the rule as first written.
  const runs = fc.sample(
    fc.array(fc.tuple(fc.nat(5), fc.integer({ min: 1, max: 30 })), { minLength: 40, maxLength: 60 }),
    {
      numRuns: 8,
      seed: 16,
    },
  );
  for (const run of runs) {
    const model = new Map<number, number[]>(); // sender → fee rates in nonce order
    const fresh = await pool(t, 6, { maxBytes: 5 * SIZE });
    for (const [k, [who, r]] of run.entries()) {
      const rate = r * 100 + k; // distinct: which of two equal tails goes first is not a rule
      const queue = model.get(who) ?? [];
      const nonce = BigInt(queue.length);
      // The model: evict the cheapest other-sender tail until it fits, or refuse and change nothing.
      const copy = new Map([...model].map(([k, v]) => [k, [...v]]));
      let count = [...copy.values()].reduce((n, q) => n + q.length, 0);
      let refused = false;
      while (count + 1 > 5) {
        let victim: number | undefined;
        for (const [k, q] of copy)
          if (k !== who && q.length > 0 && (victim === undefined || q.at(-1)! < copy.get(victim)!.at(-1)!)) victim = k;
        if (victim === undefined || copy.get(victim)!.at(-1)! >= rate) {
          refused = true;
          break;
        }
        copy.get(victim)!.pop();
        count--;
      }
      let threw = false;
      try {
        fresh.mempool.add(fresh.pay(fresh.keys[who]!, nonce, rate));
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'MEMPOOL_FULL');
        threw = true;
      }
      assert.equal(threw, refused, `add (sender ${who}, rate ${rate}) refused as the model says`);
      if (!refused) {
        copy.set(who, [...(copy.get(who) ?? []), rate]);
        for (const [k, q] of copy) model.set(k, q);
      }
      for (const [k, q] of model) assert.equal(fresh.mempool.pendingOf(fresh.keys[k]!.address).length, q.length);
    }
  }
});

test('size cap: replace-by-fee works in a full pool, since the replaced transaction frees its own room', async (t) => {
  const { mempool, pay, keys, ids } = await pool(t, 2, { maxBytes: 2 * SIZE });
  const [a, b] = keys as [Keypair, Keypair];
  const a0 = pay(a, 0n, 10);
  const b0 = pay(b, 0n, 2);
  mempool.add(a0);
  mempool.add(b0);
  const bumped = pay(b, 0n, 3);
  mempool.add(bumped);
  assert.deepEqual(ids(), sorted([a0, bumped]));
  assert.equal(mempool.totalBytes, 2 * SIZE);
});

test('onTip: mined transactions leave the pool; a pending one conflicting with a mined one is dropped', async (t) => {
  const { mempool, pay, keys, tc, ids } = await pool(t, 3);
  const [a, b, c] = keys as [Keypair, Keypair, Keypair];
  const a0 = pay(a, 0n, 2);
  const a1 = pay(a, 1n, 2);
  const b0 = pay(b, 0n, 2);
  const c0 = pay(c, 0n, 2);
  for (const tx of [a0, a1, b0, c0]) mempool.add(tx);
  const removed: Transaction[] = [];
  mempool.on('removed', (txs) => removed.push(...txs));

  // c's nonce 0 is mined as a different transaction than the pooled one.
  const cOther = pay(c, 0n, 3, 77n);
  await mine(tc, { txs: [a0, b0, cOther] });
  assert.deepEqual(ids(), sorted([a1]));
  assert.deepEqual(sorted(removed), sorted([a0, b0, c0]));
  assert.equal(mempool.nextNonce(a.address), 2n);
  assert.equal(mempool.nextNonce(c.address), 1n);

  await mine(tc, { mempool });
  assert.equal(mempool.count, 0);
  assert.equal(mempool.totalBytes, 0);
  assert.equal(getAccount(tc.chain.state, a.address).nonce, 2n);
});

test(`a sender may have ${MAX_PENDING_PER_SENDER} transactions pending: the next is TOO_MANY_PENDING until a block takes some`, async (t) => {
  const { mempool, pay, keys, tc } = await pool(t, 2);
  const [a, b] = keys as [Keypair, Keypair];
  for (let n = 0n; n < BigInt(MAX_PENDING_PER_SENDER); n++) mempool.add(pay(a, n, 1));
  const next = pay(a, BigInt(MAX_PENDING_PER_SENDER), 1);
  assert.throws(() => mempool.add(next), code('TOO_MANY_PENDING', MempoolError));
  // Another sender is not held back by it, and a replacement inside the queue is still possible.
  mempool.add(pay(b, 0n, 1));
  mempool.add(pay(a, 3n, 2));
  await mine(tc, { mempool });
  assert.equal(mempool.count, 0);
  mempool.add(next);
});

test('after a block, a sender queue of k transactions is taken back with k applies, not k²/2', async (t) => {
  const { mempool, pay, keys, tc } = await pool(t, 2);
  const [a, b] = keys as [Keypair, Keypair];
  // Each one spends most of what the one before it left: only applied in order do they all fit.
  const balance = getAccount(tc.chain.state, a.address).balance;
  const k = MAX_PENDING_PER_SENDER;
  let left = balance;
  for (let n = 0; n < k; n++) {
    const amount = (left - 200n * BigInt(k - n)) / 2n;
    const tx = pay(a, BigInt(n), 1, amount);
    left -= amount + tx.fee;
    mempool.add(tx);
  }
  let applies = 0;
  const apply = transferRules.apply;
  transferRules.apply = (...args) => {
    applies++;
    apply(...args);
  };
  t.after(() => {
    transferRules.apply = apply;
  });
  // An unrelated block: the whole pool is checked again on the new tip.
  await mine(tc, { txs: [pay(b, 0n, 1)] });
  transferRules.apply = apply;
  assert.equal(mempool.count, k, 'the whole queue still applies');
  assert.ok(applies <= k + 1, `${applies} applies for a queue of ${k}`);
});
