import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../support/chain.ts';
import { openTestChain, startTestNode, until } from './net.ts';

test('a --peer is kept connected: dropped, it is dialled again', async (t) => {
  const clock = new ManualClock();
  const a = await startTestNode(await openTestChain(t, clock));
  const b = await startTestNode(await openTestChain(t, clock), { peers: [a.net.addresses()[0]!] });
  await until('connected', () => b.net.peers().some((p) => p.id === a.net.peerId && p.ready));
  const left = new Promise((r) => b.net.once('peer:left', r));
  await a.net.disconnect(b.net.peerId);
  await left;
  await until('redialled', () => b.net.peers().some((p) => p.id === a.net.peerId && p.ready), 10_000);
  assert.equal(b.net.peerCount, 1);
  assert.equal(a.net.peers()[0]?.direction, 'inbound');
});
