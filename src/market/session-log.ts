import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import type { Log } from '../chain/log.ts';
import type { SessionSummary } from './reputation.ts';

/**
 * A Solver's record of its sessions, one JSON line each in
 * `<datadir>/solver-sessions.jsonl`: what reputation.ts reads for the batches
 * a Solver had refused and the MCUs an authority left unpaid, since neither
 * is on chain. Local knowledge only: nobody else can check it.
 */
export interface SessionRecord extends SessionSummary {
  /** When the session ended, ms since the epoch. */
  at: number;
  /** The contract id, lowercase hex. */
  contract: string;
  mcusPaid: number;
  /** How it ended: the authority's `done` reason, or the Solver's own (UNPAID, BAD_LEASE, …). */
  ended: string;
}

export interface SessionLog {
  append(r: SessionRecord): void;
  /** Oldest first. */
  records(): readonly SessionRecord[];
}

/** Records kept (and read back) at most: older ones are dropped. */
export const SESSION_LOG_MAX = 10_000;
const MAX_LINE = 1_024;

const HEX_ID = /^[0-9a-f]{64}$/;
const HEX_ADDRESS = /^[0-9a-f]{40}$/;
const COUNT = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const FIELDS = ['at', 'contract', 'authority', 'batchesPaid', 'mcusPaid', 'batchesRejected', 'mcusUnpaid', 'ended'];

/** One line of the log, strictly: these fields and no others, each of its type. */
export function decodeSessionRecord(line: string): SessionRecord | undefined {
  if (line.length > MAX_LINE) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== FIELDS.length || !FIELDS.every((k) => k in o)) return undefined;
  const ok =
    COUNT(o.at) &&
    typeof o.contract === 'string' &&
    HEX_ID.test(o.contract) &&
    typeof o.authority === 'string' &&
    HEX_ADDRESS.test(o.authority) &&
    COUNT(o.batchesPaid) &&
    COUNT(o.mcusPaid) &&
    COUNT(o.batchesRejected) &&
    COUNT(o.mcusUnpaid) &&
    typeof o.ended === 'string' &&
    /^[A-Z_]{1,64}$/.test(o.ended);
  return ok ? (o as unknown as SessionRecord) : undefined;
}

export function encodeSessionRecord(r: SessionRecord): string {
  return JSON.stringify(Object.fromEntries(FIELDS.map((k) => [k, r[k as keyof SessionRecord]])));
}

/** A log in memory only (tests, and a node that keeps no files). */
export function memorySessionLog(max = SESSION_LOG_MAX): SessionLog & { readonly list: SessionRecord[] } {
  const list: SessionRecord[] = [];
  return {
    list,
    append(r) {
      list.push(r);
      if (list.length > max) list.splice(0, list.length - max);
    },
    records: () => list,
  };
}

/**
 * The log in a file: read back at start (lines that do not decode are
 * skipped and counted), appended to line by line. Writing is best effort: a
 * full disk costs the log, never the session.
 */
export async function fileSessionLog(path: string, logger: Log, max = SESSION_LOG_MAX): Promise<SessionLog> {
  const mem = memorySessionLog(max);
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      logger.warn({ path, err: (err as Error).message }, 'solver session log unreadable; starting a new one');
    }
  }
  const lines = text.split('\n').filter((l) => l.length > 0);
  let skipped = 0;
  for (const line of lines) {
    const r = decodeSessionRecord(line);
    if (r) mem.append(r);
    else skipped++;
  }
  if (skipped > 0) logger.warn({ path, skipped }, 'solver session log: lines that do not decode were skipped');
  let writing: Promise<void> = Promise.resolve();
  // Rewritten when it has grown well past what is kept, so it never grows without bound.
  if (lines.length > 2 * max || skipped > 0) {
    const body = mem.list.map((r) => `${encodeSessionRecord(r)}\n`).join('');
    writing = writeFile(`${path}.tmp`, body)
      .then(() => rename(`${path}.tmp`, path))
      .catch((err: Error) => logger.warn({ path, err: err.message }, 'solver session log not rewritten'));
  }
  let warned = false;
  return {
    append(r) {
      mem.append(r);
      writing = writing
        .then(() => appendFile(path, `${encodeSessionRecord(r)}\n`))
        .catch((err: Error) => {
          if (!warned) logger.warn({ path, err: err.message }, 'solver session log not written');
          warned = true;
        });
    },
    records: () => mem.records(),
  };
}
