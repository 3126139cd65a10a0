import assert from 'node:assert/strict';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  decodeSessionRecord,
  encodeSessionRecord,
  fileSessionLog,
  type SessionRecord,
} from '../../src/market/session-log.ts';
import { tempDir } from '../support/chain.ts';
import { fakeLog } from '../support/market-fakes.ts';

const record = (n: number, r: Partial<SessionRecord> = {}): SessionRecord => ({
  at: 1_800_000_000_000 + n,
  contract: 'ab'.repeat(32),
  authority: 'cd'.repeat(20),
  batchesPaid: n,
  mcusPaid: 3 * n,
  batchesRejected: 0,
  mcusUnpaid: 0,
  ended: 'COMPLETE',
  ...r,
});

test('a line decodes only as exactly the record it encodes', () => {
  const r = record(2, { batchesRejected: 1, ended: 'FAILED_VALIDATION' });
  assert.deepEqual(decodeSessionRecord(encodeSessionRecord(r)), r);
  const line = JSON.parse(encodeSessionRecord(r));
  for (const bad of [
    { ...line, extra: 1 },
    { ...line, at: -1 },
    { ...line, mcusPaid: 1.5 },
    { ...line, contract: 'AB'.repeat(32) },
    { ...line, authority: 'cd'.repeat(19) },
    { ...line, ended: 'not a code' },
    Object.fromEntries(Object.entries(line).filter(([k]) => k !== 'mcusUnpaid')),
  ]) {
    assert.equal(decodeSessionRecord(JSON.stringify(bad)), undefined, JSON.stringify(bad));
  }
  assert.equal(decodeSessionRecord('[1]'), undefined);
  assert.equal(decodeSessionRecord('{"at":'), undefined);
  assert.equal(decodeSessionRecord(`"${'x'.repeat(2000)}"`), undefined);
});

test('the file log survives a restart, skips what does not decode, and keeps only the newest records', async (t) => {
  const dir = await tempDir(t, 'zi-session-log-');
  const path = join(dir, 'solver-sessions.jsonl');
  const logger = fakeLog();
  const first = await fileSessionLog(path, logger);
  first.append(record(1));
  first.append(record(2));
  await until(async () => (await readFile(path, 'utf8').catch(() => '')).split('\n').length === 3);
  await appendFile(path, 'garbage\n');

  const again = await fileSessionLog(path, logger, 3);
  assert.deepEqual(again.records(), [record(1), record(2)]);
  assert.ok(
    logger.lines.some((l) => l.includes('skipped')),
    'the damaged line is reported',
  );
  for (let n = 3; n <= 6; n++) again.append(record(n));
  assert.deepEqual(
    again.records().map((r) => r.batchesPaid),
    [4, 5, 6],
    'at most 3 kept',
  );

  const long = join(dir, 'long.jsonl');
  await writeFile(long, `${Array.from({ length: 10 }, (_, n) => encodeSessionRecord(record(n))).join('\n')}\n`);
  const big = await fileSessionLog(long, logger, 3);
  assert.deepEqual(
    big.records().map((r) => r.batchesPaid),
    [7, 8, 9],
  );
  // Grown past twice what is kept: rewritten with only those.
  await until(async () => (await readFile(long, 'utf8')).split('\n').length === 4);
});

async function until(pred: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
