import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toHex } from '../../src/chain/encoding.ts';
import { mineMany } from '../support/chain.ts';
import { openTestChain, startTestNode, until } from './net.ts';

test('a fresh node syncs a chain headers-first from a peer', async (t) => {
  const a = await openTestChain(t);
  await mineMany(a, 300);
  const b = await openTestChain(t);
  b.clock.now = a.clock.now;
  const na = await startTestNode(a);
  const nb = await startTestNode(b);
  await nb.net.connect(na.net.addresses()[0]!);
  await until('b synced', () => b.chain.height === 300, 30_000);
  assert.equal(toHex(b.chain.tip.hash), toHex(a.chain.tip.hash));
});
