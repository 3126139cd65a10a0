import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { toHex } from '../../src/chain/encoding.ts';
import { Mempool } from '../../src/chain/mempool.ts';
import { decodeMempool, encodeMempool, loadMempool, saveMempool } from '../../src/chain/mempool-file.ts';
import { devnet, keypair, mine, openChain, transfer } from '../support/chain.ts';

test('mempool.dat round-trips the pending transactions; a restart re-checks each and drops the stale ones', async (t) => {
  const tc = await openChain(t);
  const alice = keypair();
  const bob = keypair();
  await mine(tc, { miner: alice.address });
  await mine(tc, { miner: bob.address });
  const mempool = new Mempool(tc.chain);
  const a = [0n, 1n, 2n].map((n) => transfer(alice, bob.address, 1_000n, n, tc.chain.genesisHash));
  const b = transfer(bob, alice.address, 5_000n, 0n, tc.chain.genesisHash);
  for (const tx of [...a, b]) await mempool.accept(tx);
  const path = join(tc.dir, 'mempool.dat');
  assert.equal(await saveMempool(path, mempool, tc.chain.genesisHash), 4);
  assert.deepEqual(
    (await readdir(tc.dir)).filter((f) => f.includes('mempool')),
    ['mempool.dat'],
  );

  // Meanwhile bob's transaction is mined elsewhere: it is stale when the file is read back.
  await mine(tc, { miner: bob.address, txs: [b] });
  const fresh = new Mempool(tc.chain);
  assert.deepEqual(await loadMempool(path, fresh, tc.chain.genesisHash, devnet.maxTxBytes), { loaded: 3, dropped: 1 });
  assert.deepEqual(
    fresh.pendingOf(alice.address).map((tx) => toHex(tx.hash())),
    a.map((tx) => toHex(tx.hash())),
  );
  assert.equal(fresh.has(b.hash()), false);
  // No file is an empty mempool, not an error.
  assert.deepEqual(await loadMempool(join(tc.dir, 'none'), new Mempool(tc.chain), tc.chain.genesisHash, 1000), {
    loaded: 0,
    dropped: 0,
  });
});

test('mempool.dat is decoded strictly: truncated, trailing, flipped, foreign, over-counted or oversized files are refused', async (t) => {
  const tc = await openChain(t);
  const alice = keypair();
  const txs = [0n, 1n].map((n) => transfer(alice, alice.address, 1n, n, tc.chain.genesisHash));
  const good = encodeMempool(txs, tc.chain.genesisHash);
  const opts = { genesis: tc.chain.genesisHash, maxTxBytes: devnet.maxTxBytes, maxFileBytes: 1 << 20, file: 'm' };
  assert.equal(decodeMempool(good, opts).length, 2);
  const flipped = good.slice();
  flipped[60]! ^= 1;
  const overCount = encodeMempool(txs, tc.chain.genesisHash);
  const cases: [string, Uint8Array, typeof opts, RegExp][] = [
    ['truncated', good.subarray(0, good.length - 1), opts, /checksum/],
    ['empty', new Uint8Array(), opts, /too short/],
    ['trailing byte', new Uint8Array([...good, 0]), opts, /checksum/],
    ['flipped byte', flipped, opts, /checksum/],
    ['another network', good, { ...opts, genesis: new Uint8Array(32) }, /another network/],
    ['oversized', good, { ...opts, maxFileBytes: 100 }, /over the 100 allowed/],
    ['a transaction over the limit', good, { ...opts, maxTxBytes: 50 }, /does not decode/],
  ];
  // A count far beyond what the bytes hold, with a valid checksum, is refused before any allocation.
  new DataView(overCount.buffer).setUint32(40, 0xffffffff);
  const { sha256 } = await import('../../src/chain/hash.ts');
  overCount.set(sha256(overCount.subarray(0, overCount.length - 32)), overCount.length - 32);
  cases.push(['over-counted', overCount, opts, /claims 4294967295 transactions/]);
  for (const [name, bytes, o, message] of cases) {
    assert.throws(() => decodeMempool(bytes, o), { code: 'BAD_MEMPOOL_FILE', message }, name);
  }

  // A damaged file on disk is refused with its reason, and the mempool starts empty.
  const path = join(tc.dir, 'mempool.dat');
  await writeFile(path, flipped);
  const load = await loadMempool(path, new Mempool(tc.chain), tc.chain.genesisHash, devnet.maxTxBytes);
  assert.equal(load.loaded, 0);
  assert.equal(load.refused?.code, 'BAD_MEMPOOL_FILE');
  assert.match(load.refused?.message ?? '', /mempool\.dat fails its checksum/);
  assert.ok((await readFile(path)).length > 0);
});
