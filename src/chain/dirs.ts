import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

function fsError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * `mkdir -p`, parents first, one component at a time. Node's own
 * `mkdir(…, { recursive: true })` never settles under /proc (Node 24):
 * mkdir there fails with ENOENT although the parent exists, and its loop
 * makes the parent again and retries forever, sync or async. Errors keep
 * their errno code (ENOTDIR when a file is in the way).
 */
export async function makeDirs(path: string, mode?: number): Promise<void> {
  const missing: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    const st = await stat(p).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      return undefined;
    });
    if (st?.isDirectory()) break;
    if (st) throw fsError('ENOTDIR', `cannot create ${resolve(path)}: ${p} is a file`);
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing) {
    try {
      await mkdir(p, { mode });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Made meanwhile by someone else: fine if it is a directory.
      if (code === 'EEXIST' && (await stat(p)).isDirectory()) continue;
      if (code === 'ENOENT') throw fsError('ENOENT', `cannot create ${p}: this file system does not allow it`);
      throw err;
    }
  }
}
