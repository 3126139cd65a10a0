import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import * as secp from '@noble/secp256k1';
import { DecodeError } from './errors.ts';
import { sha256 } from './hash.ts';
import { libsecp } from './libsecp.ts';

secp.hashes.sha256 = nobleSha256;
secp.hashes.hmacSha256 = (key, msg) => hmac(nobleSha256, key, msg);

export const PUBKEY_SIZE = 33;
export const SIGNATURE_SIZE = 64;

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N = N >> 1n;
// DER SubjectPublicKeyInfo header for a compressed secp256k1 point; OpenSSL
// takes the 33-byte point after it, so verification never leaves native code.
const SPKI_PREFIX = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex');

export function generatePrivateKey(): Uint8Array {
  return secp.utils.randomSecretKey();
}

export function isValidPrivateKey(key: Uint8Array): boolean {
  return key.length === 32 && secp.utils.isValidSecretKey(key);
}

export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return secp.getPublicKey(privateKey, true);
}

/** Signs SHA-256(message), low-S, compact 64 bytes (r ‖ s). */
export function sign(message: Uint8Array, privateKey: Uint8Array): Uint8Array {
  return secp.sign(message, privateKey, { prehash: true, lowS: true });
}

const N_BYTES = scalarBytes(N);
const HALF_N_BYTES = scalarBytes(HALF_N);

function scalarBytes(v: bigint): Uint8Array {
  return new Uint8Array(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'));
}

/** The 32-byte big-endian scalar at `from` against `bound`: -1, 0 or 1 (no BigInt: this runs for every signature). */
function compareScalar(b: Uint8Array, from: number, bound: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = b[from + i]! - bound[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

function isZeroScalar(b: Uint8Array, from: number): boolean {
  for (let i = 0; i < 32; i++) if (b[from + i] !== 0) return false;
  return true;
}

/**
 * r and s in [1, n), s ≤ n/2. OpenSSL accepts high-S, so the consensus
 * enforces it here, for every backend: otherwise anyone could flip s and
 * change a txid.
 */
export function isCanonicalSignature(sig: Uint8Array): boolean {
  if (sig.length !== SIGNATURE_SIZE) return false;
  return (
    !isZeroScalar(sig, 0) &&
    compareScalar(sig, 0, N_BYTES) < 0 &&
    !isZeroScalar(sig, 32) &&
    compareScalar(sig, 32, HALF_N_BYTES) <= 0
  );
}

const keyCache = new Map<string, KeyObject>();
const KEY_CACHE_MAX = 4096;

function publicKeyObject(pub: Uint8Array): KeyObject {
  const id = Buffer.from(pub).toString('hex');
  let key = keyCache.get(id);
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value as string);
    keyCache.set(id, key);
  }
  return key;
}

/** Checks a 33-byte compressed point is on the curve. */
export function isValidPublicKey(pub: Uint8Array): boolean {
  if (pub.length !== PUBKEY_SIZE || (pub[0] !== 2 && pub[0] !== 3)) return false;
  try {
    secp.Point.fromBytes(pub);
    return true;
  } catch {
    return false;
  }
}

/** Verification through OpenSSL (≈ 5× noble); malformed input is simply invalid. */
export function verifyOpenSsl(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!isCanonicalSignature(signature)) return false;
  if (publicKey.length !== PUBKEY_SIZE) return false;
  let key: KeyObject;
  try {
    key = publicKeyObject(publicKey);
  } catch {
    return false;
  }
  return cryptoVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
}

/** Verification through libsecp256k1 (≈ 5–8× OpenSSL), or undefined where the binding does not load. */
const binding = libsecp;
export const verifyLibsecp: typeof verifyOpenSsl | undefined = binding
  ? (signature, message, publicKey) => {
      // The binding also takes 65-byte points and reads the digest as is: the same rules as OpenSSL's path.
      if (!isCanonicalSignature(signature)) return false;
      if (publicKey.length !== PUBKEY_SIZE) return false;
      try {
        return binding.ecdsaVerify(signature, sha256(message), publicKey);
      } catch {
        return false; // a point that is not on the curve
      }
    }
  : undefined;

/** Checks a compact low-S signature over SHA-256(message): libsecp256k1 where it loads, else OpenSSL. */
export const verify: typeof verifyOpenSsl = verifyLibsecp ?? verifyOpenSsl;

/** The reference verifier, for tests that the native path agrees. */
export function verifyNoble(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  // noble also takes 65-byte uncompressed points; a sender is the compressed form only.
  if (publicKey.length !== PUBKEY_SIZE) return false;
  try {
    return secp.verify(signature, message, publicKey, { prehash: true, lowS: true });
  } catch {
    return false;
  }
}

export function parsePrivateKeyHex(hex: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new DecodeError('BAD_VALUE', 'a private key is 64 hex characters');
  const key = new Uint8Array(Buffer.from(hex, 'hex'));
  if (!isValidPrivateKey(key)) throw new DecodeError('BAD_VALUE', 'not a valid secp256k1 private key');
  return key;
}
