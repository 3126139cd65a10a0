import { ZiError } from '../chain/errors.ts';
import { toJson } from '../node/rpc/json.ts';

/** Scripts get JSON (`--json`); people get aligned `key  value` lines. */
export function print(value: unknown, json: boolean, human?: () => string): void {
  if (json || human === undefined) process.stdout.write(`${toJson(value)}\n`);
  else process.stdout.write(`${human()}\n`);
}

export function table(rows: [string, unknown][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** One line saying what went wrong and what to do; the stack only with ZI_DEBUG. */
export function reportError(err: unknown): number {
  if (process.env.ZI_DEBUG) console.error(err);
  if (err instanceof ZiError) {
    process.stderr.write(`error [${err.code}]: ${err.message}\n`);
    return 1;
  }
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}
