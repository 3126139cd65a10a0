import { concatBytes, decodeExact, Writer } from './encoding.ts';
import type { StateReader, StateWriter } from './state.ts';
import { listAppend, listItems, listLength, listPop, listSet } from './state-list.ts';

/**
 * A set of fixed-size items in the state: a paged list (state-list.ts) of
 * its members and, at `key ‖ item`, each member's place in it. Adding,
 * removing and asking cost a page each, whatever the size: as one record,
 * every change rewrote the whole set (a Validator's reserved contracts,
 * the audits pending), and a block changing it often cost the square of
 * its size. A removed member's place is taken by the last one, so members
 * are listed in no meaningful order — the same order on every node.
 */
const placeKey = (key: Uint8Array, item: Uint8Array) => concatBytes(key, item);

function placeOf(state: StateReader, key: Uint8Array, item: Uint8Array): number | undefined {
  const raw = state.get(placeKey(key, item));
  return raw === undefined ? undefined : decodeExact(raw, 4, 'a set place', (r) => r.u32());
}

const place = (i: number) => new Writer(4).u32(i).finish();

export const setSize = listLength;

export function setHas(state: StateReader, key: Uint8Array, item: Uint8Array): boolean {
  return state.get(placeKey(key, item)) !== undefined;
}

/** Adds `item`; false when it is a member already. */
export function setAdd(state: StateWriter, key: Uint8Array, item: Uint8Array, size: number): boolean {
  // A 4-byte member's place would share its key with a page of the list.
  if (size === 4) throw new RangeError('a state set of 4-byte items');
  if (setHas(state, key, item)) return false;
  const n = listLength(state, key);
  listAppend(state, key, item, size);
  state.put(placeKey(key, item), place(n));
  return true;
}

/** Removes `item`; false when it is not a member. */
export function setRemove(state: StateWriter, key: Uint8Array, item: Uint8Array, size: number): boolean {
  const at = placeOf(state, key, item);
  if (at === undefined) return false;
  const last = listPop(state, key, size);
  if (at < listLength(state, key)) {
    listSet(state, key, at, last, size);
    state.put(placeKey(key, last), place(at));
  }
  state.del(placeKey(key, item));
  return true;
}

/** Every member, in list order. */
export function setItems(state: StateReader, key: Uint8Array, size: number, what: string): Uint8Array[] {
  return listItems(state, key, size, what);
}
