import type { Reader, Writer } from '../chain/encoding.ts';
import { DecodeError } from '../chain/errors.ts';

/** A half-open range of MCU indices [start, end). */
export interface Range {
  start: number;
  end: number;
}

/** Most ranges one payout may name; payouts of growing batches need few. */
export const MAX_PAYOUT_RANGES = 256;
/** Largest MCU index: indices travel as JSON numbers, so they stay safe integers. */
export const MAX_INDEX = Number.MAX_SAFE_INTEGER;

export function rangeCount(ranges: readonly Range[]): number {
  return ranges.reduce((n, r) => n + (r.end - r.start), 0);
}

/**
 * Canonical: sorted, non-empty, non-overlapping and non-adjacent (adjacent
 * ranges must be written as one), so a set has exactly one encoding.
 */
export function isCanonical(ranges: readonly Range[]): boolean {
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (!(Number.isSafeInteger(r.start) && Number.isSafeInteger(r.end) && r.start >= 0 && r.end > r.start))
      return false;
    if (r.end > MAX_INDEX) return false;
    if (i > 0 && r.start <= ranges[i - 1]!.end) return false;
  }
  return true;
}

export function writeRanges(w: Writer, ranges: readonly Range[], countPrefix: 2 | 4): void {
  if (countPrefix === 2) w.u16(ranges.length);
  else w.u32(ranges.length);
  for (const r of ranges) w.u64(BigInt(r.start)).u64(BigInt(r.end));
}

export function readRanges(r: Reader, countPrefix: 2 | 4, max: number, what: string): Range[] {
  const n = countPrefix === 2 ? r.u16(what) : r.u32(what);
  if (n > max) throw new DecodeError('TOO_LARGE', `${what}: ${n} ranges, at most ${max}`, { what });
  if (n * 16 > r.remaining) throw new DecodeError('TRUNCATED', `${what}: ${n} ranges do not fit`, { what });
  const out: Range[] = [];
  for (let i = 0; i < n; i++) {
    const start = r.u64(what);
    const end = r.u64(what);
    if (end > BigInt(MAX_INDEX)) throw new DecodeError('BAD_VALUE', `${what}: index beyond 2^53`, { what });
    out.push({ start: Number(start), end: Number(end) });
  }
  if (!isCanonical(out)) {
    throw new DecodeError('NON_CANONICAL', `${what}: ranges must be sorted, non-empty, apart and not touching`, {
      what,
    });
  }
  return out;
}

/** Whether any index of `b` is in `a` (both canonical). */
export function overlaps(a: readonly Range[], b: readonly Range[]): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i]!.end <= b[j]!.start) i++;
    else if (b[j]!.end <= a[i]!.start) j++;
    else return true;
  }
  return false;
}

/** The canonical union of two canonical sets. */
export function union(a: readonly Range[], b: readonly Range[]): Range[] {
  const all = [...a, ...b].sort((x, y) => x.start - y.start);
  const out: Range[] = [];
  for (const r of all) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

/** `a` minus `b`: what of `a` is not yet covered. */
export function subtract(a: readonly Range[], b: readonly Range[]): Range[] {
  const out: Range[] = [];
  for (const r of a) {
    let start = r.start;
    for (const c of b) {
      if (c.end <= start || c.start >= r.end) continue;
      if (c.start > start) out.push({ start, end: c.start });
      start = Math.max(start, c.end);
      if (start >= r.end) break;
    }
    if (start < r.end) out.push({ start, end: r.end });
  }
  return out;
}
