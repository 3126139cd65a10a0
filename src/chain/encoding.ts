import { DecodeError } from './errors.ts';

/**
 * Big-endian, fixed-width integers and length-prefixed byte strings. Every
 * length is checked against its declared maximum and against the bytes that
 * remain *before* anything is allocated, so hostile input cannot make us
 * reserve memory it never sends.
 */
export class Writer {
  // Bytes are written by hand, not through a DataView: a DataView needs the
  // array's ArrayBuffer, and for the small values that fill a block (keys,
  // accounts) V8 then moves the array off its heap, which cost more than
  // the encoding itself.
  private buf: Uint8Array;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = Math.max(1, this.buf.length * 2);
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  // A silently wrapped value (a 256-byte field behind a u8 prefix claiming 0
  // bytes) would be a second encoding, so every width is range-checked.
  u8(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`u8 out of range: ${v}`);
    this.reserve(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u16(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`u16 out of range: ${v}`);
    this.reserve(2);
    this.buf[this.pos++] = v >>> 8;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`u32 out of range: ${v}`);
    this.reserve(4);
    this.put32(v);
    return this;
  }

  u64(v: bigint): this {
    if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`u64 out of range: ${v}`);
    this.reserve(8);
    // Amounts, nonces and times fit a double exactly: split without BigInt arithmetic, which allocates.
    const n = Number(v);
    if (n <= Number.MAX_SAFE_INTEGER) {
      this.put32(Math.floor(n / 0x100000000));
      this.put32(n >>> 0);
    } else {
      this.put32(Number(v >> 32n));
      this.put32(Number(v & 0xffffffffn));
    }
    return this;
  }

  /** A u64 given as a safe integer (a timestamp): the same bytes as u64, without a BigInt each way. */
  u64n(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 out of safe range: ${v}`);
    this.reserve(8);
    this.put32(Math.floor(v / 0x100000000));
    this.put32(v >>> 0);
    return this;
  }

  private put32(v: number): void {
    const b = this.buf;
    b[this.pos] = v >>> 24;
    b[this.pos + 1] = (v >>> 16) & 0xff;
    b[this.pos + 2] = (v >>> 8) & 0xff;
    b[this.pos + 3] = v & 0xff;
    this.pos += 4;
  }

  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** A byte string behind a u8/u16/u32 length prefix. */
  varBytes(b: Uint8Array, prefix: 1 | 2 | 4): this {
    if (prefix === 1) this.u8(b.length);
    else if (prefix === 2) this.u16(b.length);
    else this.u32(b.length);
    return this.bytes(b);
  }

  /** The bytes written; the buffer itself when it is exactly full (its size was given up front). */
  finish(): Uint8Array {
    return this.pos === this.buf.length ? this.buf : this.buf.slice(0, this.pos);
  }
}

export class Reader {
  private readonly buf: Uint8Array;
  private readonly views: boolean;
  private pos = 0;

  /**
   * With `views`, byte strings are views of `buf`, not copies: for a buffer
   * the reader's caller owns and never changes (a block's own copy of its
   * bytes, whose transactions then cost no copies of their fields).
   */
  constructor(buf: Uint8Array, opts: { views?: boolean } = {}) {
    this.buf = buf;
    this.views = opts.views ?? false;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  get offset(): number {
    return this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.remaining) {
      throw new DecodeError('TRUNCATED', `${what}: needs ${n} bytes, ${this.remaining} left`, { what });
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const b = this.buf;
    const v = (b[this.pos]! << 8) | b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.get32();
    this.pos += 4;
    return v;
  }

  u64(what = 'u64'): bigint {
    this.need(8, what);
    const hi = this.get32();
    this.pos += 4;
    const lo = this.get32();
    this.pos += 4;
    // Below 2^53 the value is exact as a double: one BigInt instead of three and a shift.
    return hi < 0x200000 ? BigInt(hi * 0x100000000 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** A u64 as a number, refused (BAD_VALUE) past 2^53 - 1: for values kept as numbers (timestamps). */
  u64n(what = 'u64'): number {
    this.need(8, what);
    const hi = this.get32();
    if (hi >= 0x200000) throw new DecodeError('BAD_VALUE', `${what}: past 2^53 - 1`, { what });
    this.pos += 4;
    const lo = this.get32();
    this.pos += 4;
    return hi * 0x100000000 + lo;
  }

  private get32(): number {
    const b = this.buf;
    const at = this.pos;
    return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
  }

  /** A copy, so decoded values never alias (and pin) the input buffer; a view with `views`. */
  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.views ? this.buf.subarray(this.pos, this.pos + n) : this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  varBytes(prefix: 1 | 2 | 4, max: number, what = 'bytes'): Uint8Array {
    const n = prefix === 1 ? this.u8(what) : prefix === 2 ? this.u16(what) : this.u32(what);
    if (n > max) throw new DecodeError('TOO_LARGE', `${what}: ${n} bytes, at most ${max}`, { what, size: n, max });
    return this.bytes(n, what);
  }

  /** Strict decoders end here: one value, one encoding, nothing after it. */
  end(what = 'value'): void {
    if (this.remaining !== 0) {
      throw new DecodeError('TRAILING_BYTES', `${what}: ${this.remaining} trailing bytes`, { what });
    }
  }
}

/** TOO_LARGE when `bytes` exceed `max`: checked before anything of their size is allocated. */
export function checkSize(bytes: Uint8Array, max: number, what: string): void {
  if (bytes.length > max) {
    throw new DecodeError('TOO_LARGE', `${what}: ${bytes.length} bytes, at most ${max}`, {
      what,
      size: bytes.length,
      max,
    });
  }
}

/** Decodes exactly one value from `bytes` after checking the size bound. */
export function decodeExact<T>(
  bytes: Uint8Array,
  max: number,
  what: string,
  read: (r: Reader) => T,
  opts: { views?: boolean } = {},
): T {
  checkSize(bytes, max, what);
  const r = new Reader(bytes, opts);
  const v = read(r);
  r.end(what);
  return v;
}

/**
 * Bytes as a Map key: one character per byte, so keys sort as their bytes
 * do. Cheaper than hex on the hot paths (state and pending writes), not
 * least because it never asks a small array for its ArrayBuffer.
 */
export function keyId(b: Uint8Array): string {
  if (b.length <= 256) return String.fromCharCode.apply(null, b as unknown as number[]);
  return Buffer.from(b).toString('latin1');
}

export function toHex(b: Uint8Array): string {
  // A copy into Node's pool beats a view of b.buffer: for a small array that view moves it off V8's heap first.
  return Buffer.from(b).toString('hex');
}

const HEX = /^(?:[0-9a-f]{2})*$/;

export function fromHex(s: string, length?: number, what = 'hex'): Uint8Array {
  if (typeof s !== 'string' || !HEX.test(s)) {
    throw new DecodeError('BAD_VALUE', `${what}: not lower-case hex`, { what });
  }
  if (length !== undefined && s.length !== length * 2) {
    throw new DecodeError('BAD_VALUE', `${what}: expected ${length} bytes, got ${s.length / 2}`, { what });
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Fixed-size items (addresses, ids) laid end to end: the one encoding of a list of them. */
export function joinFixed(items: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(items.length * size);
  items.forEach((item, i) => {
    if (item.length !== size) throw new RangeError(`an item of ${item.length} bytes in a list of ${size}-byte items`);
    out.set(item, i * size);
  });
  return out;
}

export function splitFixed(raw: Uint8Array, size: number, what: string): Uint8Array[] {
  if (raw.length % size !== 0) throw new DecodeError('BAD_VALUE', `${what} is not whole ${size}-byte items`, { what });
  const out: Uint8Array[] = [];
  for (let at = 0; at < raw.length; at += size) out.push(raw.slice(at, at + size));
  return out;
}
