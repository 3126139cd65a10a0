import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Level } from 'level';
import { getAccount } from '../../src/chain/accounts.ts';
import { Chain } from '../../src/chain/chain.ts';
import { fromHex, toHex } from '../../src/chain/encoding.ts';
import { reindex } from '../../src/chain/reindex.ts';
import {
  DB_TIP,
  DB_VERSION,
  PREFIX_BLOCK,
  SCHEMA_VERSION,
  STATE_ACCOUNT,
  u32be,
} from '../../src/chain/store/layout.ts';
import { seal } from '../../src/chain/store/seal.ts';
import { dataBlocks } from '../../src/chain/store/tables.ts';
import { coreRules } from '../../src/chain/tx-rules.ts';
import {
  devnet,
  type Keypair,
  keypair,
  mine,
  nextBlock,
  openChain,
  type TestChain,
  tempDir,
  transfer,
} from '../support/chain.ts';
import { assertSupply } from '../support/supply.ts';

/** A short history with transfers and a side branch, closed, its tables flushed to .ldb files. */
async function history(t: Parameters<typeof openChain>[0]) {
  const tc = await openChain(t);
  const alice = keypair();
  const bob = keypair();
  for (let i = 0; i < 4; i++) await mine(tc, { miner: alice.address });
  // A side branch off height 3, one block long: it stays a side chain.
  const side = nextBlock({ ...tc, chain: tc.chain }, { miner: bob.address });
  for (let i = 0; i < 6; i++) {
    const txs =
      i % 2 === 0 ? [transfer(alice, bob.address, 1_000_000n + BigInt(i), BigInt(i / 2), tc.chain.genesisHash)] : [];
    await mine(tc, { miner: alice.address, txs });
  }
  await tc.chain.addBlock(side).catch(() => undefined);
  const snap = await snapshot(tc.chain, alice, bob);
  await tc.chain.close();
  await flush(join(tc.dir, 'chain'));
  return { tc, alice, bob, snap, path: join(tc.dir, 'chain') };
}

async function snapshot(chain: Chain, ...keys: Keypair[]) {
  return {
    tip: toHex(chain.tip.hash),
    height: chain.height,
    accounts: keys.map((k) => getAccount(chain.state, k.address)),
    history: (await chain.store.history(keys[1]!.address, 100)).map((h) => `${h.height}/${h.position}/${toHex(h.id)}`),
  };
}

/** Reopening makes LevelDB write its log out as a table, so there are .ldb files to damage. */
async function flush(path: string): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  await db.close();
}

function reopen(tc: TestChain) {
  return Chain.open({ path: join(tc.dir, 'chain'), params: devnet, rules: coreRules(), clock: tc.clock.fn });
}

test('deleting chain/CURRENT is refused with DB_MISSING naming it, the tables are kept, and --reindex brings the chain back', async (t) => {
  const { tc, snap, path, alice, bob } = await history(t);
  const before = (await readdir(path)).filter((f) => f.endsWith('.ldb'));
  assert.ok(before.length > 0);
  await unlink(join(path, 'CURRENT'));
  await assert.rejects(reopen(tc), (err: Error & { code?: string; meta?: { file?: string } }) => {
    assert.equal(err.code, 'DB_MISSING');
    assert.equal(err.meta?.file, join(path, 'CURRENT'));
    assert.match(err.message, /CURRENT is missing.*restore .* from a backup, or .*zi node --reindex/);
    return true;
  });
  // The old code opened an empty chain here and LevelDB deleted these as garbage.
  assert.deepEqual(
    (await readdir(path)).filter((f) => f.endsWith('.ldb')),
    before,
  );

  const report = await reindex({ path, params: devnet, rules: coreRules(), clock: tc.clock.fn });
  assert.equal(report.repaired, true);
  assert.equal(report.damaged, 0);
  assert.equal(report.stored, 11);
  assert.equal(report.height, 10);
  const chain = await reopen(tc);
  t.after(() => chain.close());
  assert.deepEqual(await snapshot(chain, alice, bob), snap);
});

test('each kind of damage to the chain database gets a typed error that names the file', async (t) => {
  const cases: [string, (path: string) => Promise<unknown>, string, RegExp][] = [
    ['garbage CURRENT', (p) => writeFile(join(p, 'CURRENT'), 'garbage'), 'DB_CORRUPT', /CURRENT$/],
    [
      'garbage MANIFEST',
      async (p) => writeFile(join(p, (await readdir(p)).find((f) => f.startsWith('MANIFEST'))!), 'garbage'),
      'DB_CORRUPT',
      /MANIFEST-\d+$/,
    ],
    [
      'missing MANIFEST',
      async (p) => unlink(join(p, (await readdir(p)).find((f) => f.startsWith('MANIFEST'))!)),
      'DB_MISSING',
      /MANIFEST-\d+$/,
    ],
    [
      'missing .ldb',
      async (p) => unlink(join(p, (await readdir(p)).find((f) => f.endsWith('.ldb'))!)),
      'DB_MISSING',
      /\d+\.ldb$/,
    ],
    [
      'chain is a plain file',
      async (p) => {
        await rm(p, { recursive: true });
        await writeFile(p, 'not a database');
      },
      'DB_NOT_DIRECTORY',
      /chain$/,
    ],
  ];
  for (const [name, damage, code, file] of cases) {
    const tc = await openChain(t);
    await mine(tc);
    await tc.chain.close();
    const path = join(tc.dir, 'chain');
    await flush(path);
    await damage(path);
    await assert.rejects(reopen(tc), (err: Error & { code?: string; meta?: { file?: string } }) => {
      assert.equal(err.code, code, `${name}: ${err.message}`);
      assert.match(err.meta?.file ?? '', file, name);
      assert.doesNotMatch(err.message, /Database failed to open/, name);
      assert.match(err.message, /restore|move the file away/, name);
      return true;
    });
  }
});

test('a flipped byte in a stored block is a checksum failure; --reindex drops that block and what builds on it', async (t) => {
  const { tc, path } = await history(t);
  // Damage block 7's record in place, without LevelDB knowing.
  const chain = await reopen(tc);
  const seventh = chain.entryAtHeight(7)!.hash;
  await chain.close();
  const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const key = new Uint8Array([PREFIX_BLOCK, ...seventh]);
  const raw = (await db.get(key))!;
  raw[raw.length - 10]! ^= 0x40;
  await db.put(key, raw);
  await db.close();

  // One of the newest six blocks: the start-up check reads it back and finds the damage.
  await assert.rejects(reopen(tc), { code: 'DB_CORRUPT', message: /fails its checksum.*--reindex/ });

  const report = await reindex({ path, params: devnet, rules: coreRules(), clock: tc.clock.fn });
  assert.equal(report.damaged, 1);
  assert.equal(report.unreachable, 3);
  assert.equal(report.height, 6);
  const rebuilt = await reopen(tc);
  t.after(() => rebuilt.close());
  assert.equal(rebuilt.height, 6);
  assert.equal(await rebuilt.getBlock(seventh), undefined);
});

test("a table block that fails LevelDB's own checksum is DB_CORRUPT naming the .ldb before LevelDB reads it (it aborted the process); --reindex keeps every block of the others", async (t) => {
  const { tc, snap, path, alice, bob } = await history(t);
  // Rewritten without compression, so one byte changes a key length as it would in a block that compresses badly.
  const db = new Level<Uint8Array, Uint8Array>(path, {
    keyEncoding: 'view',
    valueEncoding: 'view',
    compression: false,
  });
  await db.open();
  // classic-level's compactRange, which the level package's types leave out.
  await (db as unknown as { compactRange(a: Uint8Array, b: Uint8Array): Promise<void> }).compactRange(
    new Uint8Array([0]),
    new Uint8Array([0xff]),
  );
  await db.close();
  const name = (await readdir(path)).filter((f) => f.endsWith('.ldb')).sort()[0]!;
  /**
   * Gives the first entry of a data block a key of 4 bytes, shorter than an
   * internal key's 8-byte trailer. LevelDB 1.20 asserts on such a key
   * (dbformat.h:99 ExtractUserKey) and aborts the process, which no JS can catch.
   */
  const shortKey = async (table: string, which: 'first' | 'last'): Promise<number> => {
    const bytes = await readFile(table);
    const block = which === 'first' ? dataBlocks(bytes)[0]! : dataBlocks(bytes).at(-1)!;
    assert.equal(block.compressed, false);
    const at = block.offset;
    // No shared prefix, a one-byte key length, then the value's length (a varint) and the key.
    assert.deepEqual([bytes[at], bytes[at + 1]! >= 8 && bytes[at + 1]! < 128], [0, true]);
    let key = at + 2;
    while (bytes[key]! >= 0x80) key++;
    bytes[at + 1] = 4;
    await writeFile(table, bytes);
    return bytes[key + 1]!;
  };
  const refused = (dir: string, at: number) =>
    new RegExp(`file ${join(dir, name)} is damaged \\(the data block at byte ${at} fails its checksum\\).*--reindex`);

  // In the first block, the start-up reads met it and LevelDB aborted.
  const copy = `${path}-copy`;
  await cp(path, copy, { recursive: true });
  await shortKey(join(copy, name), 'first');
  const open = (p: string) => Chain.open({ path: p, params: devnet, rules: coreRules(), clock: tc.clock.fn });
  await assert.rejects(open(copy), { code: 'DB_CORRUPT', message: refused(copy, 0) });

  // In the last block, past the stored blocks ('b…'): a reindex rebuilds all it held.
  const at = dataBlocks(await readFile(join(path, name))).at(-1)!.offset;
  assert.ok((await shortKey(join(path, name), 'last')) > PREFIX_BLOCK, 'not a stored block');
  await assert.rejects(open(path), { code: 'DB_CORRUPT', message: refused(path, at) });
  const report = await reindex({ path, params: devnet, rules: coreRules(), clock: tc.clock.fn });
  assert.equal(report.repaired, true);
  assert.equal(report.damaged + report.unreachable, 0);
  const chain = await reopen(tc);
  t.after(() => chain.close());
  assert.deepEqual(await snapshot(chain, alice, bob), snap);
  assert.ok((await readdir(join(path, 'lost'))).includes(name), 'the damaged table is kept aside');
});

test('an interrupted reindex is refused at the next start until it is run again', async (t) => {
  const { tc, snap, path, alice, bob } = await history(t);
  // The first half of a reindex, then the process dies.
  const { ChainDB } = await import('../../src/chain/store/chaindb.ts');
  const { genesisBlock } = await import('../../src/chain/genesis.ts');
  await ChainDB.prepareReindex(path, genesisBlock(devnet), devnet);
  await assert.rejects(reopen(tc), { code: 'DB_REINDEXING', message: /zi node --reindex/ });
  await reindex({ path, params: devnet, rules: coreRules(), clock: tc.clock.fn });
  const chain = await reopen(tc);
  t.after(() => chain.close());
  assert.deepEqual(await snapshot(chain, alice, bob), snap);
});

const OLD_SCHEMAS: Record<number, string> = {
  1: 'values without checksums, blocks without votes',
  2: 'blocks without votes',
  3: 'a state without the active count',
  4: "no block index snapshot, each contract's paid ranges in one record",
  5: "each contract's paid ranges in one record",
};
for (const schema of [1, 2, 3, 4, 5]) {
  test(`a schema-${schema} store (${OLD_SCHEMAS[schema]}) is refused with a hint, and --reindex upgrades it`, async (t) => {
    const tc = await openChain(t);
    const alice = keypair();
    for (let i = 0; i < 3; i++) await mine(tc, { miner: alice.address });
    const hashes = [1, 2, 3].map((h) => tc.chain.entryAtHeight(h)!.hash);
    const bodies = await Promise.all(hashes.map((h) => tc.chain.store.getBlockBytes(h)));
    await tc.chain.close();
    // What that zi left on disk for these blocks: bodies without the votes
    // count (the last two bytes of an empty section), raw in schema 1.
    const path = join(tc.dir, 'chain');
    const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    for (const [i, h] of schema < 3 ? hashes.entries() : []) {
      const key = new Uint8Array([PREFIX_BLOCK, ...h]);
      const old = bodies[i]!.subarray(0, -2);
      await db.put(key, schema === 1 ? old : seal(key, old));
    }
    const version = (await db.get(DB_VERSION))!;
    assert.equal(new DataView(version.buffer, version.byteOffset).getUint32(0), SCHEMA_VERSION);
    await db.put(DB_VERSION, new Uint8Array([...u32be(schema), ...version.subarray(4)]));
    await db.close();

    await assert.rejects(reopen(tc), { code: 'SCHEMA', message: /older zi.*zi node --reindex/ });
    const report = await reindex({ path, params: devnet, rules: coreRules(), clock: tc.clock.fn });
    assert.equal(report.height, 3);
    const chain = await reopen(tc);
    t.after(() => chain.close());
    assert.equal(getAccount(chain.state, alice.address).balance, 3n * devnet.subsidy);
    assert.deepEqual(await chain.store.getBlockBytes(hashes[2]!), bodies[2]);
    assert.ok(await readFile(join(path, 'CURRENT')));
  });
}

test('history without rewards: the limit counts a mining address’s transactions, not its block rewards', async (t) => {
  const { tc, alice } = await history(t);
  const chain = await reopen(tc);
  t.after(() => chain.close());
  const rows = (opts?: { rewards?: boolean }) =>
    chain.store.history(alice.address, 2, opts).then((r) => r.map((h) => `${h.height}/${h.position}`));
  // Alice mined every block of the main chain and sent at heights 5, 7 and 9.
  assert.deepEqual(await rows(), ['10/reward', '9/reward']);
  assert.deepEqual(await rows({ rewards: false }), ['9/0', '7/0']);
});

test('killed before its changes were written, the store reopens at an older tip and connects the stored blocks again: same tip, same state, same history', async (t) => {
  const dir = await tempDir(t, 'zi-replay-');
  const src = (f: string) => new URL(`../${f}`, import.meta.url).href;
  // The child mines with transfers and is killed at once: the flush due 250 ms later never happens.
  const script = `
    const { getAccount } = await import('${src('../src/chain/accounts.ts')}');
    const { toHex } = await import('${src('../src/chain/encoding.ts')}');
    const { openChain, keypair, mine, transfer } = await import('${src('support/chain.ts')}');
    const tc = await openChain({ after() {} }, { dir: ${JSON.stringify(dir)} });
    const alice = keypair();
    const bob = keypair();
    for (let i = 0; i < 3; i++) await mine(tc, { miner: alice.address });
    await tc.chain.store.flush();
    for (let i = 0; i < 4; i++) {
      await mine(tc, { miner: alice.address, txs: [transfer(alice, bob.address, 1000n + BigInt(i), BigInt(i), tc.chain.genesisHash)] });
    }
    const seen = (k) => { const a = getAccount(tc.chain.state, k.address); return { balance: String(a.balance), nonce: String(a.nonce) }; };
    const history = (await tc.chain.store.history(bob.address, 10)).map((h) => h.height + '/' + h.position);
    process.stdout.write(JSON.stringify({ tip: toHex(tc.chain.tip.hash), height: tc.chain.height, bob: toHex(bob.address), alice: toHex(alice.address), accounts: [seen(alice), seen(bob)], history }) + '\\n');
    process.kill(process.pid, 'SIGKILL');`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL', child.stderr);
  const before = JSON.parse(child.stdout);
  assert.equal(before.height, 7);
  assert.deepEqual(before.history, ['7/0', '6/0', '5/0', '4/0']);

  // On disk the tip is the flushed one, three blocks and more back: the four transfer blocks are only stored.
  const db = new Level<Uint8Array, Uint8Array>(join(dir, 'chain'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const onDisk = (await db.get(DB_TIP))!.subarray(0, 32);
  await db.close();
  assert.notEqual(toHex(onDisk), before.tip, 'the kill came before the flush');

  const chain = await Chain.open({ path: join(dir, 'chain'), params: devnet, rules: coreRules() });
  t.after(() => chain.close());
  assert.equal(toHex(chain.tip.hash), before.tip);
  const seen = (hex: string) => {
    const a = getAccount(chain.state, fromHex(hex));
    return { balance: String(a.balance), nonce: String(a.nonce) };
  };
  assert.deepEqual([seen(before.alice), seen(before.bob)], before.accounts);
  const history = (await chain.store.history(fromHex(before.bob), 10)).map((h) => `${h.height}/${h.position}`);
  assert.deepEqual(history, before.history);
  await assertSupply(chain);
});

test('before a flush, reads see the pending writes: a reorg deletes an account a scan then skips, and its history and transaction are gone', async (t) => {
  const tc = await openChain(t);
  const other = await openChain(t);
  const alice = keypair();
  const carol = keypair();
  const b1 = await mine(tc, { miner: alice.address });
  await other.chain.addBlock(b1);
  const pay = transfer(alice, carol.address, 5_000n, 0n, tc.chain.genesisHash);
  await mine(tc, { miner: alice.address, txs: [pay] });
  await tc.chain.store.flush();
  const accounts = async () => {
    const out: string[] = [];
    for await (const [key] of tc.chain.store.stateEntries(new Uint8Array([STATE_ACCOUNT])))
      out.push(toHex(key.subarray(1)));
    return out;
  };
  assert.ok((await accounts()).includes(toHex(carol.address)));
  // A longer branch without the payment: the reorg's undo deletes Carol's account, which is on disk.
  const miner = keypair();
  const branch = [await mine(other, { miner: miner.address }), await mine(other, { miner: miner.address })];
  tc.clock.now = other.clock.now;
  for (const b of branch) await tc.chain.addBlock(b);
  assert.equal(toHex(tc.chain.tip.hash), toHex(branch[1]!.hash()));
  for (const when of ['pending', 'flushed']) {
    assert.deepEqual((await accounts()).sort(), [toHex(alice.address), toHex(miner.address)].sort(), when);
    assert.deepEqual(await tc.chain.store.history(carol.address, 10), [], when);
    assert.equal(await tc.chain.store.txLocation(pay.hash()), undefined, when);
    assert.equal(toHex((await tc.chain.store.hashAtHeight(3))!), toHex(branch[1]!.hash()), when);
    await tc.chain.store.flush();
  }
});

test('a write the disk refuses stops the store with DB_WRITE saying what to do; a restart connects the blocks it missed', async (t) => {
  const tc = await openChain(t);
  const alice = keypair();
  await mine(tc, { miner: alice.address });
  await tc.chain.store.flush();
  // A fake, named as such: a full disk, as the level database would report it.
  const db = (tc.chain.store as unknown as { db: { batch: (...a: unknown[]) => Promise<void> } }).db;
  const batch = db.batch.bind(db);
  let full = true;
  db.batch = (...a: unknown[]) => (full ? Promise.reject(new Error('IO error: No space left on device')) : batch(...a));
  // Bodies are written at once, before the flush that fails.
  full = false;
  const kept = await mine(tc, { miner: alice.address });
  full = true;
  await assert.rejects(tc.chain.store.flush(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'DB_WRITE');
    assert.match(err.message, /cannot be written \(IO error: No space left on device\); stop the node, free space/);
    return true;
  });
  await assert.rejects(mine(tc, { miner: alice.address }), { code: 'DB_WRITE' });
  assert.equal(tc.chain.height, 2, 'reads still see what was connected');
  full = false;
  await assert.rejects(tc.chain.close(), { code: 'DB_WRITE' });
  const chain = await reopen(tc);
  t.after(() => chain.close());
  assert.equal(toHex(chain.tip.hash), toHex(kept.hash()));
  assert.equal(getAccount(chain.state, alice.address).balance, 2n * devnet.subsidy);
});
