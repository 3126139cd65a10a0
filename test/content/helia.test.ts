import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { Libp2p } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { LevelBlockstore } from 'blockstore-level';
import { createLibp2p } from 'libp2p';
import { CID } from 'multiformats/cid';
import { cidOf } from '../../src/content/cid.ts';
import { ContentError } from '../../src/content/errors.ts';
import { type HeliaContentStore, ipfsDir, openHeliaStore } from '../../src/content/helia.ts';
import { openContentStore } from '../../src/content/index.ts';
import { MAX_BLOCK_BYTES } from '../../src/content/store.ts';

/** A minimal libp2p 3 host like the node's: TCP on loopback, Noise, Yamux, Identify. */
async function host(): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  });
}

/** Some distinct bytes per seed: the store knows bytes and CIDs, not what they hold. */
function blob(seed: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(Array.from({ length: 16 }, (_, i) => ({ i, v: seed * 1000 + i }))));
}

function code(err: unknown): string | undefined {
  return err instanceof ContentError ? err.code : undefined;
}

describe('Helia content store on the node host', () => {
  const dirs: string[] = [];
  const hosts: Libp2p[] = [];
  const stores: HeliaContentStore[] = [];

  async function node(): Promise<{ host: Libp2p; store: HeliaContentStore; dir: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'zi-content-'));
    dirs.push(dir);
    const h = await host();
    hosts.push(h);
    const store = await openHeliaStore({ datadir: dir, libp2p: h, timeoutMs: 5_000 });
    stores.push(store);
    return { host: h, store, dir };
  }

  let a: Awaited<ReturnType<typeof node>>;
  let b: Awaited<ReturnType<typeof node>>;
  let c: Awaited<ReturnType<typeof node>>;

  before(async () => {
    [a, b, c] = await Promise.all([node(), node(), node()]);
    // A - B - C: C has no connection to A, so what C gets comes through B.
    await a.host.dial(b.host.getMultiaddrs()[0]!);
    await c.host.dial(b.host.getMultiaddrs()[0]!);
  });

  after(async () => {
    for (const s of stores) await s.close();
    for (const h of hosts) await h.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('assigns the CID computed locally, without an IPFS node', async () => {
    const bytes = blob(1);
    const cid = await a.store.put(bytes);
    assert.equal(cid.toString(), cidOf(bytes).toString());
    assert.match(cid.toString(), /^bafkrei[a-z2-7]{52}$/);
    assert.equal(await a.store.has(cid), true);
    assert.deepEqual(await a.store.get(cid), bytes);
  });

  it('fetches over bitswap: put on A, get on B, then on C which only knows B', async () => {
    const bytes = blob(2);
    const cid = await a.store.put(bytes);
    assert.equal(await b.store.has(cid), false);
    assert.deepEqual(await b.store.get(cid), bytes);
    // B keeps what it fetched and serves it on.
    assert.equal(await b.store.has(cid), true);
    assert.deepEqual(await c.store.get(cid), bytes);
  });

  it('dials a named provider it is not connected to', async () => {
    const bytes = blob(3);
    const cid = await a.store.put(bytes);
    const d = await node();
    assert.deepEqual(await d.store.get(cid, { providers: [a.host.getMultiaddrs()[0]!] }), bytes);
  });

  it('times out with a typed error when no peer has the content', async () => {
    const absent = cidOf(new TextEncoder().encode('nobody stored this'));
    // The call's own deadline, not the store's 5 s default, ends the wait.
    await assert.rejects(
      b.store.get(absent, { timeoutMs: 300 }),
      (err) => code(err) === 'TIMEOUT' && (err as ContentError).meta.timeoutMs === 300,
    );
    await assert.rejects(b.store.get(absent, { offline: true }), (err) => code(err) === 'NOT_FOUND');
    await assert.rejects(b.store.pin(absent, { timeoutMs: 300 }), (err) => code(err) === 'TIMEOUT');
    const ac = new AbortController();
    const pending = b.store.get(absent, { signal: ac.signal });
    ac.abort();
    await assert.rejects(pending, (err) => code(err) === 'ABORTED');
  });

  it('refuses content over the caller limit and over the block limit', async () => {
    const bytes = new Uint8Array(5000).fill(7);
    const cid = await a.store.put(bytes);
    await assert.rejects(b.store.get(cid, { maxBytes: 4999 }), (err) => code(err) === 'TOO_LARGE');
    assert.deepEqual(await b.store.get(cid, { maxBytes: 5000 }), bytes);
    await assert.rejects(a.store.put(new Uint8Array(MAX_BLOCK_BYTES + 1)), (err) => code(err) === 'TOO_LARGE');
  });

  it('refuses CIDs of another form', async () => {
    const dagPb = CID.createV1(0x70, cidOf(new Uint8Array([1])).multihash);
    await assert.rejects(a.store.get(dagPb), (err) => code(err) === 'BAD_CID');
    await assert.rejects(a.store.pin(dagPb), (err) => code(err) === 'BAD_CID');
  });

  it('pins, idempotently, and pins what it first has to fetch', async () => {
    const bytes = blob(4);
    const cid = await a.store.put(bytes);
    assert.equal(await b.store.isPinned(cid), false);
    await b.store.pin(cid);
    await b.store.pin(cid);
    assert.equal(await b.store.isPinned(cid), true);
    assert.equal(await b.store.has(cid), true);
  });

  it('keeps blocks and pins across a restart from the same data dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zi-content-'));
    dirs.push(dir);
    const h = await host();
    hosts.push(h);
    const bytes = blob(5);
    const first = await openHeliaStore({ datadir: dir, libp2p: h });
    const cid = await first.put(bytes, { pin: true });
    await first.close();
    await assert.rejects(first.has(cid), (err) => code(err) === 'CLOSED');

    const second = await openHeliaStore({ datadir: dir, libp2p: h });
    stores.push(second);
    assert.equal(await second.has(cid), true);
    assert.equal(await second.isPinned(cid), true);
    assert.deepEqual(await second.get(cid, { offline: true }), bytes);
  });

  it('refuses stored bytes that do not hash to their CID, and then fetches good ones from a peer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zi-content-'));
    dirs.push(dir);
    const h = await host();
    hosts.push(h);
    const bytes = blob(6);
    const cid = await a.store.put(bytes);

    // Corrupt the block on disk, as a bad sector or a tampering process would.
    const raw = new LevelBlockstore(ipfsDir(dir).blocks);
    await raw.open();
    const tampered = bytes.slice();
    tampered[10] ^= 1;
    await raw.put(cid, tampered);
    await raw.close();

    const store = await openHeliaStore({ datadir: dir, libp2p: h, timeoutMs: 5_000 });
    stores.push(store);
    await assert.rejects(store.get(cid), (err) => code(err) === 'CID_MISMATCH');
    // The bad copy was dropped; with a peer that has the block, the next get succeeds.
    assert.equal(await store.has(cid), false);
    await h.dial(a.host.getMultiaddrs()[0]!);
    assert.deepEqual(await store.get(cid), bytes);
  });

  it('gc keeps the pins it must keep and recent ones, and frees the rest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zi-content-'));
    dirs.push(dir);
    const h = await host();
    hosts.push(h);
    let now = 1_000_000;
    const store = await openHeliaStore({ datadir: dir, libp2p: h, clock: () => now });
    stores.push(store);
    const big = (seed: number) => new Uint8Array(200_000).fill(seed);
    const paid = await store.put(big(1), { pin: true });
    const unpaid = await store.put(big(2), { pin: true });
    const cached = await store.put(big(3));
    now += 60_000;
    const fresh = await store.put(big(4), { pin: true });
    const before = await store.usage();
    assert.deepEqual([before.blocks, before.pins], [4, 3]);

    const keep = (cid: CID) => cid.equals(paid);
    // Pins made in the last minute stay: a batch is pinned a moment before it is paid.
    assert.deepEqual(await store.gc({ keep, unpinBefore: now - 30_000 }), {
      unpinned: 1,
      deleted: 2,
      freedBytes: 400_000,
      keptBytes: 400_000,
    });
    assert.equal(await store.isPinned(paid), true);
    assert.deepEqual(await store.get(paid, { offline: true }), big(1));
    assert.equal(await store.has(fresh), true);
    assert.equal(await store.has(unpaid), false);
    assert.equal(await store.has(cached), false);
    const after = await store.usage();
    assert.deepEqual([after.blocks, after.pins], [2, 2]);
  });

  it('leaves the host running when the store closes', async () => {
    const d = await node();
    await d.store.close();
    await d.store.close();
    assert.equal(d.host.status, 'started');
    assert.ok(!d.host.getProtocols().includes('/ipfs/bitswap/1.2.0'), 'bitswap is unregistered');
    assert.ok(a.host.getProtocols().includes('/ipfs/bitswap/1.2.0'));
  });

  it('openContentStore picks Helia given a host and refuses to run without one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zi-content-'));
    dirs.push(dir);
    const h = await host();
    hosts.push(h);
    const store = await openContentStore({ datadir: dir, libp2p: h });
    assert.equal(store.kind, 'helia');
    await store.close();
    await assert.rejects(openContentStore({ datadir: dir }), (err) => code(err) === 'UNAVAILABLE');
  });
});
