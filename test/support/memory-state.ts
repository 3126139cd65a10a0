import { keyId } from '../../src/chain/encoding.ts';
import type { StateWriter } from '../../src/chain/state.ts';

/** A state in a Map that counts the reads and the bytes each put writes: how a rule's cost is told from its size. */
export function memoryState() {
  const map = new Map<string, Uint8Array>();
  let written = 0;
  let reads = 0;
  const state: StateWriter = {
    get: (key) => {
      reads++;
      return map.get(keyId(key));
    },
    put: (key, value) => {
      written += key.length + value.length;
      map.set(keyId(key), value.slice());
    },
    del: (key) => {
      map.delete(keyId(key));
    },
  };
  return { state, map, written: () => written, reads: () => reads };
}
