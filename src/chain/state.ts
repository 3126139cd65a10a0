import { keyId } from './encoding.ts';

/**
 * The ledger state is a flat key-value space. The core owns the account keys;
 * each domain owns a key prefix of its own (see store/layout.ts). Writes go
 * through an overlay that remembers each key's previous value, which is all
 * the undo data a block needs, whatever domain wrote it.
 */
/** `id`, where a caller passes it, is keyId(key): a key read and written through an overlay is then worked out once. */
export interface StateReader {
  get(key: Uint8Array, id?: string): Uint8Array | undefined;
}

export interface StateWriter extends StateReader {
  put(key: Uint8Array, value: Uint8Array, id?: string): void;
  del(key: Uint8Array): void;
}

export interface StateChange {
  key: Uint8Array;
  /** undefined: the key is deleted. */
  value: Uint8Array | undefined;
  /** The value before the first write in this overlay. */
  previous: Uint8Array | undefined;
  /** keyId(key). */
  id: string;
}

/**
 * A key as an overlay knows it: its value here and before. Once written it
 * is itself the change (its key copied then): one object per key, which the
 * block's batch and undo data keep until the flush.
 */
interface Seen {
  key: Uint8Array | undefined;
  value: Uint8Array | undefined;
  previous: Uint8Array | undefined;
  id: string;
}

export class StateOverlay implements StateWriter {
  /**
   * Every key read or written here: a block reads most keys again right
   * before writing them (read, modify, write), and each reads the base
   * once. An overlay lives while one block or transaction is applied; the
   * base does not change meanwhile.
   */
  private readonly seen = new Map<string, Seen>();
  private readonly written: StateChange[] = [];

  private readonly base: StateReader;
  constructor(base: StateReader) {
    this.base = base;
  }

  get(key: Uint8Array, id = keyId(key)): Uint8Array | undefined {
    return this.lookup(key, id).value;
  }

  put(key: Uint8Array, value: Uint8Array, id = keyId(key)): void {
    this.write(key, value, id);
  }

  del(key: Uint8Array): void {
    this.write(key, undefined, keyId(key));
  }

  private lookup(key: Uint8Array, id: string): Seen {
    let hit = this.seen.get(id);
    if (hit === undefined) {
      const value = this.base.get(key, id);
      hit = { key: undefined, value, previous: value, id };
      this.seen.set(id, hit);
    }
    return hit;
  }

  private write(key: Uint8Array, value: Uint8Array | undefined, id: string): void {
    const hit = this.lookup(key, id);
    hit.value = value;
    if (hit.key === undefined) {
      hit.key = key.slice();
      this.written.push(hit as StateChange);
    }
  }

  /** Changes in first-write order; a no-op write is still listed (harmless). */
  changes(): StateChange[] {
    return [...this.written];
  }

  /** Folds this overlay's writes into its base (when the base is writable). */
  commitTo(target: StateWriter): void {
    for (const c of this.written) {
      if (c.value === undefined) target.del(c.key);
      else target.put(c.key, c.value);
    }
  }
}
