/**
 * Large typed-array columns between the node and a sandbox process, beside
 * the IPC channel rather than through it. Node's IPC channel reassembles a
 * large message slowly (measured: an 8 MiB Float64Array reply cost 33 ms and
 * 23 ms of the node's CPU); here both sides share one unlinked file, in
 * /dev/shm where there is one, that the host opens and hands to the process
 * as a file descriptor. A column of BULK_MIN_BYTES or more is written to it
 * with pwrite, and the message carries only its place: [slot, index, kind,
 * bytes] (slot: which argument, or 0 for a reply). Each process runs one call
 * at a time, so the file's bytes are the current message's: the host writes
 * a call's arguments before sending it and reads the reply's columns after
 * it arrives; the process does the reverse. Columns that cannot be written
 * (no file, a full disk) go in the message as before.
 *
 * The host trusts no descriptor: it checks every one, and the total against
 * the call's byte limit, before allocating anything.
 */
import { closeSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxError } from './errors.ts';

/** Columns smaller than this go in the IPC message: a file round trip is not worth it. */
export const BULK_MIN_BYTES = 64 * 1024;
/** The process's file descriptor of the shared file (after stdin, stdout, stderr and IPC). */
export const BULK_FD = 4;
/** Past this the host empties the file after a call, so a huge reply does not keep its pages. */
const KEEP_BYTES = 32 * 1024 * 1024;

const F64 = 1;
const U8 = 2;

/** Where one column went: part `slot` of the message, element `index`, `bytes` long, in file order. */
export type BulkEntry = [slot: number, index: number, kind: number, bytes: number];

/** A fresh shared file, already unlinked (it lives as long as a descriptor to it); undefined if none can be made. */
export function openBulkFile(): number | undefined {
  for (const dir of ['/dev/shm', tmpdir()]) {
    const path = join(dir, `zi-sandbox-${process.pid}-${Math.random().toString(36).slice(2)}`);
    try {
      const fd = openSync(path, 'wx+', 0o600);
      unlinkSync(path);
      return fd;
    } catch {
      // Not there or not writable: try the next place.
    }
  }
  return undefined;
}

export function closeBulkFile(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    // Already closed.
  }
}

/**
 * Moves the large typed arrays of `parts` (each an array, or anything else,
 * which is left alone) to the file: each goes as null in a shallow copy of
 * its part. Returns the copies and where the columns went (none: undefined).
 */
export function stash(fd: number | undefined, parts: readonly unknown[]): { parts: unknown[]; bulk?: BulkEntry[] } {
  if (fd === undefined) return { parts: [...parts] };
  const out = [...parts];
  const bulk: BulkEntry[] = [];
  let at = 0;
  for (let slot = 0; slot < parts.length; slot++) {
    const part = parts[slot];
    if (!Array.isArray(part)) continue;
    let copy: unknown[] | undefined;
    for (let index = 0; index < part.length; index++) {
      const v: unknown = part[index];
      const kind = v instanceof Float64Array ? F64 : v instanceof Uint8Array ? U8 : 0;
      if (kind === 0) continue;
      const view = v as Float64Array | Uint8Array;
      if (view.byteLength < BULK_MIN_BYTES || !writeAll(fd, bytesOf(view), at)) continue;
      copy ??= [...part];
      copy[index] = null;
      bulk.push([slot, index, kind, view.byteLength]);
      at += view.byteLength;
    }
    if (copy !== undefined) out[slot] = copy;
  }
  return bulk.length === 0 ? { parts: out } : { parts: out, bulk };
}

/**
 * Reads the columns `bulk` names back into `parts` (in place), after
 * checking the descriptors against the parts and the total against
 * `maxBytes`. Throws BAD_RESULT on a descriptor that does not fit,
 * RESULT_TOO_LARGE past the limit.
 */
export function unstash(fd: number | undefined, parts: unknown[], bulk: unknown, maxBytes: number, op: string): void {
  if (bulk === undefined) return;
  const bad = () => new SandboxError('BAD_RESULT', `${op}: the sandbox described its columns wrongly`, { op });
  if (fd === undefined || !Array.isArray(bulk)) throw bad();
  let total = 0;
  for (const e of bulk) {
    if (!Array.isArray(e) || e.length !== 4) throw bad();
    const [slot, index, kind, bytes] = e as unknown[];
    const part = typeof slot === 'number' ? parts[slot] : undefined;
    if (!Array.isArray(part) || !Number.isSafeInteger(index) || (index as number) < 0) throw bad();
    if ((index as number) >= part.length || part[index as number] !== null) throw bad();
    if ((kind !== F64 && kind !== U8) || !Number.isSafeInteger(bytes) || (bytes as number) < 0) throw bad();
    if (kind === F64 && (bytes as number) % 8 !== 0) throw bad();
    total += bytes as number;
  }
  if (total > maxBytes) {
    throw new SandboxError('RESULT_TOO_LARGE', `the result is over ${maxBytes} bytes`, {
      op,
      limit: maxBytes,
      actual: total,
    });
  }
  let at = 0;
  for (const [slot, index, kind, bytes] of bulk as BulkEntry[]) {
    const column = kind === F64 ? new Float64Array(bytes / 8) : new Uint8Array(bytes);
    if (!readAll(fd, bytesOf(column), at)) throw bad();
    (parts[slot] as unknown[])[index] = column;
    at += bytes;
  }
  if (at > KEEP_BYTES) ftruncateSync(fd, 0);
}

function bytesOf(v: Float64Array | Uint8Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function writeAll(fd: number, bytes: Uint8Array, at: number): boolean {
  try {
    for (let done = 0; done < bytes.length; ) {
      done += writeSync(fd, bytes, done, bytes.length - done, at + done);
    }
    return true;
  } catch {
    return false;
  }
}

/** False if the file ends early: the writer said more than it wrote. */
function readAll(fd: number, bytes: Uint8Array, at: number): boolean {
  for (let done = 0; done < bytes.length; ) {
    const n = readSync(fd, bytes, done, bytes.length - done, at + done);
    if (n === 0) return false;
    done += n;
  }
  return true;
}
