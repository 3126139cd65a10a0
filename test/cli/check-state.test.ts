import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Level } from 'level';
import { dbKey, PREFIX_STATE, STATE_ACCOUNT } from '../../src/chain/store/layout.ts';
import { keypair, mine, openChain, tempDir } from '../support/chain.ts';
import { runZi, startNode } from '../support/cli.ts';

test('zi node --check-state refuses a damaged state record with one line naming --reindex; a plain start does not read the whole state', async (t) => {
  const home = await tempDir(t, 'zi-check-state-');
  const datadir = join(home, 'devnet');
  const tc = await openChain(t, { dir: datadir });
  const alice = keypair();
  for (let i = 0; i < 3; i++) await mine(tc, { miner: alice.address });
  await tc.chain.close();
  // Through LevelDB, so the tables verify and only the record's own seal tells.
  const db = new Level<Uint8Array, Uint8Array>(join(datadir, 'chain'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const key = dbKey(PREFIX_STATE, new Uint8Array([STATE_ACCOUNT]), alice.address);
  const raw = (await db.get(key))!;
  raw[0]! ^= 0x80;
  await db.put(key, raw);
  await db.close();

  const args = ['node', '--datadir', datadir, '--rpc-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0'];
  const r = await runZi([...args, '--check-state'], { ZI_HOME: home });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^error \[DB_CORRUPT\]: chain database record 7301.* fails its checksum: .*zi node --reindex/);

  const node = await startNode(['--datadir', datadir], { ZI_HOME: home });
  assert.equal(node.logs.find((l) => l.msg === 'node started')?.height, 3);
  assert.equal(await node.stop(), 0);
});
