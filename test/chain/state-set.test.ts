import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toHex } from '../../src/chain/encoding.ts';
import { PAGE_ITEMS } from '../../src/chain/state-list.ts';
import { setAdd, setHas, setItems, setRemove, setSize } from '../../src/chain/state-set.ts';
import { memoryState } from '../support/memory-state.ts';

const KEY = new Uint8Array([0x7e, 2]);
const item = (i: number) => {
  const b = new Uint8Array(32);
  new DataView(b.buffer).setUint32(0, i);
  return b;
};
const members = (state: Parameters<typeof setItems>[0]) => setItems(state, KEY, 32, 'test set').map(toHex).sort();

test('a state set adds each member once, removes any member, and leaves no key behind once empty', () => {
  const { state, map } = memoryState();
  const n = 2 * PAGE_ITEMS + 7;
  for (let i = 0; i < n; i++) assert.equal(setAdd(state, KEY, item(i), 32), true);
  assert.equal(setAdd(state, KEY, item(5), 32), false, 'a member is added once');
  assert.equal(setSize(state, KEY), n);
  // Remove from the front, the middle, a page's end and the very last: the last member takes each place.
  const gone = [0, PAGE_ITEMS - 1, PAGE_ITEMS + 3, n - 1];
  for (const i of gone) assert.equal(setRemove(state, KEY, item(i), 32), true);
  assert.equal(setRemove(state, KEY, item(0), 32), false, 'removing a non-member changes nothing');
  assert.equal(setHas(state, KEY, item(0)), false);
  assert.equal(setHas(state, KEY, item(1)), true);
  const want = Array.from({ length: n }, (_, i) => i)
    .filter((i) => !gone.includes(i))
    .map((i) => toHex(item(i)))
    .sort();
  assert.deepEqual(members(state), want);
  for (let i = 0; i < n; i++) setRemove(state, KEY, item(i), 32);
  assert.equal(map.size, 0, 'no length, page or place record is left');
  assert.deepEqual(members(state), []);
  assert.throws(() => setAdd(state, KEY, new Uint8Array(4), 4), RangeError);
});

test('adding to or removing from a large state set writes a page, not the set', () => {
  const { state, written } = memoryState();
  const n = 20_000;
  for (let i = 0; i < n; i++) setAdd(state, KEY, item(i), 32);
  const before = written();
  setRemove(state, KEY, item(7), 32);
  setAdd(state, KEY, item(n), 32);
  const page = PAGE_ITEMS * 32;
  // As one record, each change rewrote 640 KB.
  assert.ok(written() - before < 3 * page, `${written() - before} bytes written`);
  assert.equal(setSize(state, KEY), n);
});
