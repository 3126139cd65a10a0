import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * Turns a test file that hangs into one that fails, with a line saying where.
 * Hostile contract code can hang the process that runs it in ways no timer in
 * that process can end: an event loop blocked in native code, or a native
 * thread that keeps the process from exiting after its last test. So the
 * watcher is another process: this one sends it a heartbeat every 250 ms, and
 * it SIGKILLs this one when the heartbeats stop for `stallMs` while tests run,
 * or when this one is still alive `exitMs` after done().
 */
export interface HangGuard {
  /** Names what runs now, for the guard's report. */
  label(name: string): void;
  /** The tests are over: the process must exit within exitMs. */
  done(): void;
}

const WATCHER = `
const [pid, stallMs, exitMs] = process.argv.slice(1).map(Number);
let last = Date.now();
let label = 'the tests';
let deadline = Infinity;
let buffered = '';
process.stdin.on('data', (chunk) => {
  last = Date.now();
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf('\\n')) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line === 'done') { deadline = Date.now() + exitMs; label = 'exit, after the last test'; }
    else if (line.startsWith('label ')) label = line.slice(6);
  }
});
process.stdin.on('end', () => process.exit(0));
setInterval(() => {
  const now = Date.now();
  const stalled = deadline === Infinity && now - last > stallMs;
  if (!stalled && now < deadline) return;
  const why = stalled ? 'its event loop stopped for ' + (now - last) + ' ms' : 'it did not exit within ' + exitMs + ' ms';
  process.stderr.write('hang guard: killing test process ' + pid + ': ' + why + ' during ' + label + '\\n');
  try { process.kill(pid, 'SIGKILL'); } catch {}
  process.exit(0);
}, 100);
`;

export function startHangGuard(options: { stallMs: number; exitMs: number }): HangGuard {
  const watcher = spawn(
    process.execPath,
    ['-e', WATCHER, String(process.pid), String(options.stallMs), String(options.exitMs)],
    { stdio: ['pipe', 'ignore', 'inherit'] },
  );
  // Neither the watcher nor its pipe may keep this process alive.
  watcher.unref();
  (watcher.stdin as unknown as Socket).unref();
  watcher.stdin.on('error', () => {});
  const send = (line: string) => {
    if (!watcher.stdin.destroyed) watcher.stdin.write(`${line}\n`);
  };
  const beat = setInterval(() => send('beat'), 250);
  beat.unref();
  return {
    label: (name) => send(`label ${name.replace(/\n/g, ' ')}`),
    done: () => {
      clearInterval(beat);
      send('done');
    },
  };
}
