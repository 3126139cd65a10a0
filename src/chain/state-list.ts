import { concatBytes, decodeExact, splitFixed, Writer } from './encoding.ts';
import { DecodeError } from './errors.ts';
import type { StateReader, StateWriter } from './state.ts';
import { u32be } from './store/layout.ts';

/**
 * A list of fixed-size items in the state that grows by appending: `key`
 * holds its length (u32), `key ‖ u32 page` each page of PAGE_ITEMS items.
 * An append rewrites one page, never the list: as one record, every append
 * copied the whole list, and a block appending to one list thousands of
 * times (the addresses whose activity ends in the same hour, the fund's
 * voters) cost the square of its length. Items are listed in append order.
 */
export const PAGE_ITEMS = 128;

const pageKey = (key: Uint8Array, page: number) => concatBytes(key, u32be(page));

export function listLength(state: StateReader, key: Uint8Array): number {
  const raw = state.get(key);
  return raw === undefined ? 0 : decodeExact(raw, 4, 'a list length', (r) => r.u32());
}

export function listAppend(state: StateWriter, key: Uint8Array, item: Uint8Array, size: number): void {
  if (item.length !== size) throw new RangeError(`an item of ${item.length} bytes in a list of ${size}-byte items`);
  const n = listLength(state, key);
  const p = Math.floor(n / PAGE_ITEMS);
  const before = n % PAGE_ITEMS === 0 ? new Uint8Array() : page(state, key, n, p, size);
  state.put(pageKey(key, p), concatBytes(before, item));
  state.put(key, new Writer(4).u32(n + 1).finish());
}

/** Replaces item `i` (below the length). */
export function listSet(state: StateWriter, key: Uint8Array, i: number, item: Uint8Array, size: number): void {
  const n = listLength(state, key);
  if (item.length !== size || i >= n) throw new RangeError(`item ${i} of a list of ${n}`);
  const p = Math.floor(i / PAGE_ITEMS);
  const raw = page(state, key, n, p, size).slice();
  raw.set(item, (i % PAGE_ITEMS) * size);
  state.put(pageKey(key, p), raw);
}

/** Removes and returns the last item (a RangeError on an empty list). */
export function listPop(state: StateWriter, key: Uint8Array, size: number): Uint8Array {
  const n = listLength(state, key);
  if (n === 0) throw new RangeError('pop from an empty list');
  const p = Math.floor((n - 1) / PAGE_ITEMS);
  const raw = page(state, key, n, p, size);
  const cut = raw.length - size;
  if (cut === 0) state.del(pageKey(key, p));
  else state.put(pageKey(key, p), raw.slice(0, cut));
  if (n === 1) state.del(key);
  else state.put(key, new Writer(4).u32(n - 1).finish());
  return raw.slice(cut);
}

/** Every item, in append order (a DecodeError where a page does not match the length). */
export function listItems(state: StateReader, key: Uint8Array, size: number, what: string): Uint8Array[] {
  const n = listLength(state, key);
  const out: Uint8Array[] = [];
  for (let p = 0; p * PAGE_ITEMS < n; p++)
    for (const item of splitFixed(page(state, key, n, p, size), size, what)) out.push(item);
  return out;
}

/** The last `count` items (all of them when there are fewer), in append order: a page or two, not the list. */
export function listLast(state: StateReader, key: Uint8Array, size: number, count: number, what: string): Uint8Array[] {
  const n = listLength(state, key);
  const from = Math.max(0, n - count);
  const out: Uint8Array[] = [];
  for (let p = Math.floor(from / PAGE_ITEMS); p * PAGE_ITEMS < n; p++) {
    const items = splitFixed(page(state, key, n, p, size), size, what);
    out.push(...items.slice(Math.max(0, from - p * PAGE_ITEMS)));
  }
  return out;
}

/** Removes the list, its length and every page. */
export function listDrop(state: StateWriter, key: Uint8Array): void {
  const n = listLength(state, key);
  for (let page = 0; page * PAGE_ITEMS < n; page++) state.del(pageKey(key, page));
  if (n > 0) state.del(key);
}

/** Page `p` of a list of `n` items, checked against the length. */
function page(state: StateReader, key: Uint8Array, n: number, p: number, size: number): Uint8Array {
  const raw = state.get(pageKey(key, p));
  if (raw === undefined || raw.length !== Math.min(PAGE_ITEMS, n - p * PAGE_ITEMS) * size) throw damaged(key, p);
  return raw;
}

function damaged(key: Uint8Array, page: number): DecodeError {
  return new DecodeError('BAD_VALUE', `page ${page} of a state list does not match its length`, {
    what: `list ${Buffer.from(key).toString('hex')}`,
  });
}
