import { hash } from 'node:crypto';

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

export const ZERO_HASH: Hash = new Uint8Array(32);

/** A hash read as a big-endian unsigned integer (the PoW comparison). */
export function hashToBigInt(h: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(h).toString('hex') || '0'}`);
}

export function bigIntToBytes32(v: bigint): Uint8Array {
  if (v < 0n || v >= 1n << 256n) throw new RangeError('uint256 out of range');
  return new Uint8Array(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'));
}
