import { hash } from 'node:crypto';
import { createRequire } from 'node:module';

export type Hash = Uint8Array;

/** SHA-256 via OpenSSL: the hot path (block hashes, txids, merkle). */
export function sha256(...parts: Uint8Array[]): Hash {
  // One-shot over the parts laid end to end: a Hash object per call costs twice as much, which shows at a block's rate.
  const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  // As a 'binary' (latin1) string, one char per byte, copied out: a 'buffer' digest is an off-heap
  // ArrayBuffer each, which cost twice the time and more than twice the garbage collection.
  const digest = hash('sha256', data, 'binary');
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = digest.charCodeAt(i);
  return out;
}

interface NativeHash {
  /** (start, length) pairs of `ranges` into `data`; digest i to out[32i, 32i + 32). Throws RangeError on a bad range. */
  sha256Ranges(data: Uint8Array, ranges: Uint32Array, out: Uint8Array): void;
}

function loadNative(): NativeHash | null {
  // Runs as if it were not built: to test the fallback, and for an addon that misbehaves.
  if (process.env.ZI_NATIVE_HASH === '0') return null;
  try {
    return createRequire(import.meta.url)('../../build/Release/zi_hash.node') as NativeHash;
  } catch {
    return null;
  }
}

const native = loadNative();

/** Where many digests at once are computed: native/hash.c (built at install), else one node:crypto call each. */
export const hashBackend: 'native' | 'node:crypto' = native ? 'native' : 'node:crypto';

let warned = false;

/** Says once that a block's hashes cost one call each here (chain.ts, when a chain opens). */
export function warnIfSlowHashing(): void {
  if (native || warned) return;
  warned = true;
  process.emitWarning(
    `the native hasher (build/Release/zi_hash.node) is not built or does not load; block validation hashes one digest per call, slower.${process.env.ZI_NATIVE_HASH === '0' ? '' : " Rebuild it with 'npm run install'."}`,
    { code: 'ZI_NATIVE_HASH' },
  );
}

/**
 * The SHA-256 of each (start, length) pair of `ranges` into `data`, laid
 * end to end, 32 bytes each. A block's txids, senders and merkle levels are
 * thousands of digests of tens of bytes: one call for all of them costs a
 * sixth of a call each (measured, 150-byte transactions).
 */
export function sha256Ranges(data: Uint8Array, ranges: Uint32Array): Uint8Array {
  if (ranges.length % 2 !== 0) throw new RangeError('ranges are (start, length) pairs');
  const out = new Uint8Array(16 * ranges.length);
  if (native) {
    native.sha256Ranges(data, ranges, out);
    return out;
  }
  for (let i = 0; i < ranges.length; i += 2) {
    const start = ranges[i]!;
    const end = start + ranges[i + 1]!;
    if (end > data.length) throw new RangeError('a range runs past the end of data');
    out.set(sha256(data.subarray(start, end)), 16 * i);
  }
  return out;
}

export const ZERO_HASH: Hash = new Uint8Array(32);

/** A hash read as a big-endian unsigned integer (the PoW comparison). */
export function hashToBigInt(h: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(h).toString('hex') || '0'}`);
}

export function bigIntToBytes32(v: bigint): Uint8Array {
  if (v < 0n || v >= 1n << 256n) throw new RangeError('uint256 out of range');
  return new Uint8Array(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'));
}
