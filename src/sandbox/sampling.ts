/**
 * The sample of a batch that validation recomputes (DESIGN.md §4 "Sampling";
 * the construction is specified in docs/PROTOCOL.md, "Sampling", so anyone
 * holding the seed can recompute the sample).
 *
 * The same source runs in the host (the authority's default check) and
 * inside the contract sandbox (the helper a declared `validate` calls), so
 * the three functions below are self-contained plain JavaScript once types
 * are stripped: no imports, no module variables, no closures, only the
 * language's builtins. `SAMPLING_SOURCE` is that source, ready to embed.
 */

/** Sample rates are per mille, 1 to this (every MCU); the functions below spell it out, being self-contained. */
export const MAX_SAMPLE_RATE = 1000;

/** The size of the sample of `count` MCUs at `ratePermille`: max(1, ⌈count · rate / 1000⌉), at most `count`. */
export function sampleSize(count: number, ratePermille: number): number {
  if (typeof count !== 'number' || typeof ratePermille !== 'number') {
    throw new TypeError('sampleSize(count, ratePermille) takes two numbers');
  }
  if (!Number.isInteger(count) || count < 0 || count > 4294967296) {
    throw new RangeError(`sample count must be an integer 0..2^32, not ${count}`);
  }
  if (!Number.isInteger(ratePermille) || ratePermille < 1 || ratePermille > 1000) {
    throw new RangeError(`sample rate must be an integer 1..1000 per mille, not ${ratePermille}`);
  }
  // count · rate ≤ 2^32 · 1000 < 2^53 is exact; so is the ceiling of its
  // quotient by 1000 (the rounding error of the division is far below 1/1000).
  const k = Math.max(1, Math.ceil((count * ratePermille) / 1000));
  return Math.min(k, count);
}

/** SHA-256 (FIPS 180-4) of `bytes`, in plain JavaScript so the sandbox can run it too. */
export function samplingSha256(bytes: Uint8Array): Uint8Array {
  const K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
  ];
  const H = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const n = bytes.length;
  // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian number.
  const blocks = Math.ceil((n + 9) / 64);
  const m = new Uint8Array(blocks * 64);
  m.set(bytes);
  m[n] = 0x80;
  const bits = n * 8;
  const end = m.length;
  m[end - 5] = Math.floor(bits / 4294967296) & 0xff;
  m[end - 4] = (bits >>> 24) & 0xff;
  m[end - 3] = (bits >>> 16) & 0xff;
  m[end - 2] = (bits >>> 8) & 0xff;
  m[end - 1] = bits & 0xff;
  const w = new Int32Array(64);
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < 16; i++) {
      const o = b * 64 + i * 4;
      w[i] = (m[o]! << 24) | (m[o + 1]! << 16) | (m[o + 2]! << 8) | m[o + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = H[0]!;
    let c1 = H[1]!;
    let c2 = H[2]!;
    let d = H[3]!;
    let e = H[4]!;
    let f = H[5]!;
    let g = H[6]!;
    let h = H[7]!;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & c1) ^ (a & c2) ^ (c1 & c2))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c2;
      c2 = c1;
      c1 = a;
      a = (t1 + t2) | 0;
    }
    H[0] = (H[0]! + a) | 0;
    H[1] = (H[1]! + c1) | 0;
    H[2] = (H[2]! + c2) | 0;
    H[3] = (H[3]! + d) | 0;
    H[4] = (H[4]! + e) | 0;
    H[5] = (H[5]! + f) | 0;
    H[6] = (H[6]! + g) | 0;
    H[7] = (H[7]! + h) | 0;
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    out[i * 4] = H[i]! >>> 24;
    out[i * 4 + 1] = (H[i]! >>> 16) & 0xff;
    out[i * 4 + 2] = (H[i]! >>> 8) & 0xff;
    out[i * 4 + 3] = H[i]! & 0xff;
  }
  return out;
}

/**
 * The indices of [from, from + count) that validation recomputes, ascending:
 * sampleSize(count, ratePermille) distinct ones (all of them when that is
 * count), chosen by the 32-byte `seed` alone, so a Solver that sends its
 * results before the seed exists cannot know which.
 *
 * Construction (docs/PROTOCOL.md "Sampling"): a stream of 32-bit big-endian
 * words, the eight words of SHA-256(seed ‖ uint32be(0)), then of
 * SHA-256(seed ‖ uint32be(1)), …; a uniform draw in [0, m) takes words until
 * one is below 2^32 − (2^32 mod m) and returns it mod m; Robert Floyd's
 * algorithm picks k distinct offsets: for j = count − k … count − 1, draw t in
 * [0, j]; keep t, or j if t is already kept. Valid for count ≤ 2^32 (and a
 * sample of at most 2^30). The seed must be a Uint8Array of the calling realm:
 * in the sandbox, one made there.
 */
export function sampleIndices(seed: Uint8Array, from: number, count: number, ratePermille: number): number[] {
  if (!(seed instanceof Uint8Array)) throw new TypeError('the sampling seed is a Uint8Array');
  if (seed.length !== 32) throw new RangeError(`the sampling seed is 32 bytes, not ${seed.length}`);
  if (typeof from !== 'number') throw new TypeError('the first index is a number');
  const k = sampleSize(count, ratePermille);
  if (!Number.isSafeInteger(from) || from < 0 || from > 9007199254740992 - count) {
    throw new RangeError(`indices [${from}, ${from} + ${count}) are not within 0..2^53`);
  }
  const all: number[] = [];
  if (k === count) {
    for (let i = 0; i < count; i++) all.push(from + i);
    return all;
  }
  // The word stream: 8 words per block, counter big-endian after the seed.
  const message = new Uint8Array(36);
  message.set(seed);
  let block: Uint8Array = new Uint8Array(0);
  let counter = 0;
  let next = 32;
  const word = (): number => {
    if (next === 32) {
      if (counter > 4294967295) throw new RangeError('the sampling word stream is exhausted');
      message[32] = counter >>> 24;
      message[33] = (counter >>> 16) & 0xff;
      message[34] = (counter >>> 8) & 0xff;
      message[35] = counter & 0xff;
      counter++;
      block = samplingSha256(message);
      next = 0;
    }
    const v = block[next]! * 16777216 + ((block[next + 1]! << 16) | (block[next + 2]! << 8) | block[next + 3]!);
    next += 4;
    return v;
  };
  const uniform = (m: number): number => {
    const limit = 4294967296 - (4294967296 % m);
    for (;;) {
      const v = word();
      if (v < limit) return v % m;
    }
  };
  // The kept offsets, in an open-addressed table (a Set holds at most 2^24):
  // slots hold offset + 1, 0 is empty; at most half full; Fibonacci hashing.
  if (k > 1073741824) throw new RangeError(`a sample of ${k} indices is over 2^30`);
  let bits = 1;
  while (2 ** bits < 2 * k) bits++;
  const table = new Float64Array(2 ** bits);
  const mask = table.length - 1;
  const kept = new Float64Array(k);
  let size = 0;
  const keep = (t: number): boolean => {
    let slot = Math.imul(t | 0, 0x9e3779b1) >>> (32 - bits);
    for (;;) {
      const v = table[slot]!;
      if (v === 0) {
        table[slot] = t + 1;
        kept[size++] = t;
        return true;
      }
      if (v === t + 1) return false;
      slot = (slot + 1) & mask;
    }
  };
  for (let j = count - k; j < count; j++) {
    if (!keep(uniform(j + 1))) keep(j);
  }
  kept.sort();
  for (let i = 0; i < k; i++) all.push(from + kept[i]!);
  return all;
}

/** The three functions above as one script, for the sandbox prelude (types are already blanked out). */
export const SAMPLING_SOURCE = [sampleSize, samplingSha256, sampleIndices].map((f) => f.toString()).join('\n');
