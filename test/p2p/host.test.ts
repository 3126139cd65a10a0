import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { HostError, loadPeerKey, PEER_KEY_FILE } from '../../src/p2p/host.ts';
import { wireNames } from '../../src/p2p/topics.ts';
import { tempDir } from '../support/chain.ts';

test('the peer identity is made once, kept owner-only in the data dir, and the same after a restart', async (t) => {
  const dir = await tempDir(t);
  const first = peerIdFromPrivateKey(await loadPeerKey(dir)).toString();
  const again = peerIdFromPrivateKey(await loadPeerKey(dir)).toString();
  assert.equal(again, first);
  assert.equal((await stat(join(dir, PEER_KEY_FILE))).mode & 0o777, 0o600);
  await writeFile(join(dir, PEER_KEY_FILE), 'not a key');
  await assert.rejects(loadPeerKey(dir), (e: unknown) => e instanceof HostError && e.code === 'BAD_PEER_KEY');
});

test('every network has its own protocol and topic names', () => {
  const names = (['devnet', 'testnet', 'mainnet'] as const).map(wireNames);
  for (const key of ['sync', 'blocks', 'txs', 'mdnsTag'] as const) {
    assert.equal(new Set(names.map((n) => n[key])).size, 3, key);
  }
  assert.equal(names[2]!.sync, '/zi/mainnet/sync/1.0.0');
});
