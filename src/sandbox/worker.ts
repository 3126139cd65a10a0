/**
 * A sandbox process: a child of the node that runs contract code in
 * isolated-vm isolates, one call at a time, on the host's orders
 * (processes.ts). It holds no state the node needs: the host may SIGKILL it
 * at any moment and start another.
 */
import { openSync, readSync, writeSync } from 'node:fs';
import { BULK_FD, type BulkEntry, stash, unstash } from './bulk.ts';
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
      /** Columns of a and b sent through the shared file (bulk.ts). */
      bulk?: BulkEntry[];
    }
  | { t: 'drop'; key: string };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'done'; id: number; reply: unknown; bulk?: BulkEntry[] }
  | { t: 'fail'; id: number; code: string; message: string; meta: Record<string, unknown> };

const runners = new Map<string, IsolateRunner>();
/** The shared file large columns travel through, if the host gave one. */
const bulkFd = process.argv.includes(`--bulk-fd=${BULK_FD}`) ? BULK_FD : undefined;

/**
 * How often a call's process looks at its own resident memory: when the
 * headroom to its ceiling would last GROWTH_BYTES_PER_MS (or twice the growth
 * seen since the last look, if faster), within these bounds. Measured peak
 * growth: 2-3.3 MiB/ms (strings doubled, Float64Arrays kept; loaded 2-core
 * VM). Near the ceiling it looks every 2 ms as before, so it passes the
 * ceiling by at most 2 ms of growth; far from it, it sleeps longer, because
 * each wake-up costs CPU (60-200 µs on a loaded VM: looking every 2 ms took
 * 2-3 % of a core from every long call).
 */
const GROWTH_BYTES_PER_MS = 8 * 1024 * 1024;
const SELF_WATCH_MIN_MS = 2;
const SELF_WATCH_MAX_MS = 50;
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
    const ceiling = memoryCeiling(runner.limits, residentBytes());
    // The host looks far less often (processes.ts); strings double faster than that.
    let watch: NodeJS.Timeout | undefined;
    let last = { at: performance.now(), rss: residentBytes() };
    const look = () => {
      const at = performance.now();
      const rss = residentBytes();
      if (rss > ceiling) {
        writeSync(2, `\nZI_SANDBOX_MEMORY ${rss}\n`);
        process.kill(process.pid, 'SIGKILL');
      }
      const growth = Math.max(GROWTH_BYTES_PER_MS, (2 * (rss - last.rss)) / Math.max(at - last.at, 1));
      last = { at, rss };
      const wait = Math.min(SELF_WATCH_MAX_MS, Math.max(SELF_WATCH_MIN_MS, (ceiling - rss) / growth));
      watch = setTimeout(look, wait);
    };
    look();
    try {
      const args: unknown[] = [m.a, m.b];
      unstash(bulkFd, args, m.bulk, Number.MAX_SAFE_INTEGER, m.op);
      const reply = await runner.call(m.op, args[0] as CallArg, args[1] as CallArg);
      if (Array.isArray(reply)) {
        const { parts, bulk } = stash(bulkFd, [reply]);
        send({ t: 'done', id: m.id, reply: parts[0], bulk });
      } else send({ t: 'done', id: m.id, reply });
    } finally {
      clearTimeout(watch);
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
