import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { tempDir } from './chain.ts';

const ZI = join(import.meta.dirname, '..', '..', 'bin', 'zi');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from the last output on stdout to the exit: what stopping took. */
  quietMs: number;
}

/** Runs the real `zi` binary as a child process. */
export async function runZi(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const child = spawn(process.execPath, [ZI, ...args], {
    env: { ...process.env, ZI_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let lastOutput = performance.now();
  child.stdout.on('data', (d) => {
    stdout += d;
    lastOutput = performance.now();
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr, quietMs: performance.now() - lastOutput };
}

export async function runZiOk(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await runZi(args, env);
  if (r.code !== 0) throw new Error(`zi ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export interface NodeProcess {
  proc: ChildProcess;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  port: number;
  /** Resolves at the first log line that matches. */
  waitFor(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The program startNode runs by default: `zi node`. */
export const ZI_NODE = [ZI, 'node'];
/** `zi solve`, for startNode. */
export const ZI_SOLVE = [ZI, 'solve'];

export async function startNode(args: string[], env: NodeJS.ProcessEnv = {}, entry = ZI_NODE): Promise<NodeProcess> {
  // A free loopback port unless the test says otherwise: nodes of parallel tests must not collide.
  const listen = args.includes('--listen') ? [] : ['--listen', '/ip4/127.0.0.1/tcp/0'];
  const proc = spawn(process.execPath, [...entry, '--rpc-port', '0', ...listen, ...args], {
    env: { ...process.env, ZI_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] =
    [];
  let stderr = '';
  proc.stderr!.on('data', (d) => {
    stderr += d;
  });
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text);
    } catch {
      return;
    }
    logs.push(line);
    for (const w of [...waiters]) {
      if (w.pred(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = once(proc, 'exit');
  const waitFor = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 30_000) => {
    const hit = logs.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for a log line; stderr: ${stderr}`)),
        timeoutMs,
      );
      const w = {
        pred,
        resolve: (l: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      waiters.push(w);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`node exited; stderr: ${stderr}`));
      });
    });
  };
  const started = await waitFor((l) => l.msg === 'node started');
  const port = Number(String(started.rpc).split(':')[1]);
  return {
    proc,
    logs,
    port,
    waitFor,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

export const PASSPHRASE = 'correct horse battery staple';

/** A ZI_HOME in a temp dir with a passphrase file and a wallet in its devnet data dir, made by `zi wallet create`. */
export async function walletHome(
  t: { after(fn: () => Promise<void>): void },
  prefix = 'zi-e2e-',
): Promise<{ home: string; env: { ZI_HOME: string }; pass: string; wallet: { address: string } }> {
  const home = await tempDir(t, prefix);
  const env = { ZI_HOME: home };
  const pass = join(home, 'pass');
  await writeFile(pass, `${PASSPHRASE}\n`);
  const wallet = JSON.parse(await runZiOk(['wallet', 'create', '--passphrase-file', pass, '--json'], env));
  return { home, env, pass, wallet };
}
