import { keyId } from './encoding.ts';

/**
 * The ledger state is a flat key-value space. The core owns the account keys;
 * each domain owns a key prefix of its own (see store/layout.ts). Writes go
 * through an overlay that remembers each key's previous value, which is all
 * the undo data a block needs, whatever domain wrote it.
 */
export interface StateReader {
  get(key: Uint8Array): Uint8Array | undefined;
}

export interface StateWriter extends StateReader {
  put(key: Uint8Array, value: Uint8Array): void;
  del(key: Uint8Array): void;
}

export interface StateChange {
  key: Uint8Array;
  /** undefined: the key is deleted. */
  value: Uint8Array | undefined;
  /** The value before the first write in this overlay. */
  previous: Uint8Array | undefined;
}

export class StateOverlay implements StateWriter {
  private readonly writes = new Map<string, StateChange>();

  private readonly base: StateReader;
  constructor(base: StateReader) {
    this.base = base;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const hit = this.writes.get(keyId(key));
    return hit ? hit.value : this.base.get(key);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.write(key, value);
  }

  del(key: Uint8Array): void {
    this.write(key, undefined);
  }

  private write(key: Uint8Array, value: Uint8Array | undefined): void {
    const id = keyId(key);
    const hit = this.writes.get(id);
    if (hit) hit.value = value;
    else this.writes.set(id, { key: key.slice(), value, previous: this.base.get(key) });
  }

  /** Changes in first-write order; a no-op write is still listed (harmless). */
  changes(): StateChange[] {
    return [...this.writes.values()];
  }

  /** Folds this overlay's writes into its base (when the base is writable). */
  commitTo(target: StateWriter): void {
    for (const c of this.writes.values()) {
      if (c.value === undefined) target.del(c.key);
      else target.put(c.key, c.value);
    }
  }
}
