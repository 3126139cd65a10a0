import { ZiError } from '../chain/errors.ts';
import { toJson } from '../rpc/json.ts';

/** Scripts get JSON (`--json`); people get aligned `key  value` lines. */
export function print(value: unknown, json: boolean, human?: () => string): void {
  if (json || human === undefined) process.stdout.write(`${toJson(value)}\n`);
  else process.stdout.write(`${human()}\n`);
}

/** `1 voter`, `3 voters`: a count with its noun. */
export function counted(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function table(rows: [string, unknown][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/**
 * One line saying what went wrong and what to do; the stack only with
 * ZI_DEBUG. Every line has a code: a ZiError's own, a system error's errno
 * name (EACCES, …), or INTERNAL for anything else, which is a bug.
 */
export function reportError(err: unknown): number {
  if (process.env.ZI_DEBUG) console.error(err);
  process.stderr.write(`error [${errorCode(err)}]: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
  return 1;
}

function errorCode(err: unknown): string {
  if (err instanceof ZiError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  return 'INTERNAL';
}

/** Commander's usage errors ("error: unknown option '--x'\n(Did you mean …?)") in the same one-line form. */
export function usageLine(text: string): string {
  return `error [USAGE]: ${oneLine(text.replace(/^error: /, ''))} (see --help)\n`;
}

function oneLine(text: string): string {
  return text.trim().replace(/\s*\n\s*/g, ' ');
}
