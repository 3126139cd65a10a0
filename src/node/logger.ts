import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * JSON lines for machines; on a terminal, pino-pretty's readable lines
 * (synchronous, so nothing is lost when the process exits).
 * ZI_LOG_FORMAT=json|pretty forces one; ZI_LOG_LEVEL sets the level.
 */
export function createLogger(opts: { name?: string; level?: string; pretty?: boolean } = {}): Logger {
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
      ignore: 'pid,hostname',
      sync: true,
    }),
  );
}
