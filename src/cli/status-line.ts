import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { SolverSnapshot } from '../market/solver-status.ts';
import { counted } from './output.ts';

/** 1234567 → "1,234,567". */
export function grouped(n: number | bigint): string {
  return n.toLocaleString('en');
}

/** Seconds as "42 s", "7 min", "3 h 5 min", "2 d 4 h". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.round((s % 86_400) / 3600)} h`;
}

/** What the Solver is doing, in a few words. */
export function activityText(s: SolverSnapshot, now = Date.now()): string {
  const a = s.activity;
  switch (a.state) {
    case 'starting':
      return 'starting: looking for open contracts';
    case 'computing':
      return `computing ${a.contract.slice(0, 12)}…`;
    case 'waiting':
      return `waiting: ${a.reason}`;
    case 'backing off': {
      const left = a.untilMs === undefined ? '' : ` ${duration((a.untilMs - now) / 1000)}`;
      return `backing off${left}: ${a.reason}`;
    }
  }
}

/** `zi solve`'s status line: state, batch, pace and this session's earnings. */
export function solverLine(s: SolverSnapshot, now = Date.now()): string {
  const parts = [activityText(s, now)];
  if (s.payouts > 0) {
    parts.push(`batch ${grouped(s.lastBatch)} MCUs`, `${grouped(Math.round(s.rate))} MCU/s`);
  }
  parts.push(`earned ${grouped(s.earned)} Li in ${counted(s.payouts, 'payout')}`);
  parts.push(`up ${duration(s.uptimeSeconds)}`);
  return parts.join('  ·  ');
}

/**
 * One line at the bottom of a terminal that is redrawn in place, with log
 * lines written above it: each write clears the line, writes, and draws it
 * again. Writes go straight to the file descriptor, so nothing is lost or
 * reordered when the process exits.
 */
export class StatusLine {
  private text = '';
  private readonly fd: number;
  private readonly columns: () => number;
  /** Pass it to the logger: its lines come out above the status line. */
  readonly logs: Writable;

  constructor(fd: number, columns: () => number) {
    this.fd = fd;
    this.columns = columns;
    this.logs = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        writeSync(this.fd, `\r\x1b[2K${chunk.toString('utf8')}`);
        this.draw();
        done();
      },
    });
  }

  set(text: string): void {
    this.text = text;
    writeSync(this.fd, '\r\x1b[2K');
    this.draw();
  }

  /** Leaves the line as it is and moves below it, e.g. at exit. */
  end(): void {
    if (this.text) writeSync(this.fd, '\n');
    this.text = '';
  }

  private draw(): void {
    if (!this.text) return;
    const width = Math.max(20, this.columns() - 1);
    writeSync(this.fd, this.text.length > width ? `${this.text.slice(0, width - 1)}…` : this.text);
  }
}
