import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { ZiError } from '../errors.ts';
import { damagedTable } from './tables.ts';

export type StoreCode =
  | 'WRONG_NETWORK'
  | 'SCHEMA'
  | 'DB_CORRUPT'
  | 'DB_MISSING'
  | 'DB_NOT_DIRECTORY'
  | 'DB_REINDEXING'
  | 'DB_LOCKED'
  | 'DB_WRITE';

/** Something wrong with a database on disk; `file` is the one to look at. */
export class StoreError extends ZiError<StoreCode, { file?: string }> {}

export type LevelDB = Level<Uint8Array, Uint8Array>;

/** What to tell the operator after naming the damaged file of the chain database in `dir`. */
export function reindexHint(dir: string): string {
  return `restore ${dir} from a backup, or rebuild it from its stored blocks with \`zi node --reindex\``;
}

/** Files LevelDB writes before any data, so a directory holding only these has nothing to lose. */
const EMPTY_DB_FILES = new Set(['LOCK', 'LOG', 'LOG.old']);

const CHAIN_FILE_HINT =
  'restore the directory from a backup, or move the file away to start an empty chain that downloads its blocks from peers';

/**
 * A database directory is new when it does not exist or holds nothing but
 * what LevelDB writes before the first record. Only then may it be created:
 * creating over existing files (say, after CURRENT was lost) makes LevelDB
 * start an empty database and delete the old tables as garbage.
 */
export async function isNewDatabase(path: string, fileHint = CHAIN_FILE_HINT): Promise<boolean> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  if (!info.isDirectory()) {
    throw new StoreError('DB_NOT_DIRECTORY', `${path} is a file, not a database directory: ${fileHint}`, {
      file: path,
    });
  }
  return (await readdir(path)).every((f) => EMPTY_DB_FILES.has(f));
}

/** Opens a level database of raw bytes, creating it only when it is new; damage becomes a StoreError. */
export async function openLevel(path: string, what = 'chain database', hint = reindexHint(path)): Promise<LevelDB> {
  const create = await isNewDatabase(path);
  // Before LevelDB reads a block: it checks none of their checksums itself (tables.ts).
  const damage = create ? undefined : await damagedTable(path);
  if (damage) {
    throw new StoreError('DB_CORRUPT', `${what} file ${damage.file} is damaged (${damage.why}): ${hint}`, {
      file: damage.file,
    });
  }
  const db = new Level<Uint8Array, Uint8Array>(path, {
    keyEncoding: 'view',
    valueEncoding: 'view',
    createIfMissing: create,
  });
  try {
    await db.open();
  } catch (err) {
    throw await openError(path, err, what, hint);
  }
  return db;
}

/**
 * Why the level database in `path` does not open, as a StoreError, found by
 * opening it once more without creating anything: for stores such as the IPFS
 * blockstore whose wrappers keep only "Database failed to open".
 */
export async function diagnoseLevel(path: string, what: string, hint: string): Promise<unknown> {
  const probe = new Level(path, { createIfMissing: false });
  try {
    await probe.open();
  } catch (err) {
    return openError(path, err, what, hint);
  }
  await probe.close();
  return undefined;
}

/** Turns LevelDB's "Database failed to open" into an error that names the file and what to do. */
export async function openError(path: string, err: unknown, what: string, hint: string): Promise<unknown> {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const reason = cause?.message ?? (err as Error)?.message ?? String(err);
  const current = await readFile(join(path, 'CURRENT'), 'utf8').catch(() => undefined);
  if (current !== undefined && !/^MANIFEST-\d+\n$/.test(current)) {
    // LevelDB reads any text there as a file name and reports that file missing.
    const file = join(path, 'CURRENT');
    return new StoreError('DB_CORRUPT', `${what} file ${file} is damaged (it names no MANIFEST): ${hint}`, { file });
  }
  if (cause?.code === 'LEVEL_LOCKED') return new StoreError('DB_LOCKED', `${path} is in use by another process`);
  if (cause?.code === 'LEVEL_IO_ERROR' && reason.endsWith('Not a directory')) {
    return new StoreError('DB_NOT_DIRECTORY', `${path} is not a directory (${reason}): ${hint}`, { file: path });
  }
  const named = /(\/\S+?): No such file or directory/.exec(reason) ?? /missing files; e\.g\.: (\S+)/.exec(reason);
  if (named) {
    const file = named[1]!;
    return new StoreError(
      'DB_MISSING',
      `${what} file ${file} is missing (${reason}): ${hint}`,
      { file },
      { cause: err },
    );
  }
  if (/does not exist \(create_if_missing is false\)/.test(reason)) {
    const file = join(path, 'CURRENT');
    return new StoreError('DB_MISSING', `${what} file ${file} is missing: ${hint}`, { file }, { cause: err });
  }
  if (cause?.code === 'LEVEL_CORRUPTION') {
    const file = /CURRENT/.test(reason) ? join(path, 'CURRENT') : await manifestOf(path);
    return new StoreError(
      'DB_CORRUPT',
      `${what} file ${file} is damaged (${reason}): ${hint}`,
      { file },
      { cause: err },
    );
  }
  return new StoreError(
    'DB_CORRUPT',
    `cannot open the ${what} in ${path} (${reason}): ${hint}`,
    { file: path },
    {
      cause: err,
    },
  );
}

/** The MANIFEST that CURRENT names, or the directory when CURRENT says nothing usable. */
async function manifestOf(path: string): Promise<string> {
  const name = await readFile(join(path, 'CURRENT'), 'utf8').catch(() => '');
  const file = name.trim();
  return /^MANIFEST-\d+$/.test(file) ? join(path, file) : join(path, 'CURRENT');
}

/**
 * LevelDB's RepairDB: rebuilds CURRENT and MANIFEST from the tables and logs
 * it finds and keeps what it can read of damaged tables. `level` is
 * classic-level on Node, whose static `repair` its types leave out.
 */
export function repairLevel(path: string): Promise<void> {
  return (Level as unknown as { repair(location: string): Promise<void> }).repair(path);
}
