import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getAccount } from '../../src/chain/accounts.ts';
import { Block } from '../../src/chain/block.ts';
import { OrphanBlockError } from '../../src/chain/chain.ts';
import { FutureBlockError } from '../../src/chain/checks.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { ValidationError } from '../../src/chain/errors.ts';
import { BlockHeader } from '../../src/chain/header.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import { Transaction } from '../../src/chain/transaction.ts';
import { buildTemplate } from '../../src/miner/template.ts';
import { devnet, keypair, mine, mineMany, nextBlock, openChain, solve, transfer } from '../support/chain.ts';

test('mining pays subsidy and fees to the miner; a transfer moves Li and bumps the nonce', async (t) => {
  const tc = await openChain(t);
  const alice = keypair();
  const bob = keypair();
  await mine(tc, { miner: alice.address });
  assert.equal(getAccount(tc.chain.state, alice.address).balance, devnet.subsidy);
  const tx = transfer(alice, bob.address, 7_000n, 0n, tc.chain.genesisHash, 500n);
  const block = await mine(tc, { miner: bob.address, txs: [tx] });
  // Both parties' activity records the block's time; the mining reward is not a transaction.
  const at = [block.header.timestamp];
  assert.deepEqual(getAccount(tc.chain.state, alice.address), {
    balance: devnet.subsidy - 7_500n,
    nonce: 1n,
    activity: at,
  });
  assert.deepEqual(getAccount(tc.chain.state, bob.address), {
    balance: devnet.subsidy + 7_500n,
    nonce: 0n,
    activity: at,
  });
  assert.equal(tc.chain.height, 2);
});

test('a node restarts at exactly its last committed tip, state included', async (t) => {
  const tc = await openChain(t);
  const alice = keypair();
  await mineMany(tc, 5, alice.address);
  const tip = toHex(tc.chain.tip.hash);
  await tc.chain.close();
  const again = await openChain(t, { dir: tc.dir, clock: tc.clock });
  assert.equal(toHex(again.chain.tip.hash), tip);
  assert.equal(again.chain.height, 5);
  assert.equal(getAccount(again.chain.state, alice.address).balance, 5n * devnet.subsidy);
  await mine(again);
  assert.equal(again.chain.height, 6);
});

test('a data directory of another network is refused', async (t) => {
  const tc = await openChain(t);
  await tc.chain.close();
  await assert.rejects(openChain(t, { dir: tc.dir, params: NETWORKS.testnet }), { code: 'WRONG_NETWORK' });
});

test('timestamp rules: sooner than parent + T is invalid; too far ahead is held back, not invalid', async (t) => {
  const tc = await openChain(t);
  await mine(tc);
  const parentTs = tc.chain.tip.header.timestamp;
  const early = solve(buildTemplate(tc.chain, undefined, new Uint8Array(20), parentTs + 999, []));
  await assert.rejects(tc.chain.addBlock(early), (e) => e instanceof ValidationError && e.code === 'TOO_SOON');
  const ahead = tc.clock.now + devnet.futureLimitMs + 1;
  const future = solve(buildTemplate(tc.chain, undefined, new Uint8Array(20), ahead, []));
  await assert.rejects(tc.chain.addBlock(future), (e) => e instanceof FutureBlockError);
  // Once the clock catches up, the same block is accepted.
  tc.clock.now = ahead;
  assert.equal(await tc.chain.addBlock(future), 'connected');
});

test('invalid proof of work, wrong difficulty, bad merkle root and unknown parent are refused', async (t) => {
  const tc = await openChain(t);
  const good = nextBlock(tc);
  let badNonce = good.header.nonce;
  let header: BlockHeader;
  do header = good.header.withNonce(++badNonce);
  while (BigInt(`0x${toHex(header.hash())}`) < 1n << 248n);
  await assert.rejects(tc.chain.addBlock(Block.create(header, [])), { code: 'BAD_POW' });

  const t1 = buildTemplate(tc.chain, undefined, new Uint8Array(20), tc.clock.now, []);
  const easier = solve({
    ...t1,
    header: BlockHeader.create({ ...t1.header, difficulty: t1.header.difficulty + 1 }),
  });
  await assert.rejects(tc.chain.addBlock(easier), { code: 'WRONG_DIFFICULTY' });

  const alice = keypair();
  const tx = transfer(alice, alice.address, 1n, 0n, tc.chain.genesisHash);
  const lying = Block.create(good.header, [tx]);
  await assert.rejects(tc.chain.addBlock(lying), { code: 'BAD_MERKLE_ROOT' });

  const orphan = Block.create(BlockHeader.create({ ...good.header, parent: new Uint8Array(32).fill(1) }), []);
  await assert.rejects(tc.chain.addBlock(orphan), (e) => e instanceof OrphanBlockError);
  assert.equal(await tc.chain.addBlock(good), 'connected');
});

test('a block is applied while its signatures verify, but a bad signature is still what refuses it, and nothing of it is kept', async (t) => {
  const tc = await openChain(t);
  const alice = keypair();
  const bob = keypair();
  await mine(tc, { miner: alice.address });
  const g = tc.chain.genesisHash;
  // 40 transactions: the signatures go to the worker threads. The last one overspends, which the
  // apply (run meanwhile) finds first; the forged signature at 20 is the refusal, as it was before.
  const txs = Array.from({ length: 40 }, (_, i) => transfer(alice, bob.address, 1_000n, BigInt(i), g));
  txs[39] = transfer(alice, bob.address, devnet.subsidy, 39n, g);
  txs[20] = Transaction.create({ ...txs[20]!, signature: transfer(bob, bob.address, 1_000n, 20n, g).signature });
  const block = nextBlock(tc, { txs });
  for (let attempt = 0; attempt < 2; attempt++) {
    await assert.rejects(tc.chain.addBlock(block), (err: Error & { code?: string; meta?: { txIndex?: number } }) => {
      assert.equal(err.code, 'BAD_SIGNATURE', `attempt ${attempt}: not KNOWN_INVALID, the block was not stored`);
      assert.equal(err.meta?.txIndex, 20);
      return true;
    });
  }
  assert.equal(tc.chain.height, 1);
  assert.equal(await tc.chain.store.getBlockBytes(block.hash()), undefined);
  assert.deepEqual(getAccount(tc.chain.state, bob.address).balance, 0n);
  // Without the forgery the overspend is the refusal, found at connect, and the block is known invalid.
  txs[20] = transfer(alice, bob.address, 1_000n, 20n, g);
  const overspent = nextBlock(tc, { txs });
  await assert.rejects(tc.chain.addBlock(overspent), { code: 'INSUFFICIENT_FUNDS' });
  await assert.rejects(tc.chain.addBlock(overspent), { code: 'KNOWN_INVALID' });
  txs.pop();
  await mine(tc, { txs });
  assert.equal(getAccount(tc.chain.state, bob.address).balance, 39_000n);
});

test('a block of 300: its signatures start in two batches, and the lowest bad one is the refusal in either', async (t) => {
  const tc = await openChain(t);
  const alice = keypair();
  const bob = keypair();
  await mine(tc, { miner: alice.address });
  const g = tc.chain.genesisHash;
  const txs = Array.from({ length: 300 }, (_, i) => transfer(alice, bob.address, 1n, BigInt(i), g));
  const forge = (i: number) =>
    Transaction.create({ ...txs[i]!, signature: transfer(bob, bob.address, 1n, BigInt(i), g).signature });
  const refusedAt = async (bad: number[]) => {
    const forged = txs.map((tx, i) => (bad.includes(i) ? forge(i) : tx));
    const err = await tc.chain.addBlock(nextBlock(tc, { txs: forged })).then(
      () => assert.fail('accepted'),
      (e: Error & { code?: string; meta?: { txIndex?: number } }) => e,
    );
    assert.equal(err.code, 'BAD_SIGNATURE');
    return err.meta?.txIndex;
  };
  // The first batch is the first 128 signatures, the second the rest.
  assert.equal(await refusedAt([250]), 250);
  assert.equal(await refusedAt([200, 140]), 140);
  assert.equal(await refusedAt([5, 250]), 5);
  assert.equal(await refusedAt([127, 128]), 127);
  assert.equal(tc.chain.height, 1);
  await mine(tc, { txs });
  assert.equal(getAccount(tc.chain.state, bob.address).balance, 300n);
});

test('blocks with a bad signature, a reused nonce or a double spend are invalid and change nothing', async (t) => {
  const tc = await openChain(t);
  const alice = keypair();
  const bob = keypair();
  await mine(tc, { miner: alice.address });
  const g = tc.chain.genesisHash;

  const signed = transfer(alice, bob.address, 10n, 0n, g);
  const forged = transfer(bob, bob.address, 10n, 0n, g);
  const badSig = Transaction.create({ ...signed, signature: forged.signature });
  await assert.rejects(tc.chain.addBlock(nextBlock(tc, { txs: [badSig] })), { code: 'BAD_SIGNATURE' });

  const spendAll = transfer(alice, bob.address, devnet.subsidy - 1_000n, 0n, g);
  const again = transfer(alice, bob.address, 5n, 1n, g);
  await assert.rejects(tc.chain.addBlock(nextBlock(tc, { txs: [spendAll, again] })), { code: 'INSUFFICIENT_FUNDS' });

  const sameNonce = transfer(alice, bob.address, 6n, 0n, g);
  await assert.rejects(tc.chain.addBlock(nextBlock(tc, { txs: [signed, sameNonce] })), { code: 'NONCE_USED' });

  assert.equal(tc.chain.height, 1);
  assert.deepEqual(getAccount(tc.chain.state, alice.address), { balance: devnet.subsidy, nonce: 0n, activity: [] });
  await mine(tc, { txs: [signed] });
  assert.equal(getAccount(tc.chain.state, bob.address).balance, 10n);
});
