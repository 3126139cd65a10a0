import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** Fields every line has, which the pretty line shows in its own place or not at all. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'mod']);

/** A value as `key=value` shows it: bare when it has no space, JSON otherwise, an error by its message. */
function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'object' && v !== null) {
    const message = (v as { message?: unknown }).message;
    if (typeof message === 'string' && ('stack' in v || 'type' in v)) return JSON.stringify(message);
    return JSON.stringify(v);
  }
  return String(v);
}

/** `[mod] message  key=value key=value`: one line per event, whatever the fields hold. */
export function prettyLine(log: Record<string, unknown>): string {
  const fields = Object.entries(log)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${fieldValue(v)}`)
    .join(' ');
  const mod = typeof log.mod === 'string' ? `[${log.mod}] ` : '';
  const line = `${mod}${String(log.msg ?? '')}${fields ? `  ${fields}` : ''}`;
  // A message or a string field with a newline must not break the one-line promise.
  return line.replace(/\s*\n\s*/g, ' ');
}

export interface LoggerOptions {
  name?: string;
  level?: string;
  pretty?: boolean;
  /** Where pretty lines go (default stdout); `zi solve` passes one that keeps its status line below them. */
  destination?: NodeJS.WritableStream;
}

/**
 * JSON lines for machines; on a terminal, one readable line per event
 * (synchronous, so nothing is lost when the process exits).
 * ZI_LOG_FORMAT=json|pretty forces one; ZI_LOG_LEVEL sets the level.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.ZI_LOG_LEVEL ?? 'info';
  const format = process.env.ZI_LOG_FORMAT;
  const usePretty = opts.pretty ?? (format ? format === 'pretty' : process.stdout.isTTY === true);
  const base = { name: opts.name ?? 'zi', level };
  if (!usePretty) return pino(base);
  return pino(
    base,
    pretty({
      colorize: process.stdout.isTTY === true,
      translateTime: 'HH:MM:ss.l',
      ignore: 'pid,hostname,name',
      hideObject: true,
      messageFormat: (log) => prettyLine(log),
      sync: true,
      ...(opts.destination ? { destination: opts.destination } : {}),
    }),
  );
}
