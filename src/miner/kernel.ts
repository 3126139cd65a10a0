/**
 * The proof-of-work hashing kernel: tries a range of nonces against one header
 * template and returns the first whose hash is below the target.
 *
 * A header is 112 bytes with the nonce (u64 big-endian) last and its PoW hash
 * is one SHA-256 of it. The first 64 bytes never change per template, so every
 * kernel hashes them once (the midstate) and then spends one SHA-256
 * compression per nonce. Three kernels, fastest first:
 * - 'sha-ni': the native addon on the x86 SHA extensions (chosen by cpuid at run time);
 * - 'native-scalar': the same addon in portable C;
 * - 'js': the same algorithm in JavaScript, for when the addon was not built
 *   (no compiler at install time) or cannot load; several times slower.
 * `ZI_MINER_KERNEL=js|native-scalar|sha-ni` forces one (diagnosis, benchmarks);
 * `ZI_MINER_NATIVE=0` ignores the addon as if it had not been built.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { ZiError } from '../chain/errors.ts';

export const POW_HEADER_SIZE = 112;
/** The header bytes before the nonce: constant for one template. */
export const POW_PREFIX_SIZE = 104;
export const POW_TARGET_SIZE = 32;
const MAX_NONCE = (1n << 64n) - 1n;

export type KernelName = 'sha-ni' | 'native-scalar' | 'js';
export const KERNEL_NAMES: readonly KernelName[] = ['sha-ni', 'native-scalar', 'js'];

export class NonceSearchError extends ZiError<
  | 'BAD_PREFIX'
  | 'BAD_TARGET'
  | 'BAD_HEADER'
  | 'BAD_NONCE'
  | 'BAD_COUNT'
  | 'NONCE_OVERFLOW'
  | 'BAD_THREADS'
  | 'KERNEL_UNAVAILABLE'
  | 'KERNEL_FAULT'
  | 'WORKER_FAILED'
  | 'CLOSED'
> {}

export interface SearchResult {
  /** The first nonce in the range whose hash is below the target, or null. */
  nonce: bigint | null;
  /** Nonces tried: up to and including the hit, else the whole range. */
  attempts: number;
  /** The PoW hash of the header with `nonce`, when there is a hit. */
  hash?: Uint8Array;
}

export interface Kernel {
  readonly name: KernelName;
  searchNonces(prefix: Uint8Array, target: Uint8Array, startNonce: bigint, count: number): SearchResult;
}

/** SHA-256 of a full 112-byte header: the PoW hash. */
export function powHash(header: Uint8Array): Uint8Array {
  if (!(header instanceof Uint8Array) || header.length !== POW_HEADER_SIZE) {
    throw new NonceSearchError('BAD_HEADER', `a header is ${POW_HEADER_SIZE} bytes`, {
      length: header?.length,
    });
  }
  return new Uint8Array(createHash('sha256').update(header).digest());
}

/** The header made of a template prefix and a nonce. */
export function headerWithNonce(prefix: Uint8Array, nonce: bigint): Uint8Array {
  checkPrefix(prefix);
  checkNonce(nonce);
  const header = new Uint8Array(POW_HEADER_SIZE);
  header.set(prefix);
  new DataView(header.buffer).setBigUint64(POW_PREFIX_SIZE, nonce, false);
  return header;
}

/** True when `hash`, read as a big-endian uint256, is below `target`. */
export function meetsTarget(hash: Uint8Array, target: Uint8Array): boolean {
  for (let i = 0; i < POW_TARGET_SIZE; i++) {
    if (hash[i] !== target[i]) return hash[i]! < target[i]!;
  }
  return false;
}

function checkPrefix(prefix: Uint8Array): void {
  if (!(prefix instanceof Uint8Array) || prefix.length !== POW_PREFIX_SIZE) {
    throw new NonceSearchError('BAD_PREFIX', `a header prefix is ${POW_PREFIX_SIZE} bytes`, {
      length: prefix?.length,
    });
  }
}

function checkTarget(target: Uint8Array): void {
  if (!(target instanceof Uint8Array) || target.length !== POW_TARGET_SIZE) {
    throw new NonceSearchError('BAD_TARGET', `a target is ${POW_TARGET_SIZE} bytes`, { length: target?.length });
  }
}

function checkNonce(nonce: bigint): void {
  if (typeof nonce !== 'bigint' || nonce < 0n || nonce > MAX_NONCE) {
    throw new NonceSearchError('BAD_NONCE', 'a nonce is a bigint in [0, 2^64)', { nonce: String(nonce) });
  }
}

/** Validates a search's arguments; shared by every kernel so they fail alike. */
function checkSearch(prefix: Uint8Array, target: Uint8Array, startNonce: bigint, count: number): void {
  checkPrefix(prefix);
  checkTarget(target);
  checkNonce(startNonce);
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new NonceSearchError('BAD_COUNT', 'count is a non-negative safe integer', { count });
  }
  if (count > 0 && startNonce + BigInt(count - 1) > MAX_NONCE) {
    throw new NonceSearchError('NONCE_OVERFLOW', 'the range passes the last nonce, 2^64 - 1', {
      startNonce: String(startNonce),
      count,
    });
  }
}

/**
 * Turns a kernel's raw answer into a result, re-hashing the hit with
 * node:crypto: a wrong nonce from a faulty kernel would cost a whole block.
 */
function finish(prefix: Uint8Array, target: Uint8Array, startNonce: bigint, count: number, nonce: bigint | null) {
  if (nonce === null) return { nonce: null, attempts: count };
  const hash = powHash(headerWithNonce(prefix, nonce));
  if (nonce < startNonce || nonce - startNonce >= BigInt(count) || !meetsTarget(hash, target)) {
    throw new NonceSearchError('KERNEL_FAULT', 'the kernel returned a nonce that does not meet the target', {
      nonce: String(nonce),
    });
  }
  return { nonce, attempts: Number(nonce - startNonce) + 1, hash };
}

// ---------------------------------------------------------------- JavaScript

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/** Extends the message schedule w[16..63] from w[0..15]. */
function expand(w: Int32Array): void {
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15]!;
    const y = w[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = (s1 + w[t - 7]! + s0 + w[t - 16]!) | 0;
  }
}

/** Runs SHA-256 rounds [from, to) on the state s (a..h) in place. */
function rounds(s: Int32Array, w: Int32Array, from: number, to: number): void {
  let a = s[0]!;
  let b = s[1]!;
  let c = s[2]!;
  let d = s[3]!;
  let e = s[4]!;
  let f = s[5]!;
  let g = s[6]!;
  let h = s[7]!;
  for (let t = from; t < to; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + (g ^ (e & (f ^ g))) + K[t]! + w[t]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) | (c & (a | b)))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  s[0] = a;
  s[1] = b;
  s[2] = c;
  s[3] = d;
  s[4] = e;
  s[5] = f;
  s[6] = g;
  s[7] = h;
}

function readWords(bytes: Uint8Array, offset: number, into: Int32Array, count: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) into[i] = view.getInt32(offset + 4 * i, false);
}

function jsSearch(prefix: Uint8Array, target: Uint8Array, startNonce: bigint, count: number): bigint | null {
  const w = new Int32Array(64);
  const mid = IV.slice();
  readWords(prefix, 0, w, 16);
  expand(w);
  const s = mid.slice();
  rounds(s, w, 0, 64);
  for (let i = 0; i < 8; i++) mid[i] = (mid[i]! + s[i]!) | 0;

  // The final block: header bytes 64..103, the nonce in words 10-11, the pad, the length 896 bits.
  w.fill(0);
  readWords(prefix, 64, w, 10);
  w[12] = 0x80000000 | 0;
  w[15] = POW_HEADER_SIZE * 8;
  // Rounds 0..9 read no nonce word: once per call.
  const pre = mid.slice();
  rounds(pre, w, 0, 10);
  const t = new Int32Array(8);
  readWords(target, 0, t, 8);
  const t0 = t[0]! >>> 0;
  const mid0 = mid[0]!;

  let hi = Number(startNonce >> 32n);
  let lo = Number(startNonce & 0xffffffffn);
  for (let i = 0; i < count; i++) {
    w[10] = hi;
    w[11] = lo;
    expand(w);
    s.set(pre);
    rounds(s, w, 10, 64);
    // The first hash word alone rejects almost every attempt.
    if ((s[0]! + mid0) >>> 0 <= t0) {
      let below = false;
      for (let j = 0; j < 8; j++) {
        const hj = (s[j]! + mid[j]!) >>> 0;
        const tj = t[j]! >>> 0;
        if (hj !== tj) {
          below = hj < tj;
          break;
        }
      }
      if (below) return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    }
    lo = (lo + 1) | 0;
    if (lo === 0) hi = (hi + 1) | 0;
  }
  return null;
}

// ---------------------------------------------------------------- native

interface Addon {
  search(prefix: Uint8Array, target: Uint8Array, start: bigint, count: number, mode: number): bigint | null;
  hasShaNi(): boolean;
}
const MODE_SCALAR = 1;
const MODE_SHA_NI = 2;

function loadAddon(): { addon: Addon | null; error: string | null } {
  // Runs as if the addon were not built: for an addon that misbehaves, and to test the fallback.
  if (process.env.ZI_MINER_NATIVE === '0') return { addon: null, error: 'disabled by ZI_MINER_NATIVE=0' };
  try {
    const require = createRequire(import.meta.url);
    return { addon: require('../../build/Release/zi_pow.node') as Addon, error: null };
  } catch (err) {
    return { addon: null, error: (err as Error).message.split('\n')[0]! };
  }
}

const loaded = loadAddon();

function makeKernel(name: KernelName): Kernel {
  const addon = loaded.addon;
  const raw =
    name === 'js'
      ? jsSearch
      : (prefix: Uint8Array, target: Uint8Array, start: bigint, count: number) =>
          addon!.search(prefix, target, start, count, name === 'sha-ni' ? MODE_SHA_NI : MODE_SCALAR);
  return {
    name,
    searchNonces(prefix, target, startNonce, count) {
      checkSearch(prefix, target, startNonce, count);
      return finish(prefix, target, startNonce, count, raw(prefix, target, startNonce, count));
    },
  };
}

const available: KernelName[] = [];
if (loaded.addon?.hasShaNi()) available.push('sha-ni');
if (loaded.addon) available.push('native-scalar');
available.push('js');
const kernels = new Map(available.map((n) => [n, makeKernel(n)]));

/** The kernels this process can run, fastest first; 'js' is always there. */
export function availableKernels(): KernelName[] {
  return available.slice();
}

/** One kernel by name, to force a path (tests, benchmarks). */
export function getKernel(name: KernelName): Kernel {
  const k = kernels.get(name);
  if (!k) {
    throw new NonceSearchError('KERNEL_UNAVAILABLE', `the '${name}' kernel is not available here`, {
      name,
      available: availableKernels(),
      addonError: loaded.error,
    });
  }
  return k;
}

function chooseDefault(): { kernel: Kernel; warning: string | undefined } {
  const forced = process.env.ZI_MINER_KERNEL;
  if (forced !== undefined && forced !== '') {
    const k = kernels.get(forced as KernelName);
    if (k) return { kernel: k, warning: undefined };
    return {
      kernel: kernels.get(available[0]!)!,
      warning: `ZI_MINER_KERNEL=${forced} is not available here (have ${available.join(', ')}); mining with '${available[0]}'`,
    };
  }
  if (!loaded.addon) {
    return {
      kernel: kernels.get('js')!,
      warning: `the native mining kernel is not built or does not load (${loaded.error}); mining with the JavaScript kernel, several times slower. Build it with 'npm run install' (needs python3, make and a C compiler).`,
    };
  }
  return { kernel: kernels.get(available[0]!)!, warning: undefined };
}

const chosen = chooseDefault();

/** The kernel `searchNonces` uses. */
export const kernelName: KernelName = chosen.kernel.name;

/** Why this process mines slower than it could, or undefined; the miner logs it when it starts. */
export const kernelWarning: string | undefined = chosen.warning;

/**
 * Tries nonces startNonce .. startNonce+count-1 in order on the fastest kernel
 * and returns the first whose header hash is below `target`. Synchronous: it
 * blocks for the whole range, so callers keep `count` to a few tens of ms.
 */
export function searchNonces(prefix: Uint8Array, target: Uint8Array, startNonce: bigint, count: number): SearchResult {
  return chosen.kernel.searchNonces(prefix, target, startNonce, count);
}
