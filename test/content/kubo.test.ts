import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { cidFromString, cidOf } from '../../src/content/cid.ts';
import { ContentError } from '../../src/content/errors.ts';
import { openContentStore } from '../../src/content/index.ts';
import { type KuboContentStore, openKuboStore } from '../../src/content/kubo.ts';
import { MAX_BLOCK_BYTES } from '../../src/content/store.ts';
import { FakeKubo } from './fake-kubo.ts';

const code = (err: unknown) => (err instanceof ContentError ? err.code : undefined);
/** Some distinct bytes per n: the store knows bytes and CIDs, not what they hold. */
const blob = (n: number) => new TextEncoder().encode(JSON.stringify([n, [n, 'x']]));

// A real Kubo daemon cannot run in this environment, so the adapter is
// tested against FakeKubo, a stand-in speaking the same RPC endpoints.
describe('Kubo content store (against a fake Kubo RPC server)', () => {
  const fake = new FakeKubo();
  let url: string;
  let store: KuboContentStore;

  before(async () => {
    url = await fake.start();
    store = await openKuboStore({ url, timeoutMs: 2_000 });
  });
  after(async () => {
    await store.close();
    await fake.stop();
  });
  beforeEach(() => {
    fake.calls.length = 0;
  });

  it('stores raw blocks under the CID computed locally', async () => {
    const bytes = blob(1);
    const cid = await store.put(bytes);
    assert.equal(cid.toString(), cidOf(bytes).toString());
    assert.deepEqual(fake.blocks.get(cid.toString()), bytes);
    const put = new URLSearchParams(fake.calls[0]!.split('?')[1]);
    assert.equal(put.get('cid-codec'), 'raw');
    assert.equal(put.get('mhtype'), 'sha2-256');
    assert.equal(fake.pins.has(cid.toString()), false);
  });

  it('gets what the daemon holds and checks it against the CID', async () => {
    const bytes = blob(2);
    const cid = cidFromString(fake.add(bytes));
    assert.equal(await store.has(cid), true);
    assert.deepEqual(await store.get(cid), bytes);
  });

  it('refuses bytes from the daemon that do not match the CID', async () => {
    const bytes = blob(3);
    const cid = fake.add(bytes);
    const other = bytes.slice();
    other[5] ^= 1;
    fake.tampered.set(cid, other);
    await assert.rejects(store.get(cidFromString(cid)), (err) => code(err) === 'CID_MISMATCH');
  });

  it('refuses oversized blocks before downloading them', async () => {
    const bytes = new Uint8Array(3000).fill(9);
    const cid = cidFromString(fake.add(bytes));
    await assert.rejects(store.get(cid, { maxBytes: 2999 }), (err) => code(err) === 'TOO_LARGE');
    assert.ok(!fake.calls.some((c) => c.startsWith('/api/v0/block/get')), 'no block/get after a too-large stat');
    // A daemon that understates the size is caught on the bytes themselves.
    fake.statSize.set(cid.toString(), 10);
    await assert.rejects(store.get(cid, { maxBytes: 100 }), (err) => code(err) === 'TOO_LARGE');
    await assert.rejects(store.put(new Uint8Array(MAX_BLOCK_BYTES + 1)), (err) => code(err) === 'TOO_LARGE');
  });

  it('reports absent content: NOT_FOUND offline, TIMEOUT when the daemon keeps searching', async () => {
    const absent = cidOf(new TextEncoder().encode('not in the daemon'));
    assert.equal(await store.has(absent), false);
    await assert.rejects(store.get(absent, { offline: true }), (err) => code(err) === 'NOT_FOUND');
    await assert.rejects(store.get(absent, { timeoutMs: 200 }), (err) => code(err) === 'TIMEOUT');
    await assert.rejects(store.pin(absent, { timeoutMs: 200 }), (err) => code(err) === 'TIMEOUT');
  });

  it('pins, and reports pins', async () => {
    const a = await store.put(blob(4), { pin: true });
    assert.equal(await store.isPinned(a), true);
    const b = await store.put(blob(5));
    assert.equal(await store.isPinned(b), false);
    await store.pin(b);
    await store.pin(b);
    assert.equal(await store.isPinned(b), true);
  });

  it('refuses a daemon that names the block with another CID', async () => {
    fake.legacyCids = true;
    try {
      await assert.rejects(store.put(blob(6)), (err) => code(err) === 'CID_MISMATCH');
    } finally {
      fake.legacyCids = false;
    }
  });

  it('is chosen by --ipfs-api, and fails at open when no daemon answers', async () => {
    const chosen = await openContentStore({ datadir: '/nonexistent', ipfsApi: url });
    assert.equal(chosen.kind, 'kubo');
    await chosen.close();
    await assert.rejects(chosen.has(cidOf(new Uint8Array())), (err) => code(err) === 'CLOSED');

    const idle = new FakeKubo();
    const gone = await idle.start();
    await idle.stop();
    await assert.rejects(openKuboStore({ url: gone }), (err) => code(err) === 'UNAVAILABLE');
    await assert.rejects(openKuboStore({ url: 'not a url' }), (err) => code(err) === 'UNAVAILABLE');
    await assert.rejects(openKuboStore({ url: 'ftp://127.0.0.1:5001' }), (err) => code(err) === 'UNAVAILABLE');
  });
});
