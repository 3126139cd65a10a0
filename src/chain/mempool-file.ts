import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { concatBytes, equalBytes, Reader, toHex, Writer } from './encoding.ts';
import { ZiError } from './errors.ts';
import { type Hash, sha256 } from './hash.ts';
import type { Mempool } from './mempool.ts';
import { Transaction } from './transaction.ts';

/**
 * mempool.dat: the pending transactions, written at shutdown and read back
 * at start, as Bitcoin Core does, so a pending send survives a restart.
 *
 *   "ZIMP" ‖ u32 version ‖ genesis hash ‖ u32 count ‖ count × (u32 length ‖ tx bytes) ‖ SHA-256 of all before it
 *
 * Nothing in it is trusted: every transaction is admitted again as if it had
 * just arrived, against the tip the node has now.
 */
export const MEMPOOL_FILE = 'mempool.dat';
const MAGIC = new Uint8Array([0x5a, 0x49, 0x4d, 0x50]); // 'ZIMP'
const VERSION = 1;
const HEADER_BYTES = 4 + 4 + 32 + 4;

export class MempoolFileError extends ZiError<'BAD_MEMPOOL_FILE', { file: string }> {}

export function encodeMempool(txs: readonly Transaction[], genesis: Hash): Uint8Array {
  const w = new Writer(HEADER_BYTES + 64).bytes(MAGIC).u32(VERSION).bytes(genesis).u32(txs.length);
  for (const tx of txs) w.varBytes(tx.toBytes(), 4);
  const body = w.finish();
  return concatBytes(body, sha256(body));
}

/** The transactions of a mempool.dat, or a MempoolFileError saying what is wrong with it. */
export function decodeMempool(
  bytes: Uint8Array,
  opts: { genesis: Hash; maxTxBytes: number; maxFileBytes: number; file: string },
): Transaction[] {
  const bad = (why: string, cause?: unknown) =>
    new MempoolFileError('BAD_MEMPOOL_FILE', `${opts.file} ${why}`, { file: opts.file }, { cause });
  if (bytes.length > opts.maxFileBytes) throw bad(`is ${bytes.length} bytes, over the ${opts.maxFileBytes} allowed`);
  if (bytes.length < HEADER_BYTES + 32) throw bad('is too short to be a mempool file');
  const body = bytes.subarray(0, bytes.length - 32);
  if (!equalBytes(sha256(body), bytes.subarray(bytes.length - 32))) throw bad('fails its checksum');
  const r = new Reader(body);
  try {
    if (!equalBytes(r.bytes(4), MAGIC)) throw bad('is not a mempool file');
    const version = r.u32();
    if (version !== VERSION) throw bad(`has version ${version}; this zi reads version ${VERSION}`);
    if (!equalBytes(r.bytes(32), opts.genesis)) throw bad('belongs to another network');
    const count = r.u32();
    // Each entry takes at least its 4-byte length: a count the file cannot hold is refused before any work.
    if (count * 4 > body.length - HEADER_BYTES) throw bad(`claims ${count} transactions, more than it can hold`);
    const txs: Transaction[] = [];
    for (let i = 0; i < count; i++) {
      txs.push(Transaction.fromBytes(r.varBytes(4, opts.maxTxBytes, 'mempool tx'), opts.maxTxBytes));
    }
    r.end('mempool file');
    return txs;
  } catch (err) {
    if (err instanceof MempoolFileError) throw err;
    throw bad(`does not decode (${(err as Error).message})`, err);
  }
}

/** Writes the mempool atomically: a temp file, fsynced, renamed over the old one. */
export async function saveMempool(path: string, mempool: Mempool, genesis: Hash): Promise<number> {
  // Per sender in nonce order, so loading admits each transaction after the ones it depends on.
  const txs = mempool
    .entries()
    .sort(
      (a, b) => a.sender.localeCompare(b.sender) || (a.tx.nonce < b.tx.nonce ? -1 : a.tx.nonce > b.tx.nonce ? 1 : 0),
    )
    .map((e) => e.tx);
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(encodeMempool(txs, genesis));
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await handle.close();
  await rename(tmp, path);
  return txs.length;
}

export interface MempoolLoad {
  loaded: number;
  /** Transactions that no longer apply on the tip (mined, spent, outbid) or break a rule now. */
  dropped: number;
  /** Why the file itself was refused, when it was; the mempool then starts empty. */
  refused?: MempoolFileError;
}

/** Reads mempool.dat back into `mempool`, re-checking every transaction; a missing file is an empty mempool. */
export async function loadMempool(
  path: string,
  mempool: Mempool,
  genesis: Hash,
  maxTxBytes: number,
): Promise<MempoolLoad> {
  const size = await stat(path).then(
    (s) => s.size,
    () => undefined,
  );
  if (size === undefined) return { loaded: 0, dropped: 0 };
  const maxFileBytes = 2 * mempool.maxBytes + (1 << 20);
  let txs: Transaction[];
  try {
    if (size > maxFileBytes) throw new Error(`is ${size} bytes, over the ${maxFileBytes} allowed`);
    txs = decodeMempool(new Uint8Array(await readFile(path)), { genesis, maxTxBytes, maxFileBytes, file: path });
  } catch (err) {
    const refused =
      err instanceof MempoolFileError
        ? err
        : new MempoolFileError('BAD_MEMPOOL_FILE', `${path} ${(err as Error).message}`, { file: path });
    return { loaded: 0, dropped: 0, refused };
  }
  let loaded = 0;
  const seen = new Set<string>();
  for (const tx of txs) {
    const id = toHex(tx.hash());
    if (seen.has(id)) continue;
    seen.add(id);
    try {
      await mempool.accept(tx);
      loaded++;
    } catch {
      // Mined or spent meanwhile, outbid, or no longer valid: dropped and counted.
    }
  }
  return { loaded, dropped: txs.length - loaded };
}
