/**
 * A sandbox process: a child of the node that runs contract code in
 * isolated-vm isolates, one call at a time, on the host's orders
 * (processes.ts). It holds no state the node needs: the host may SIGKILL it
 * at any moment and start another.
 */
import { openSync, readSync, writeSync } from 'node:fs';
import { SandboxError } from './errors.ts';
import { type CallArg, IsolateRunner } from './isolate.ts';
import { memoryCeiling, type SandboxLimits } from './limits.ts';

export type ToWorker =
  | {
      t: 'call';
      id: number;
      key: string;
      source?: string;
      limits?: SandboxLimits;
      op: string;
      a?: CallArg;
      b?: CallArg;
    }
  | { t: 'drop'; key: string };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'done'; id: number; reply: unknown }
  | { t: 'fail'; id: number; code: string; message: string; meta: Record<string, unknown> };

const runners = new Map<string, IsolateRunner>();

/** How often a call's process checks its own resident memory. */
const SELF_WATCH_MS = 2;
const PAGE_BYTES = 4096;
const statm = (() => {
  try {
    return openSync('/proc/self/statm', 'r');
  } catch {
    return undefined;
  }
})();
const statmBuf = Buffer.alloc(128);

/** Resident bytes: one pread of /proc/self/statm (a few µs), or Node's figure elsewhere. */
function residentBytes(): number {
  if (statm === undefined) return process.memoryUsage.rss();
  const n = readSync(statm, statmBuf, 0, statmBuf.length, 0);
  const text = statmBuf.toString('latin1', 0, n);
  return Number(text.slice(text.indexOf(' ') + 1, text.indexOf(' ', text.indexOf(' ') + 1))) * PAGE_BYTES;
}

function send(message: FromWorker): void {
  process.send?.(message);
}

async function call(m: Extract<ToWorker, { t: 'call' }>): Promise<void> {
  try {
    let runner = runners.get(m.key);
    if (runner === undefined) {
      if (m.source === undefined || m.limits === undefined) {
        throw new SandboxError('BAD_ARGUMENT', 'this sandbox process does not hold that contract', { op: m.op });
      }
      runner = new IsolateRunner(m.source, m.limits);
      runners.set(m.key, runner);
    }
    const ceiling = memoryCeiling(runner.limits);
    // The host looks every 10 ms; strings double faster than that.
    const watch = setInterval(() => {
      const rss = residentBytes();
      if (rss > ceiling) {
        writeSync(2, `\nZI_SANDBOX_MEMORY ${rss}\n`);
        process.kill(process.pid, 'SIGKILL');
      }
    }, SELF_WATCH_MS);
    try {
      send({ t: 'done', id: m.id, reply: await runner.call(m.op, m.a, m.b) });
    } finally {
      clearInterval(watch);
    }
  } catch (err) {
    const e =
      err instanceof SandboxError
        ? err
        : new SandboxError('THROWN', `sandbox process: ${err instanceof Error ? err.message : String(err)}`);
    send({ t: 'fail', id: m.id, code: e.code, message: e.message, meta: { ...e.meta } });
  }
}

process.on('message', (m: ToWorker) => {
  if (m.t === 'call') void call(m);
  else if (m.t === 'drop') {
    runners.get(m.key)?.dispose();
    runners.delete(m.key);
  }
});
// The node is gone (exited, or killed with -9): nothing left to serve.
process.on('disconnect', () => process.exit(0));
send({ t: 'ready' });
