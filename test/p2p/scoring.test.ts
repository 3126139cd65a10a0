import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LowWorkBlockError, OrphanBlockError } from '../../src/chain/chain.ts';
import { FutureBlockError } from '../../src/chain/checks.ts';
import { DecodeError, ValidationError, ZiError } from '../../src/chain/errors.ts';
import { MempoolError } from '../../src/chain/mempool.ts';
import { AdmissionError } from '../../src/market/admission.ts';
import { BAN_SCORE, judge, PeerBook, PeerError } from '../../src/p2p/scoring.ts';

test('one table decides what an error costs the peer that caused it', () => {
  const cases: [unknown, 'block' | 'tx' | 'request' | 'response', string, number][] = [
    // A future block costs a point: never a ban alone, a flood of 100 is.
    [new FutureBlockError('FUTURE_BLOCK', 'early', { timestamp: 0, now: 0 }), 'block', 'ignore', 1],
    // An orphan is what the winner of a race sends next; a relayer that cannot serve its ancestors pays then.
    [new OrphanBlockError('UNKNOWN_PARENT', 'orphan', { parent: '', hash: '' }), 'block', 'ignore', 0],
    [new LowWorkBlockError('LOW_WORK', 'low', { hash: '', height: 1, work: 5n }), 'block', 'ignore', 2],
    // A race (within RACE_BLOCKS of our tip's work) is nobody's fault.
    [new LowWorkBlockError('NOT_AHEAD', 'race', { hash: '', height: 1, work: 5n }), 'block', 'ignore', 0],
    [new ValidationError('DIFFICULTY_TOO_LOW', 'x'), 'block', 'reject', BAN_SCORE],
    [new ValidationError('BAD_POW', 'x'), 'block', 'reject', BAN_SCORE],
    [new ValidationError('INSUFFICIENT_FUNDS', 'x'), 'block', 'reject', BAN_SCORE],
    [new ValidationError('BAD_SIGNATURE', 'x'), 'tx', 'reject', BAN_SCORE],
    // A spent nonce or an empty balance may be our view lagging: a nudge, not a ban.
    [new ValidationError('INSUFFICIENT_FUNDS', 'x'), 'tx', 'ignore', 5],
    [new MempoolError('ALREADY_KNOWN', 'x'), 'tx', 'ignore', 0],
    [new MempoolError('NONCE_USED', 'x'), 'tx', 'ignore', 0],
    [new MempoolError('NONCE_GAP', 'x'), 'tx', 'ignore', 1],
    // A peer relaying a sender's 65th pending transaction: our pool holds 64 of it.
    [new MempoolError('TOO_MANY_PENDING', 'x'), 'tx', 'ignore', 1],
    // A block opening more delegated contracts than its Validators allow is invalid.
    [new ValidationError('ASSIGNMENTS_FULL', 'x'), 'block', 'reject', BAN_SCORE],
    [new PeerError('OUT_OF_ORDER', 'x'), 'request', 'ignore', 20],
    [new DecodeError('TRAILING_BYTES', 'x'), 'request', 'reject', BAN_SCORE],
    [new PeerError('WRONG_GENESIS', 'x'), 'response', 'reject', BAN_SCORE],
    [new PeerError('RATE_LIMITED', 'x'), 'request', 'ignore', 2],
    [
      Object.assign(new Error('Message length too long'), { name: 'InvalidDataLengthError' }),
      'request',
      'reject',
      BAN_SCORE,
    ],
    // Contract admission over budget: a flood adds up, one refusal does not.
    [new AdmissionError('ADMISSION_BUDGET', 'x', { origin: 'p', retryMs: 1 }), 'tx', 'ignore', 2],
    [new ZiError('CORRUPT', 'our own disk'), 'block', 'ignore', 0],
  ];
  for (const [err, what, verdict, penalty] of cases) {
    const j = judge(err, what);
    assert.equal(j.verdict, verdict, `${(err as Error).message} ${what}`);
    assert.equal(j.penalty, penalty, `${(err as Error).message} ${what}`);
  }
});

test("a low-work block is free from an honest partition: its relayer's own best chain, not far behind ours", () => {
  const low = new LowWorkBlockError('LOW_WORK', 'low', { hash: '', height: 9, work: 50n });
  const near = { partitionWork: 30n };
  // A miner on its own fork (a partition, a lost race it has not seen yet) relays its tip.
  assert.equal(judge(low, 'block', { ...near, peerWork: 50n }).penalty, 0);
  assert.equal(judge(low, 'block', { ...near, peerWork: 40n }).penalty, 0);
  // A peer that told us of a chain with more work relays stale side blocks.
  assert.equal(judge(low, 'block', { ...near, peerWork: 80n }).penalty, 2);
  assert.equal(judge(low, 'block', near).penalty, 2, 'a peer that never sent its status');
  assert.equal(judge(low, 'block').penalty, 2);
  // Its own best chain, but further behind than PARTITION_BLOCKS of ours: a flood (a fork at genesis).
  assert.equal(judge(low, 'block', { partitionWork: 60n, peerWork: 50n }).penalty, 2);
});

test('scores add up to a ban, decay over time, and bans expire', () => {
  let now = 1_000_000;
  const book = new PeerBook({ banMs: 60_000, halfLifeMs: 10_000, clock: () => now });
  assert.equal(book.penalize('p', 60, 'x'), false);
  now += 10_000; // halved to 30
  assert.equal(Math.round(book.score('p')), 30);
  assert.equal(book.penalize('p', 60, 'x'), false);
  assert.equal(book.penalize('p', 20, 'flood'), true);
  assert.equal(book.isBanned('p'), true);
  assert.equal(book.bans()[0]?.reason, 'flood');
  assert.equal(book.isBanned('q'), false);
  now += 59_000;
  assert.equal(book.isBanned('p'), true);
  now += 2_000;
  assert.equal(book.isBanned('p'), false);
  assert.equal(book.score('p'), 0, 'back with a clean slate');
});

test('the ban list is bounded', () => {
  const book = new PeerBook({ maxBans: 3 });
  for (const p of ['a', 'b', 'c', 'd']) book.ban(p, 'x');
  assert.equal(book.bans().length, 3);
});
