import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noteActivity } from '../../src/chain/active-count.ts';
import { DecodeError } from '../../src/chain/errors.ts';
import { listAppend, listDrop, listItems, listLast, listLength, PAGE_ITEMS } from '../../src/chain/state-list.ts';
import { devnet } from '../support/chain.ts';
import { memoryState } from '../support/memory-state.ts';

const item = (i: number) => new Uint8Array(20).fill(i % 251).map((b, j) => (j < 4 ? (i >>> (8 * j)) & 0xff : b));
const KEY = new Uint8Array([0x7e, 1]);

test('a state list keeps its items in append order across pages, and dropping it leaves no key behind', () => {
  const { state, map } = memoryState();
  const n = 3 * PAGE_ITEMS + 5;
  for (let i = 0; i < n; i++) listAppend(state, KEY, item(i), 20);
  assert.equal(listLength(state, KEY), n);
  assert.deepEqual(
    listItems(state, KEY, 20, 'test list'),
    Array.from({ length: n }, (_, i) => item(i)),
  );
  assert.equal(map.size, 1 + 4, 'the length and four pages');
  listDrop(state, KEY);
  assert.equal(map.size, 0);
  assert.deepEqual(listItems(state, KEY, 20, 'test list'), []);
  assert.throws(() => listAppend(state, KEY, new Uint8Array(19), 20), RangeError);
});

test('a state list whose page does not match its length is refused as damage, not read short', () => {
  const { state, map } = memoryState();
  for (let i = 0; i < PAGE_ITEMS + 3; i++) listAppend(state, KEY, item(i), 20);
  const [pageKey] = [...map.keys()].filter((k) => k.length === KEY.length + 4 && k.endsWith('\0\0\0\x01'));
  map.set(pageKey!, new Uint8Array(40));
  assert.throws(
    () => listItems(state, KEY, 20, 'test list'),
    (err: unknown) => {
      assert.ok(err instanceof DecodeError && err.code === 'BAD_VALUE', String(err));
      return true;
    },
  );
  assert.throws(() => listAppend(state, KEY, item(0), 20), DecodeError);
});

test('thousands of addresses whose activity ends in the same hour cost each a page, not the whole bucket (was quadratic)', () => {
  const { state, written } = memoryState();
  const params = { ...devnet, activeTxCount: 2 };
  const n = 4000;
  for (let i = 0; i < n; i++) {
    // Each address's second transaction: it becomes active until its first one plus the window.
    noteActivity(state, item(i), [1_000], [1_000, 2_000], params);
  }
  // One page rewrite (at most PAGE_ITEMS addresses) and a few small records per address. As one
  // record per bucket, the n appends wrote n²/2 addresses: 160 MB here.
  assert.ok(written() < n * (PAGE_ITEMS * 20 + 200), `${written()} bytes written`);
});

test('the last items of a state list come from its last pages, in append order', () => {
  const { state, reads } = memoryState();
  const n = 5 * PAGE_ITEMS + 3;
  for (let i = 0; i < n; i++) listAppend(state, KEY, item(i), 20);
  const at = reads();
  assert.deepEqual(
    listLast(state, KEY, 20, 10, 'test list'),
    Array.from({ length: 10 }, (_, i) => item(n - 10 + i)),
  );
  assert.ok(reads() - at <= 3, 'the length and two pages');
  assert.deepEqual(listLast(state, KEY, 20, n + 5, 'test list'), listItems(state, KEY, 20, 'test list'));
  assert.deepEqual(listLast(state, new Uint8Array([0x7e, 9]), 20, 10, 'test list'), []);
});
