/**
 * bitcoind-style cookie auth: the node writes a fresh random secret to a file
 * only the operator's user can read; any local client that can read it may
 * call the API. A new secret per start means a leaked cookie dies with the
 * process.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { makeDirs } from '../../chain/dirs.ts';
import { CookieError } from '../../rpc/errors.ts';

export const COOKIE_USER = '__cookie__';
const SECRET_BYTES = 32;
const COOKIE_PATTERN = /^__cookie__:([0-9a-f]{64})$/;

export interface Cookie {
  user: string;
  password: string;
}

/** Writes a new `__cookie__:<64 hex>` atomically with mode 0600; returns that line. */
export async function writeCookie(path: string): Promise<string> {
  const line = `${COOKIE_USER}:${randomBytes(SECRET_BYTES).toString('hex')}`;
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await makeDirs(dir, 0o700);
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(line, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    // Replacing is right here: a leftover cookie belongs to a node that died.
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw new CookieError(
      'COOKIE_UNWRITABLE',
      `cannot write RPC cookie ${path}: ${errno(err)}`,
      { path },
      { cause: err },
    );
  }
  return line;
}

export async function readCookie(path: string): Promise<Cookie> {
  let text: string;
  try {
    const handle = await open(path, 'r');
    try {
      // A cookie is 75 bytes; read a little more to notice a wrong file.
      const buf = Buffer.alloc(256);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (errno(err) === 'ENOENT') {
      throw new CookieError(
        'NODE_NOT_RUNNING',
        `no RPC cookie at ${path}: the node is not running, or it runs with a different --datadir or --network (start it with \`zi node\`, or \`zi solve\` for a Solver)`,
        { path },
      );
    }
    throw new CookieError(
      'COOKIE_UNREADABLE',
      `cannot read RPC cookie ${path}: ${errno(err)}`,
      { path },
      { cause: err },
    );
  }
  const match = COOKIE_PATTERN.exec(text.trim());
  if (!match) throw new CookieError('BAD_COOKIE', `${path} is not a Zi RPC cookie`, { path });
  return { user: COOKIE_USER, password: match[1]! };
}

/**
 * Deletes the cookie, but only if it still holds `expected`: a second node
 * started on the same data dir may have replaced it, and its clients must
 * keep working.
 */
export async function removeCookie(path: string, expected?: string): Promise<void> {
  if (expected !== undefined) {
    const current = await readFile(path, 'utf8').catch(() => undefined);
    if (current !== expected) return;
  }
  await unlink(path).catch((err: unknown) => {
    if (errno(err) !== 'ENOENT') throw err;
  });
}

function errno(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err) return String(err.code);
  return err instanceof Error ? err.message : 'unknown error';
}
