/**
 * JSON encoding of node values: Li amounts are bigint and hashes/keys are
 * bytes, neither of which JSON.stringify handles on its own (bigint throws,
 * a Uint8Array becomes {"0":…,"1":…}).
 *   bigint      → decimal string ("5000000000")
 *   Uint8Array  → lowercase hex (Buffer too, despite its own toJSON)
 *   Map, Set    → TypeError, so a handler returning one fails loudly instead
 *                 of silently becoming {}
 */

export function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  // `this[key]` is the value before any toJSON ran: Buffer.toJSON would
  // otherwise turn bytes into {type:'Buffer',data:[…]} before we see them.
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex');
  if (typeof value === 'bigint') return value.toString(10);
  if (value instanceof Map || value instanceof Set) {
    throw new TypeError(`cannot encode a ${value instanceof Map ? 'Map' : 'Set'} as JSON (at "${key}")`);
  }
  return value;
}

/** JSON.stringify with {@link jsonReplacer}. Throws TypeError on cycles, Map and Set. */
export function toJson(value: unknown): string {
  // undefined at the top level would make JSON.stringify return undefined.
  return JSON.stringify(value === undefined ? null : value, jsonReplacer);
}
