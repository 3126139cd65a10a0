import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { Level } from 'level';
import { MAX_PENDING } from '../../../src/chain/store/chaindb.ts';
import { dbKey, PREFIX_STATE } from '../../../src/chain/store/layout.ts';
import { tempDir } from '../../support/chain.ts';

/**
 * A child stages one batch of `n` state writes (what a sync's blocks stage
 * back to back), is killed as soon as the commit returns, and the parent
 * counts how many of them reached the disk.
 */
async function killedAfterCommit(t: Parameters<typeof tempDir>[0], n: number): Promise<number> {
  const dir = await tempDir(t, 'zi-bound-');
  const src = (f: string) => new URL(`../../${f}`, import.meta.url).href;
  const script = `
    const { keyId } = await import('${src('../src/chain/encoding.ts')}');
    const { dbKey, PREFIX_STATE } = await import('${src('../src/chain/store/layout.ts')}');
    const { openChain } = await import('${src('support/chain.ts')}');
    const tc = await openChain({ after() {} }, { dir: ${JSON.stringify(dir)} });
    await tc.chain.store.flush();
    const ops = new Map();
    for (let i = 0; i < ${n}; i++) {
      const key = dbKey(PREFIX_STATE, new Uint8Array([0xee, i >>> 16, (i >>> 8) & 255, i & 255]));
      ops.set(keyId(key), { key, value: new Uint8Array([1]) });
    }
    await tc.chain.store.commit({ ops, changes: [], later: { prefixes: [], count: 0, expand: () => [] } });
    process.kill(process.pid, 'SIGKILL');`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL', child.stderr);
  const db = new Level<Uint8Array, Uint8Array>(join(dir, 'chain'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const gte = dbKey(PREFIX_STATE, new Uint8Array([0xee]));
  let stored = 0;
  for await (const _ of db.keys({ gte, lt: dbKey(PREFIX_STATE, new Uint8Array([0xef])) })) stored++;
  await db.close();
  return stored;
}

test('pending writes are bounded: past MAX_PENDING they are on disk before the next block goes on', async (t) => {
  // Below the bound a commit only stages (the flush comes 250 ms later, which the kill forestalls)...
  assert.equal(await killedAfterCommit(t, 1000), 0);
  // ...at the bound it waits for the write, so a sync's memory stays bounded.
  assert.equal(await killedAfterCommit(t, MAX_PENDING), MAX_PENDING);
});
