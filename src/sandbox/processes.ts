/**
 * The sandbox processes (DESIGN §4, "Sandbox isolation"): contract code runs
 * in child processes of the node that the node can SIGKILL. In-process
 * isolates can hang their host for good (a rejected promise whose reason has
 * looping getters spins a host thread while isolated-vm copies it out; a Map
 * grown to the heap limit never returns) and strings can take several times
 * the isolate's memory cap; a process can always be killed.
 *
 * Each process runs one call at a time. While a call runs, a watchdog reads
 * the process's wall time, CPU time and resident memory and SIGKILLs it when
 * any passes the call's budget:
 *   wall  > 2 × timeout + slack(timeout)     → TIMEOUT
 *   CPU   > 4 × timeout + slack(timeout)     → TIMEOUT
 *   RSS   > memoryCeiling(limits, RSS at the call's start) → MEMORY_LIMIT
 * (2 × timeout: the contract's top level and the operation each get one
 * timeout; isolated-vm enforces those itself, so the watchdog only ever
 * fires on what isolated-vm cannot stop). The call then fails with that
 * typed error and the next call starts a fresh process.
 *
 * The host looks every 10-100 ms (as the memory headroom and the limits
 * need). The process watches its own resident memory too, every 2-50 ms
 * (every 2 ms near the ceiling), and kills itself past the same ceiling
 * (worker.ts): strings and buffers can grow by hundreds of MiB between two
 * of the host's looks. Large columns of a call and its reply travel through
 * a file shared with the process, not the IPC channel (bulk.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BULK_FD, closeBulkFile, openBulkFile, stash, unstash } from './bulk.ts';
import { SandboxError, type SandboxErrorCode } from './errors.ts';
import type { CallArg, RawReply } from './isolate.ts';
import { memoryCeiling, type SandboxLimits } from './limits.ts';
import type { FromWorker, ToWorker } from './worker.ts';

/**
 * Margin past 2 × timeout (wall) or 4 × timeout (CPU) before the watchdog
 * kills: the time isolated-vm needs to stop the call itself and reply on a
 * loaded machine. It grows with the timeout, since a kill that comes too
 * early costs only a fresh process (the call fails TIMEOUT either way), but
 * one that comes too late lets a hostile call spin a core for seconds.
 */
function slack(timeoutMs: number): number {
  return Math.min(2_000, Math.max(250, 2 * timeoutMs));
}
/**
 * How often a running call's process is measured: as often as its memory
 * headroom needs at BACKSTOP_GROWTH_BYTES_PER_MS, within these bounds, and
 * never later than a wall limit or a queued call's deadline. The process's
 * own look (worker.ts) is the fast one; this one is the backstop for a
 * process whose main thread cannot look (a hostile value being copied out),
 * and each wake-up costs the node CPU (a fixed 10 ms: 1.3-2 % of a core on a
 * loaded VM).
 */
const WATCH_MIN_MS = 10;
const WATCH_MAX_MS = 100;
const BACKSTOP_GROWTH_BYTES_PER_MS = 2 * 1024 * 1024;
/** A process that has not said it is ready by then is killed (and the call fails CRASHED). */
const START_TIMEOUT_MS = 15_000;
/** Contracts one process keeps compiled; the least recently used goes first. */
const RESIDENT_CONTRACTS = 8;
/** Linux's USER_HZ: the unit of utime and stime in /proc/PID/stat. */
const CLOCK_TICKS_PER_S = 100;
const PAGE_BYTES = 4096;

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

export interface CallOptions {
  /** Settle within this many ms of the call, queueing and start-up included (TIMEOUT otherwise). */
  deadlineMs?: number;
}

interface Job {
  key: string;
  source: string;
  limits: SandboxLimits;
  op: string;
  a: CallArg;
  b: CallArg;
  deadline: number;
  resolve: (reply: RawReply) => void;
  reject: (err: Error) => void;
}

interface Running {
  job: Job;
  id: number;
  wallLimit: number;
  cpuLimitTicks: number;
  rssLimit: number;
  rssPeak: number;
  /** Resident bytes at the latest look. */
  rssLast: number;
}

class SandboxProcess {
  readonly child: ChildProcess;
  /** Contracts compiled in this process, least recently used first. */
  readonly loaded = new Set<string>();
  ready = false;
  dead = false;
  running: Running | undefined;
  /** Why the watchdog killed it, for the failing call. */
  killedFor: SandboxError | undefined;
  stderr = '';
  readonly started = performance.now();
  /** The file large columns travel through (bulk.ts), if one could be made. */
  readonly bulk = openBulkFile();
  /** /proc/PID/stat, opened once: the watchdog re-reads it with one pread. */
  #stat: number | undefined;

  constructor(onMessage: (p: SandboxProcess, m: FromWorker) => void, onExit: (p: SandboxProcess) => void) {
    this.child = fork(WORKER, this.bulk === undefined ? [] : [`--bulk-fd=${BULK_FD}`], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc', this.bulk ?? 'ignore'],
      // Not the node's own flags (a test runner's, an inspector's).
      execArgv: [],
    });
    try {
      this.#stat = openSync(`/proc/${this.pid}/stat`, 'r');
    } catch {
      // No /proc (or the spawn failed): the watchdog goes by wall time alone.
    }
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-2000);
    });
    this.child.on('message', (m: FromWorker) => onMessage(this, m));
    // 'close', not 'exit': stderr is read to its end first (it may say why the process died).
    this.child.on('close', () => {
      this.dead = true;
      closeBulkFile(this.bulk);
      if (this.#stat !== undefined) closeSync(this.#stat);
      this.#stat = undefined;
      onExit(this);
    });
    this.child.on('error', () => {
      // A failed spawn or a send to a dead child: 'exit' follows, or the watchdog times it out.
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  send(message: ToWorker): void {
    if (this.dead || !this.child.connected) return;
    this.child.send(message, (err) => {
      // A message too large to serialise, or a child already gone: the child is of no more use.
      if (err) this.kill(new SandboxError('CRASHED', `sandbox process: ${err.message}`));
    });
  }

  /** CPU ticks (user + system) and resident bytes, from one read of /proc/PID/stat; undefined where there is none. */
  measure(): { ticks: number; rss: number } | undefined {
    if (this.#stat === undefined) return undefined;
    try {
      const n = readSync(this.#stat, statBuf, 0, statBuf.length, 0);
      const stat = statBuf.toString('latin1', 0, n);
      // Fields after the command name: state is field 3, utime 14, stime 15, rss (pages) 24.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { ticks: Number(fields[11]) + Number(fields[12]), rss: Number(fields[21]) * PAGE_BYTES };
    } catch {
      return undefined;
    }
  }

  kill(reason: SandboxError): void {
    if (this.dead) return;
    this.killedFor ??= reason;
    this.child.kill('SIGKILL');
  }

  /** Keeps the node's event loop alive only while a call runs here. */
  hold(busy: boolean): void {
    const channel = this.child.channel as { ref(): void; unref(): void } | undefined;
    const stderr = this.child.stderr as unknown as { ref(): void; unref(): void } | null;
    if (busy) {
      this.child.ref();
      channel?.ref();
      stderr?.ref();
    } else {
      this.child.unref();
      channel?.unref();
      stderr?.unref();
    }
  }
}

const statBuf = Buffer.alloc(1024);

const every = new Set<SandboxProcesses>();
let exitHook = false;

/**
 * A pool of sandbox processes. Calls queue in order and go to an idle
 * process, one that already holds the contract first; up to `max` run side
 * by side.
 */
export class SandboxProcesses {
  readonly max: number;
  #procs: SandboxProcess[] = [];
  #queue: Job[] = [];
  #refs = new Map<string, number>();
  #nextId = 1;
  #timer: NodeJS.Timeout | undefined;
  /** performance.now() when the pending look fires. */
  #due = Number.POSITIVE_INFINITY;
  #closed = false;

  constructor(options: { max?: number } = {}) {
    this.max = options.max ?? Math.max(2, availableParallelism());
    if (!Number.isSafeInteger(this.max) || this.max < 1) {
      throw new SandboxError('BAD_ARGUMENT', 'a sandbox pool needs at least one process', { name: 'max' });
    }
    every.add(this);
    if (!exitHook) {
      exitHook = true;
      // Children never outlive the node, however it exits.
      process.on('exit', () => {
        for (const pool of every) pool.close();
      });
    }
  }

  /** Process ids of the live sandbox processes. */
  get pids(): number[] {
    return this.#procs.filter((p) => !p.dead).map((p) => p.pid);
  }

  /** Contract key of a source with its limits: the same key is the same compiled isolate. */
  static keyOf(source: string, limits: SandboxLimits): string {
    return createHash('sha256').update(JSON.stringify(limits)).update('\0').update(source).digest('hex');
  }

  /** A runtime holds a key while it lives; processes drop a contract nobody holds. */
  retain(key: string): void {
    this.#refs.set(key, (this.#refs.get(key) ?? 0) + 1);
  }

  release(key: string): void {
    const n = (this.#refs.get(key) ?? 1) - 1;
    if (n > 0) {
      this.#refs.set(key, n);
      return;
    }
    this.#refs.delete(key);
    for (const p of this.#procs) {
      if (p.loaded.delete(key)) p.send({ t: 'drop', key });
    }
  }

  run(
    key: string,
    source: string,
    limits: SandboxLimits,
    op: string,
    a: CallArg,
    b: CallArg,
    options: CallOptions = {},
  ): Promise<RawReply> {
    if (this.#closed)
      return Promise.reject(new SandboxError('DISPOSED', 'the sandbox processes were shut down', { op }));
    return new Promise<RawReply>((resolve, reject) => {
      const deadline =
        options.deadlineMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + options.deadlineMs;
      this.#queue.push({ key, source, limits, op, a, b, deadline, resolve, reject });
      this.#dispatch();
    });
  }

  /** Kills every process at once and fails every queued and running call (DISPOSED). Never waits. */
  close(): void {
    this.#closed = true;
    every.delete(this);
    const err = () => new SandboxError('DISPOSED', 'the sandbox processes were shut down');
    for (const job of this.#queue.splice(0)) job.reject(err());
    for (const p of this.#procs) {
      const r = p.running;
      p.running = undefined;
      r?.job.reject(err());
      p.kill(err());
    }
    this.#procs = [];
    this.#stopWatch();
  }

  #dispatch(): void {
    for (let k = 0; k < this.#queue.length; ) {
      const job = this.#queue[k]!;
      // A process being killed may still deliver its last reply: it takes no new call.
      const idle = this.#procs.filter((p) => p.ready && !p.dead && !p.killedFor && p.running === undefined);
      const proc = idle.find((p) => p.loaded.has(job.key)) ?? idle[0];
      if (proc === undefined) {
        if (this.#procs.filter((p) => !p.dead).length < this.max) this.#spawn();
        break;
      }
      this.#queue.splice(k, 1);
      this.#start(proc, job);
    }
    this.#watchIfNeeded();
  }

  #spawn(): void {
    const proc = new SandboxProcess(
      (p, m) => this.#onMessage(p, m),
      (p) => this.#onExit(p),
    );
    proc.hold(true);
    this.#procs.push(proc);
  }

  #start(proc: SandboxProcess, job: Job): void {
    const id = this.#nextId++;
    const fresh = !proc.loaded.has(job.key);
    proc.loaded.delete(job.key);
    proc.loaded.add(job.key);
    if (proc.loaded.size > RESIDENT_CONTRACTS) {
      const oldest = proc.loaded.values().next().value as string;
      proc.loaded.delete(oldest);
      proc.send({ t: 'drop', key: oldest });
    }
    const now = performance.now();
    const m = proc.measure();
    const t = job.limits.timeoutMs;
    proc.running = {
      job,
      id,
      wallLimit: Math.min(now + 2 * t + slack(t), job.deadline),
      cpuLimitTicks: (m?.ticks ?? 0) + Math.ceil(((4 * t + slack(t)) * CLOCK_TICKS_PER_S) / 1000),
      rssLimit: memoryCeiling(job.limits, m?.rss),
      rssPeak: m?.rss ?? 0,
      rssLast: m?.rss ?? 0,
    };
    proc.hold(true);
    const { parts, bulk } = stash(proc.bulk, [job.a, job.b]);
    const [a, b] = parts as [CallArg, CallArg];
    proc.send(
      fresh
        ? { t: 'call', id, key: job.key, source: job.source, limits: job.limits, op: job.op, a, b, bulk }
        : { t: 'call', id, key: job.key, op: job.op, a, b, bulk },
    );
  }

  #onMessage(proc: SandboxProcess, m: FromWorker): void {
    if (m.t === 'ready') {
      proc.ready = true;
      proc.hold(false);
      this.#dispatch();
      return;
    }
    const r = proc.running;
    if (r === undefined || r.id !== m.id) return;
    proc.running = undefined;
    proc.hold(false);
    if (m.t === 'done') {
      try {
        if (Array.isArray(m.reply)) unstash(proc.bulk, [m.reply], m.bulk, r.job.limits.maxResultBytes, r.job.op);
        r.job.resolve(m.reply as RawReply);
      } catch (err) {
        r.job.reject(err as Error);
      }
    } else r.job.reject(new SandboxError(m.code as SandboxErrorCode, m.message, m.meta));
    this.#dispatch();
  }

  #onExit(proc: SandboxProcess): void {
    this.#procs = this.#procs.filter((p) => p !== proc);
    const r = proc.running;
    proc.running = undefined;
    if (r !== undefined) {
      const oom = /ZI_SANDBOX_MEMORY (\d+)/.exec(proc.stderr);
      r.job.reject(
        proc.killedFor ??
          (oom !== null
            ? memoryKilled(r.job.op, r.job.limits.memoryLimitMiB, Number(oom[1]))
            : new SandboxError('CRASHED', `${r.job.op}: the sandbox process died during the call`, {
                op: r.job.op,
              })),
      );
    } else if (!proc.ready && !this.#closed) {
      // It died starting up: fail the oldest waiting call rather than respawning forever.
      const job = this.#queue.shift();
      const tail = proc.stderr.trim().split('\n').pop() ?? '';
      job?.reject(
        new SandboxError('CRASHED', `a sandbox process failed to start${tail ? `: ${tail}` : ''}`, { op: job.op }),
      );
    }
    if (!this.#closed) this.#dispatch();
  }

  #watchIfNeeded(): void {
    const active = this.#queue.length > 0 || this.#procs.some((p) => p.running !== undefined || !p.ready);
    if (!active) {
      this.#stopWatch();
      return;
    }
    const now = performance.now();
    let wait = WATCH_MAX_MS;
    for (const job of this.#queue) wait = Math.min(wait, job.deadline - now);
    for (const p of this.#procs) {
      const r = p.running;
      if (r === undefined) continue;
      wait = Math.min(wait, r.wallLimit - now, (r.rssLimit - r.rssLast) / BACKSTOP_GROWTH_BYTES_PER_MS);
    }
    const due = now + Math.max(WATCH_MIN_MS, wait);
    if (this.#timer !== undefined && this.#due <= due) return;
    this.#stopWatch();
    this.#due = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#due = Number.POSITIVE_INFINITY;
      this.#watch();
    }, due - now);
  }

  #stopWatch(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#due = Number.POSITIVE_INFINITY;
  }

  #watch(): void {
    const now = performance.now();
    for (const job of this.#queue.filter((j) => now > j.deadline)) {
      this.#queue.splice(this.#queue.indexOf(job), 1);
      job.reject(timedOut(job.op, job.limits.timeoutMs, 'waited past its deadline for a sandbox process'));
    }
    for (const p of this.#procs) {
      if (!p.ready && !p.dead && now - p.started > START_TIMEOUT_MS) {
        p.kill(new SandboxError('CRASHED', 'a sandbox process did not start in time'));
      }
      const r = p.running;
      if (r === undefined || p.dead) continue;
      const m = p.measure();
      if (m !== undefined) {
        r.rssPeak = Math.max(r.rssPeak, m.rss);
        r.rssLast = m.rss;
      }
      const { op, limits } = r.job;
      if (m !== undefined && m.rss > r.rssLimit) {
        p.kill(memoryKilled(op, limits.memoryLimitMiB, r.rssPeak));
      } else if (now > r.wallLimit || (m !== undefined && m.ticks > r.cpuLimitTicks)) {
        // Near the ceiling when time ran out: a heap thrashing at its limit, not a slow loop.
        const nearCap = m !== undefined && m.rss > r.rssLimit - (limits.memoryLimitMiB / 4) * 1048576;
        p.kill(
          nearCap
            ? memoryKilled(op, limits.memoryLimitMiB, r.rssPeak)
            : timedOut(op, limits.timeoutMs, 'ran past its time limit'),
        );
      }
    }
    this.#watchIfNeeded();
  }
}

function timedOut(op: string, limit: number, what: string): SandboxError {
  return new SandboxError('TIMEOUT', `${op}: contract code ${what} (${limit} ms per call)`, { op, limit });
}

function memoryKilled(op: string, limit: number, rss: number): SandboxError {
  return new SandboxError('MEMORY_LIMIT', `${op}: contract code exceeded the ${limit} MiB memory limit`, {
    op,
    limit,
    rssBytes: rss,
  });
}
