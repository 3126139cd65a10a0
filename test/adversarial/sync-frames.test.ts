import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lpStream } from '@libp2p/utils';
import { encodeHeaders, encodeRequest, encodeStatus, REQUEST } from '../../src/p2p/messages.ts';
import { localStatus } from '../../src/p2p/status.ts';
import { openTestChain, startTestNode, until } from '../p2p/net.ts';
import { ManualClock, mineMany } from '../support/chain.ts';
import { bannedAndGone, blockOn, names, rawPeer, sleep, tipOf } from './support.ts';

/**
 * Every kind of bad frame on the sync protocol, in both directions, goes
 * through judge(): decoding, length and order. Each row is one peer.
 */
test('the sync protocol judges malformed, oversized and out-of-order frames both ways', async (t) => {
  const clock = new ManualClock();
  const tc = await openTestChain(t, clock);
  const main = await mineMany(tc, 3);
  const target = await startTestNode(tc);
  const reason = (peer: string) => target.net.bans().find((b) => b.peer === peer)?.reason;

  // --- frames the target receives as a server ---
  const send = async (bytes: Uint8Array, h: Awaited<ReturnType<typeof rawPeer>>) => {
    const stream = await h.dialProtocol(target.net.host.peerId, names.sync);
    stream.send(bytes);
  };

  await t.test('request that does not decode', async () => {
    const h = await rawPeer(t, target);
    await until('ready', () => target.net.peerCount >= 1);
    await send(Uint8Array.from([3, 0xde, 0xad, 0xbe]), h);
    await until('banned', bannedAndGone(target, h));
    assert.match(reason(h.peerId.toString()) ?? '', /^DECODE_/);
  });

  await t.test('request over the 1 MiB frame limit (length prefix only)', async () => {
    const h = await rawPeer(t, target);
    await send(Uint8Array.from([0x81, 0x80, 0x40]), h); // varint 1 MiB + 1
    await until('banned', bannedAndGone(target, h));
    assert.equal(reason(h.peerId.toString()), 'OVERSIZED');
  });

  await t.test('requests before the status exchange (out of order): 20 points each', async () => {
    // It never answers our status request, so its status stays unknown.
    const h = await rawPeer(t, target, () => new Promise<Uint8Array>(() => undefined));
    const req = encodeRequest({ type: 'getHeaders', locator: [tc.chain.genesisHash], max: 10 });
    for (let i = 0; i < 4; i++) {
      const stream = await h.dialProtocol(target.net.host.peerId, names.sync);
      await lpStream(stream).write(req);
      await until(`penalty ${i + 1}`, () => Math.round(target.net.book.score(h.peerId.toString())) >= 20 * (i + 1));
    }
    assert.equal(target.net.isBanned(h.peerId.toString()), false);
    const stream = await h.dialProtocol(target.net.host.peerId, names.sync);
    await lpStream(stream).write(req);
    await until('banned', bannedAndGone(target, h));
    assert.equal(reason(h.peerId.toString()), 'OUT_OF_ORDER');
  });

  // --- frames the target receives as a client ---
  const ahead = { ...localStatus(tc.chain), chainwork: tc.chain.tip.chainwork * 100n, height: 99 };

  await t.test('status answer that does not decode', async () => {
    const h = await rawPeer(t, target, () => Uint8Array.from([9, 9, 9]));
    await until('banned', bannedAndGone(target, h));
    assert.match(reason(h.peerId.toString()) ?? '', /^DECODE_/);
  });

  await t.test('status answer over its 256-byte limit', async () => {
    const h = await rawPeer(t, target, () => new Uint8Array(1000));
    await until('banned', bannedAndGone(target, h));
    assert.equal(reason(h.peerId.toString()), 'OVERSIZED');
  });

  await t.test('headers answer out of order (not a chain)', async () => {
    const a = blockOn(tipOf(main[2]!));
    const b = blockOn(tipOf(a));
    const h = await rawPeer(t, target, (req) =>
      req[0] === REQUEST.getHeaders ? encodeHeaders([b.header, a.header]) : encodeStatus(ahead),
    );
    await until('banned', bannedAndGone(target, h));
    assert.equal(reason(h.peerId.toString()), 'BAD_RESPONSE');
  });

  await sleep(100);
  assert.equal(tc.chain.height, 3, 'nothing of theirs was stored');
});
