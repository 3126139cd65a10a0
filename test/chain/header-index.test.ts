import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { Level } from 'level';
import { getAccount } from '../../src/chain/accounts.ts';
import type { Block } from '../../src/chain/block.ts';
import { Chain } from '../../src/chain/chain.ts';
import { targetFromDifficulty } from '../../src/chain/difficulty.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { bigIntToBytes32 } from '../../src/chain/hash.ts';
import { BlockHeader, HEADER_VERSION, NONCE_OFFSET } from '../../src/chain/header.ts';
import { ROW_BYTES } from '../../src/chain/header-index.ts';
import { merkleRoot } from '../../src/chain/merkle.ts';
import { reindex } from '../../src/chain/reindex.ts';
import { STATUS_CONNECTED, STATUS_HAS_BODY, STATUS_INVALID } from '../../src/chain/store/chaindb.ts';
import {
  DB_HEADERS,
  DB_VERSION,
  dbKey,
  PREFIX_ENTRY,
  PREFIX_HEADERS,
  PREFIX_STATE,
  SCHEMA_VERSION,
  STATE_ACCOUNT,
  u32be,
} from '../../src/chain/store/layout.ts';
import { seal, unseal } from '../../src/chain/store/seal.ts';
import { coreRules } from '../../src/chain/tx-rules.ts';
import { devnet, keypair, mine, nextBlock, openChain, solve, type TestChain, transfer } from '../support/chain.ts';

const CHILD = join(import.meta.dirname, 'add-block-child.ts');

/**
 * Every kind of block the index holds: a side branch that was connected and
 * then abandoned (it led to a block that breaks a rule), that invalid block,
 * a block built on it, a side block never connected, and a main chain long
 * enough to fill two snapshot chunks (1,024 heights each).
 */
async function history(t: Parameters<typeof openChain>[0]) {
  const tc = await openChain(t);
  const [alice, bob] = [keypair(), keypair()];
  const g = tc.chain.genesisHash;
  const blocks: Block[] = [];
  for (let i = 0; i < 2; i++) blocks.push(await mine(tc, { miner: alice.address }));
  const other = await openChain(t);
  for (const b of blocks) {
    other.clock.now = Math.max(other.clock.now, b.header.timestamp);
    await other.chain.addBlock(b);
  }
  blocks.push(await mine(tc, { txs: [transfer(alice, bob.address, 5n, 0n, g)] }), await mine(tc));
  const side = [await mine(other), await mine(other)];
  const bad = nextBlock(other, { txs: [transfer(alice, bob.address, 100n * devnet.subsidy, 0n, g)] });
  for (const b of side) await add(tc, b);
  await assert.rejects(add(tc, bad), { code: 'INSUFFICIENT_FUNDS' });
  const onBad = blockOn(bad);
  await assert.rejects(add(tc, onBad), { code: 'INVALID_PARENT' });
  blocks.push(...side, bad, onBad);
  // The main chain goes on past the first chunk (heights 0–1023).
  for (let i = 0; i < 1_030; i++) {
    const b = nextBlock(tc, { miner: alice.address });
    await tc.chain.addBlock(b);
    blocks.push(b);
  }
  // Far behind the tip by now: stored (it was asked for), never connected.
  const neverConnected = await mine(other);
  assert.equal(await add(tc, neverConnected), 'side');
  blocks.push(neverConnected);
  const e = (b: Block) => tc.chain.entry(b.hash())!;
  assert.ok(e(bad).status & STATUS_INVALID && e(onBad).status & STATUS_INVALID);
  assert.equal(e(side[1]!).status, STATUS_HAS_BODY | STATUS_CONNECTED);
  assert.equal(e(neverConnected).status, STATUS_HAS_BODY);
  assert.ok(!tc.chain.isMain(e(side[0]!)));
  return { tc, alice, blocks, other, path: join(tc.dir, 'chain') };
}

async function add(tc: TestChain, b: Block) {
  tc.clock.now = Math.max(tc.clock.now, b.header.timestamp);
  return tc.chain.addBlock(b);
}

/** A solved block on `parent`, which may be one no chain would build on. */
function blockOn(parent: Block): Block {
  const header = BlockHeader.create({
    version: HEADER_VERSION,
    height: parent.header.height + 1,
    parent: parent.hash(),
    merkleRoot: merkleRoot([]),
    timestamp: parent.header.timestamp + devnet.Tsec * 1000,
    difficulty: parent.header.difficulty,
    miner: parent.header.miner,
    nonce: 0n,
  });
  const target = bigIntToBytes32(targetFromDifficulty(header.difficulty));
  const prefix = header.toBytes().slice(0, NONCE_OFFSET);
  return solve({ parent: parent.hash(), header, txs: [], votes: [], prefix, target, createdAt: 0 });
}

/** What the chain knows of `blocks` and its main chain, as comparable values. */
function knowledge(chain: Chain, blocks: readonly Block[]) {
  return {
    tip: toHex(chain.tip.hash),
    main: Array.from({ length: chain.height + 1 }, (_, h) => toHex(chain.entryAtHeight(h)!.hash)),
    known: blocks.map((b) => {
      const e = chain.entry(b.hash());
      if (e === undefined) return `${toHex(b.hash())} unknown`;
      const { height, status, openProblems, chainwork } = e;
      const h = e.header;
      return {
        height,
        status,
        openProblems,
        chainwork,
        main: chain.isMain(e),
        parent: toHex(h.parent),
        h: h.toBytes(),
      };
    }),
  };
}

function reopen(path: string, opts: { checkState?: boolean } = {}) {
  return Chain.open({ path, params: devnet, rules: coreRules(), checkState: opts.checkState });
}

/** A copy of the closed store at `from`, without the records `drop` picks, then `damage` done to it. */
async function copyStore(
  from: string,
  to: string,
  drop: (key: Uint8Array) => boolean = () => false,
  damage?: (db: Level<Uint8Array, Uint8Array>) => Promise<unknown>,
): Promise<void> {
  await withLevel(from, (src) =>
    withLevel(to, async (dst) => {
      let batch = dst.batch();
      for await (const [k, v] of src.iterator()) {
        if (drop(k)) continue;
        batch.put(k, v);
        if (batch.length >= 1000) {
          await batch.write();
          batch = dst.batch();
        }
      }
      await batch.write();
      await damage?.(dst);
    }),
  );
}

async function withLevel<T>(path: string, fn: (db: Level<Uint8Array, Uint8Array>) => Promise<T>): Promise<T> {
  const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const rangeOf = (prefix: number) => ({ gte: new Uint8Array([prefix]), lt: new Uint8Array([prefix + 1]) });

test('a restart knows every block as before, side branches and invalid blocks included: from the snapshot a clean close leaves, and from the entries when there is none', async (t) => {
  const { tc, blocks, path } = await history(t);
  const before = knowledge(tc.chain, blocks);
  await tc.chain.close();

  // The snapshot alone carries the whole index: with every entry record gone, a start still knows it all.
  const copy = `${path}-snapshot-only`;
  await copyStore(path, copy, (k) => k[0] === PREFIX_ENTRY);
  const fromSnapshot = await reopen(copy);
  assert.deepEqual(knowledge(fromSnapshot, blocks), before);
  await fromSnapshot.close();

  // As a crash leaves it (no snapshot record): the entries give the same index.
  await withLevel(path, (db) => db.del(DB_HEADERS));
  const fromEntries = await reopen(path);
  assert.deepEqual(knowledge(fromEntries, blocks), before);

  // A block added after a start from the snapshot: the next start has it, and the untouched chunk as it was.
  await fromEntries.close();
  const again = await reopen(path);
  const next = nextBlock({ chain: again, clock: tc.clock, dir: tc.dir });
  assert.equal(await again.addBlock(next), 'connected');
  const after = knowledge(again, [...blocks, next]);
  await again.close();
  const last = await reopen(path);
  t.after(() => last.close());
  assert.deepEqual(knowledge(last, [...blocks, next]), after);
  assert.equal(last.height, before.main.length);
});

test('a block stored by a node killed before it closed is known at the next start (the snapshot is not trusted after a crash)', async (t) => {
  const { tc, other, path } = await history(t);
  const height = tc.chain.height;
  await tc.chain.close();
  // A side block moves no tip: only the start-up rule tells a stale snapshot from a good one here.
  const late = await mine(other);
  const child = spawn(process.execPath, [CHILD, path, toHex(late.toBytes()), String(Date.now())], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const [, signal] = (await once(child, 'exit')) as [number | null, string | null];
  assert.equal(signal, 'SIGKILL');
  assert.equal(out.trim(), 'side');
  const chain = await reopen(path);
  t.after(() => chain.close());
  const e = chain.entry(late.hash());
  assert.ok(e, 'the block stored before the crash is known');
  assert.equal(e.status, STATUS_HAS_BODY);
  assert.equal(chain.height, height);
});

test('damage in the block index snapshot is DB_CORRUPT with the reindex hint, and --reindex rebuilds it', async (t) => {
  const { tc, blocks, path } = await history(t);
  const before = knowledge(tc.chain, blocks);
  await tc.chain.close();
  const chunk0 = new Uint8Array([PREFIX_HEADERS, ...u32be(0)]);
  const cases: [string, (db: Level<Uint8Array, Uint8Array>) => Promise<unknown>, RegExp][] = [
    [
      'a flipped byte in a chunk',
      async (db) => {
        const raw = (await db.get(chunk0))!;
        raw[100]! ^= 0x10;
        await db.put(chunk0, raw);
      },
      /record 6800000000… fails its checksum.*--reindex/,
    ],
    [
      'a chunk cut inside a row (sealed again)',
      async (db) => {
        const rows = unseal(chunk0, (await db.get(chunk0))!, path);
        await db.put(chunk0, seal(chunk0, rows.subarray(0, rows.length - 7)));
      },
      /header chunk 0 has \d+ bytes.*--reindex/,
    ],
    [
      'a row moved to the wrong chunk (sealed again)',
      async (db) => {
        const key1 = new Uint8Array([PREFIX_HEADERS, ...u32be(1)]);
        const rows0 = unseal(chunk0, (await db.get(chunk0))!, path);
        const rows1 = unseal(key1, (await db.get(key1))!, path);
        await db.put(key1, seal(key1, new Uint8Array([...rows1, ...rows0.subarray(0, ROW_BYTES)])));
      },
      /header chunk 1 holds a block of height 0.*--reindex/,
    ],
    [
      'a snapshot record that counts other entries (sealed again)',
      async (db) => {
        const raw = unseal(DB_HEADERS, (await db.get(DB_HEADERS))!, path);
        const value = new Uint8Array(raw);
        value[3]! ^= 1;
        await db.put(DB_HEADERS, seal(DB_HEADERS, value));
      },
      /snapshot holds \d+ entries, not \d+.*--reindex/,
    ],
  ];
  for (const [i, [name, damage, message]] of cases.entries()) {
    const copy = `${path}-${i}`;
    await copyStore(path, copy, undefined, damage);
    await assert.rejects(reopen(copy), { code: 'DB_CORRUPT', message }, name);
    const report = await reindex({ path: copy, params: devnet, rules: coreRules() });
    assert.equal(report.height, before.main.length - 1, name);
    const chain = await reopen(copy);
    assert.deepEqual(knowledge(chain, blocks).main, before.main, name);
    await chain.close();
  }
});

// Schema 6 changed the state (paid ranges as a trie), so a schema-4 store, which also lacks the snapshot, is no longer upgraded in place.
test('a schema-4 store (no snapshot, paid ranges in one record) is refused with the --reindex hint; the reindex gives the same chain', async (t) => {
  const { tc, blocks, path } = await history(t);
  const before = knowledge(tc.chain, blocks);
  await tc.chain.close();
  await withLevel(path, async (db) => {
    await db.clear(rangeOf(PREFIX_HEADERS));
    await db.del(DB_HEADERS);
    const version = (await db.get(DB_VERSION))!;
    await db.put(DB_VERSION, new Uint8Array([...u32be(4), ...version.subarray(4)]));
  });
  await assert.rejects(reopen(path), { code: 'SCHEMA', message: /older zi.*zi node --reindex/ });
  await reindex({ path, params: devnet, rules: coreRules() });
  const chain = await reopen(path);
  // A reindex connects the main chain again; side blocks it keeps unvalidated (as the damage test above).
  assert.deepEqual(knowledge(chain, blocks).main, before.main);
  await chain.close();
  const version = await withLevel(path, async (db) => (await db.get(DB_VERSION))!);
  assert.equal(new DataView(version.buffer, version.byteOffset).getUint32(0), SCHEMA_VERSION);
});

test('a damaged state record: a start does not read the whole state, reading the record is DB_CORRUPT, and --check-state refuses the start', async (t) => {
  const { tc, alice, path } = await history(t);
  const balance = getAccount(tc.chain.state, alice.address).balance;
  assert.ok(balance > 0n);
  await tc.chain.close();
  // Rewritten through LevelDB, so its tables verify and only the record's own seal tells.
  const key = dbKey(PREFIX_STATE, new Uint8Array([STATE_ACCOUNT]), alice.address);
  await withLevel(path, async (db) => {
    const raw = (await db.get(key))!;
    raw[3]! ^= 0x01;
    await db.put(key, raw);
  });
  const chain = await reopen(path);
  try {
    assert.throws(() => getAccount(chain.state, alice.address), {
      code: 'DB_CORRUPT',
      message: /fails its checksum.*--reindex/,
    });
  } finally {
    await chain.close();
  }
  await assert.rejects(reopen(path, { checkState: true }), {
    code: 'DB_CORRUPT',
    message: /fails its checksum.*--reindex/,
  });
});
