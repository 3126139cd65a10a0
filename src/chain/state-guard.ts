import type { StateWriter } from './state.ts';
import { STATE_ACCOUNT, STATE_OPEN_PROBLEMS } from './store/layout.ts';

/** Core records every domain moves through the core's own functions (accounts.ts, the |Po| counter). */
const SHARED = new Set([STATE_ACCOUNT, STATE_OPEN_PROBLEMS]);

export class StateGuardError extends Error {}

const BASE = Symbol('unguarded state');

/** The writer under a guard (a port called with another domain's guarded state rewraps it for its own). */
export function unguarded(state: StateWriter): StateWriter {
  return (state as { [BASE]?: StateWriter })[BASE] ?? state;
}

/**
 * Test-only: a writer that lets a domain write only the state prefix it owns
 * (store/layout.ts) and the core's shared records, so a test over every kind
 * of transaction proves no domain writes another's state.
 */
export function guardWrites(state: StateWriter, domain: string, owns: readonly [number, number]): StateWriter {
  const check = (key: Uint8Array) => {
    const p = key[0]!;
    if (SHARED.has(p) || (p >= owns[0] && p <= owns[1])) return;
    throw new StateGuardError(`${domain} wrote state key 0x${Buffer.from(key).toString('hex')} outside its prefix`);
  };
  const guarded: StateWriter & { [BASE]: StateWriter } = {
    [BASE]: state,
    get: (key, id) => state.get(key, id),
    put(key, value, id) {
      check(key);
      state.put(key, value, id);
    },
    del(key) {
      check(key);
      state.del(key);
    },
  };
  return guarded;
}
