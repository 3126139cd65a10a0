import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { lpStream } from '@libp2p/utils';
import { Block } from '../../src/chain/block.ts';
import { checkHeader } from '../../src/chain/checks.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { Transaction } from '../../src/chain/transaction.ts';
import { buildTemplate } from '../../src/miner/template.ts';
import { createHost, type ZiLibp2p } from '../../src/p2p/host.ts';
import { encodeRequest, encodeStatus } from '../../src/p2p/messages.ts';
import { localStatus } from '../../src/p2p/status.ts';
import { wireNames } from '../../src/p2p/topics.ts';
import { devnet, keypair, ManualClock, mine, mineMany, solve, transfer } from '../support/chain.ts';
import { openTestChain, startTestNode, type TestNode, until } from './net.ts';

const names = wireNames('devnet');

/** A peer that speaks Zi's protocols directly, with none of a node's manners. */
async function hostile(t: { after(fn: () => Promise<void>): void }, target: TestNode): Promise<ZiLibp2p> {
  const host = await createHost({
    params: devnet,
    names,
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    maxConnections: 8,
    inboundPerSecond: 100,
    isBanned: () => false,
  });
  t.after(async () => {
    await host.stop();
  });
  // It answers the status exchange like a node on the same chain, so it is taken in as a peer.
  await host.handle(names.sync, async (stream) => {
    const lp = lpStream(stream);
    await lp.read();
    await lp.write(encodeStatus(localStatus(target.chain)));
    await stream.close();
  });
  await host.dial(target.net.host.getMultiaddrs()[0]!);
  // Requests before the status exchange are out of order (and scored): wait for it.
  const id = host.peerId.toString();
  await until('status exchanged', () => target.net.peers().some((p) => p.id === id && p.ready));
  return host;
}

async function gossip(host: ZiLibp2p, target: TestNode, topic: string, data: Uint8Array): Promise<void> {
  await until('the target is a subscriber', () =>
    host.services.pubsub.getSubscribers(topic).some((p) => p.equals(target.net.host.peerId)),
  );
  await host.services.pubsub.publish(topic, data);
}

async function sendRaw(host: ZiLibp2p, target: TestNode, bytes: Uint8Array): Promise<void> {
  const stream = await host.dialProtocol(target.net.host.peerId, names.sync);
  stream.send(bytes);
}

function isBannedAndGone(node: TestNode, host: ZiLibp2p): () => boolean {
  return () => node.net.isBanned(host.peerId.toString()) && node.net.host.getConnections(host.peerId).length === 0;
}

test('hostile peers are refused and banned while honest nodes keep syncing and mining', async (t) => {
  const clock = new ManualClock();
  const tc1 = await openTestChain(t, clock);
  const tc2 = await openTestChain(t, clock);
  const honest = await startTestNode(tc1);
  const miner = await startTestNode(tc2);
  await honest.net.connect(miner.net.addresses()[0]!);
  // Funded, so its badly signed transaction passes the cheap checks and reaches the signature check.
  const rich = keypair();
  await mineMany(tc2, 5, rich.address);
  await until('honest synced', () => tc1.chain.height === 5);

  // The honest miner keeps mining and announcing throughout.
  let mining = true;
  let paused = false;
  let idle = false;
  const loop = (async () => {
    while (mining) {
      idle = paused;
      if (paused) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const b = await mine(tc2);
      miner.net.publishBlock(b);
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  t.after(async () => {
    mining = false;
    await loop;
  });

  const goodTx = transfer(rich, keypair().address, 5n, 0n, tc1.chain.genesisHash);
  const badSig = Transaction.create({ ...goodTx, signature: new Uint8Array(randomBytes(64)) });
  const onTip = (txs: Transaction[] = []) =>
    solve(buildTemplate(tc1.chain, undefined, rich.address, tc1.chain.earliestNext(), txs));

  await t.test('malformed frame on the sync protocol', async () => {
    const h = await hostile(t, honest);
    await sendRaw(h, honest, Uint8Array.from([3, 0xde, 0xad, 0xbe]));
    await until('banned', isBannedAndGone(honest, h));
  });

  await t.test('oversized frame: a 50 MB length prefix is refused before any allocation', async () => {
    const h = await hostile(t, honest);
    await sendRaw(h, honest, Uint8Array.from([0x80, 0x80, 0x80, 0x19, 1, 2, 3]));
    await until('banned', isBannedAndGone(honest, h));
    // And it cannot come back while banned.
    await assert.rejects(
      h.dial(honest.net.host.getMultiaddrs()[0]!).then(async (c) => {
        await until('closed by the gater', () => c.status !== 'open', 2000);
        throw new Error('closed');
      }),
    );
  });

  await t.test('a transaction message larger than a transaction may be', async () => {
    const h = await hostile(t, honest);
    await gossip(h, honest, names.txs, new Uint8Array(devnet.maxTxBytes + 100).fill(1));
    await until('banned', isBannedAndGone(honest, h));
  });

  await t.test('a block without its proof of work', async () => {
    const h = await hostile(t, honest);
    const good = onTip();
    let header = good.header;
    for (let n = 1n; ; n++) {
      header = good.header.withNonce(good.header.nonce + n);
      try {
        checkHeader(header, devnet);
      } catch {
        break;
      }
    }
    const bad = Block.create(header, good.txs);
    await gossip(h, honest, names.blocks, bad.toBytes());
    await until('banned', isBannedAndGone(honest, h));
    assert.equal(tc1.chain.entry(bad.hash()), undefined);
  });

  await t.test('a transaction with an invalid signature', async () => {
    const h = await hostile(t, honest);
    await gossip(h, honest, names.txs, badSig.toBytes());
    await until('banned', isBannedAndGone(honest, h));
    assert.equal(honest.mempool.has(badSig.hash()), false);
  });

  await t.test('a block carrying a transaction with an invalid signature', async () => {
    const h = await hostile(t, honest);
    // On the tip, so it would move the tip and is checked in full (a lower-work block is not even looked at).
    paused = true;
    await until('honest caught up', () => idle && toHex(tc1.chain.tip.hash) === toHex(tc2.chain.tip.hash));
    const bad = onTip([badSig]);
    await gossip(h, honest, names.blocks, bad.toBytes());
    await until('banned', isBannedAndGone(honest, h));
    paused = false;
    assert.equal(tc1.chain.entry(bad.hash())?.status ?? 0, 0);
  });

  await t.test('a block from the far future is held, not banned for, and taken once its time comes', async () => {
    const h = await hostile(t, honest);
    // Still on the tip when its time comes, so it moves the tip.
    paused = true;
    await until('honest caught up', () => idle && toHex(tc1.chain.tip.hash) === toHex(tc2.chain.tip.hash));
    const ts = clock.now + devnet.futureLimitMs + 30_000;
    const early = solve(buildTemplate(tc1.chain, undefined, rich.address, ts));
    await gossip(h, honest, names.blocks, early.toBytes());
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(tc1.chain.entry(early.hash()), undefined);
    assert.equal(honest.net.isBanned(h.peerId.toString()), false);
    // One point: held blocks only add up to a ban in a flood.
    assert.equal(Math.round(honest.net.book.score(h.peerId.toString())), 1);
    clock.now += 60_000;
    await until('the held block is stored', () => tc1.chain.entry(early.hash()) !== undefined, 5000);
    paused = false;
    assert.equal(honest.net.host.getConnections(h.peerId).length > 0, true);
  });

  await t.test('a peer of another genesis', async () => {
    const h = await hostile(t, honest);
    const stream = await h.dialProtocol(honest.net.host.peerId, names.sync);
    const lp = lpStream(stream);
    await lp.write(
      encodeRequest({ type: 'status', status: { ...localStatus(tc1.chain), genesis: new Uint8Array(32).fill(7) } }),
    );
    await until('banned', isBannedAndGone(honest, h));
    assert.equal(honest.net.bans().find((b) => b.peer === h.peerId.toString())?.reason, 'WRONG_GENESIS');
  });

  await t.test('a flood of requests', async () => {
    const h = await hostile(t, honest);
    const req = encodeRequest({ type: 'getHeaders', locator: [tc1.chain.genesisHash], max: 2000 });
    const flood = async () => {
      for (let i = 0; i < 400 && !honest.net.isBanned(h.peerId.toString()); i++) {
        try {
          const stream = await h.dialProtocol(honest.net.host.peerId, names.sync);
          const lp = lpStream(stream, { maxDataLength: 1 << 20 });
          await lp.write(req);
          await lp.read();
          await stream.close();
        } catch {
          // Refused streams are the point.
        }
      }
    };
    await Promise.all([flood(), flood(), flood(), flood()]);
    await until('banned', isBannedAndGone(honest, h));
    assert.equal(honest.net.bans().find((b) => b.peer === h.peerId.toString())?.reason, 'RATE_LIMITED');
  });

  // Through all of it the honest pair kept going.
  const before = tc1.chain.height;
  await until('more honest blocks', () => tc2.chain.height >= before + 5, 20_000);
  mining = false;
  await loop;
  await until('honest nodes agree', () => toHex(tc1.chain.tip.hash) === toHex(tc2.chain.tip.hash), 20_000);
  assert.equal(honest.net.isBanned(miner.net.peerId), false);
  assert.equal(miner.net.isBanned(honest.net.peerId), false);
  assert.ok(honest.net.bans().length >= 7);
});
