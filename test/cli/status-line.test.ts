import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { StatusLine, solverLine } from '../../src/cli/status-line.ts';
import { SolverStatus } from '../../src/market/solver-status.ts';
import { tempDir } from '../support/chain.ts';

test('the Solver status line: state, batch, pace, earnings and uptime from the Solver events', () => {
  const solver = new EventEmitter();
  let now = 1_000_000;
  const status = new SolverStatus(solver as never, () => now);
  const line = () => solverLine(status.snapshot(), now);
  assert.match(line(), /^starting: looking for open contracts {2}· {2}earned 0 Li in 0 payouts {2}· {2}up 0 s$/);
  solver.emit('waiting', 'no open contract to work on yet');
  assert.match(line(), /^waiting: no open contract to work on yet/);
  const id = 'ab'.repeat(32);
  solver.emit('session', { contract: id });
  now += 90_000;
  solver.emit('progress', { contract: id, mcus: 4096, batch: 4096, earned: 40_960n, rate: 812.4, payouts: 3 });
  assert.equal(
    line(),
    `computing ${id.slice(0, 12)}…  ·  batch 4,096 MCUs  ·  812 MCU/s  ·  earned 40,960 Li in 3 payouts  ·  up 2 min`,
  );
  solver.emit('setback', { contract: id, reason: 'silent', waitMs: 30_000 });
  assert.match(line(), new RegExp(`^backing off 30 s: silent \\(contract ${id.slice(0, 16)}\\)`));
  const snap = status.snapshot();
  assert.deepEqual(
    snap.contracts.map((c) => [c.id, c.mcus, c.earned, c.payouts]),
    [[id, 4096, 40_960n, 1]],
  );
});

test('log lines come out above the status line, which is redrawn in place', async (t) => {
  const file = join(await tempDir(t, 'zi-status-'), 'tty');
  const fd = openSync(file, 'w');
  const board = new StatusLine(fd, () => 40);
  board.set('computing abc  ·  earned 10 Li');
  await new Promise<void>((resolve) => board.logs.write('a log line\n', () => resolve()));
  board.set('an update that is far too long for a terminal of forty columns');
  board.end();
  closeSync(fd);
  assert.equal(
    readFileSync(file, 'utf8'),
    '\r\x1b[2Kcomputing abc  ·  earned 10 Li' +
      '\r\x1b[2Ka log line\ncomputing abc  ·  earned 10 Li' +
      '\r\x1b[2Kan update that is far too long for a t…\n',
  );
});
