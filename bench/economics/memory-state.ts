import { toHex } from '../../src/chain/encoding.ts';
import type { StateWriter } from '../../src/chain/state.ts';

/** A whole ledger state in a Map: enough for the validator domain's rules, run as they are. */
export class MemoryState implements StateWriter {
  private readonly map = new Map<string, Uint8Array>();

  get(key: Uint8Array): Uint8Array | undefined {
    return this.map.get(toHex(key));
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.map.set(toHex(key), value.slice());
  }

  del(key: Uint8Array): void {
    this.map.delete(toHex(key));
  }
}
