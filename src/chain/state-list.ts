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
  const page = Math.floor(n / PAGE_ITEMS);
  const at = pageKey(key, page);
  const before = n % PAGE_ITEMS === 0 ? new Uint8Array() : state.get(at);
  if (before === undefined || before.length !== (n % PAGE_ITEMS) * size) throw damaged(key, page);
  state.put(at, concatBytes(before, item));
  state.put(key, new Writer(4).u32(n + 1).finish());
}

/** Every item, in append order (a DecodeError where a page does not match the length). */
export function listItems(state: StateReader, key: Uint8Array, size: number, what: string): Uint8Array[] {
  const n = listLength(state, key);
  const out: Uint8Array[] = [];
  for (let page = 0; page * PAGE_ITEMS < n; page++) {
    const raw = state.get(pageKey(key, page));
    const want = Math.min(PAGE_ITEMS, n - page * PAGE_ITEMS);
    if (raw === undefined || raw.length !== want * size) throw damaged(key, page);
    for (const item of splitFixed(raw, size, what)) out.push(item);
  }
  return out;
}

/** Removes the list, its length and every page. */
export function listDrop(state: StateWriter, key: Uint8Array): void {
  const n = listLength(state, key);
  for (let page = 0; page * PAGE_ITEMS < n; page++) state.del(pageKey(key, page));
  if (n > 0) state.del(key);
}

function damaged(key: Uint8Array, page: number): DecodeError {
  return new DecodeError('BAD_VALUE', `page ${page} of a state list does not match its length`, {
    what: `list ${Buffer.from(key).toString('hex')}`,
  });
}
