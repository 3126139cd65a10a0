import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AuditedBatch, Auditor, type BatchChecks, pickBatches } from '../../src/audit/auditor.ts';
import { INVALID, VALID } from '../../src/audit/state.ts';
import { decodeVote } from '../../src/audit/votes.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { testLogger, until } from '../p2p/net.ts';
import { keypair, mine, type openChain, type TestChain } from '../support/chain.ts';
import { audited } from './fixture.ts';

/** FAKE of the market's `batches` port: batches and what checking each finds, scripted by the test. */
function fakeBatches(batches: AuditedBatch[], fails: Map<number, string>): BatchChecks & { checked: number[] } {
  const checked: number[] = [];
  return {
    checked,
    validatorBatches: async () => batches,
    check: async (_c, b) => {
      checked.push(b.start);
      return fails.get(b.start);
    },
  };
}

const batches = Array.from({ length: 10 }, (_, i) => ({ start: i * 10, end: i * 10 + 10, cid: new Uint8Array([i]) }));

test('pickBatches: up to three, chosen by the seed, the same for the same seed', () => {
  const a = pickBatches(batches, new Uint8Array(32).fill(1));
  assert.equal(a.length, 3);
  assert.deepEqual(pickBatches(batches, new Uint8Array(32).fill(1)), a);
  const seen = new Set<string>();
  for (let s = 0; s < 20; s++)
    seen.add(
      pickBatches(batches, new Uint8Array(32).fill(s))
        .map((b) => b.start)
        .join(),
    );
  assert.ok(seen.size > 10, 'different seeds pick different batches');
  assert.equal(pickBatches(batches.slice(0, 2), new Uint8Array(32)).length, 2);
});

/** A chain with one audit open (the rules' own test builds it the same way), and an auditor on it. */
async function auditorOn(t: Parameters<typeof openChain>[0], checks: BatchChecks, lie = false) {
  const { tc, id } = await audited(t);
  const miner = keypair().address;
  const auditor = new Auditor({
    state: () => tc.chain.state,
    tipHash: () => tc.chain.tip.hash,
    miner,
    batches: checks,
    logger: testLogger,
    lie,
  });
  return { tc, id, auditor, miner };
}

async function voteOf(auditor: Auditor, tc: TestChain) {
  auditor.poll();
  await until('a verdict', () => auditor.votes().length > 0, 10_000);
  const [v] = auditor.votes();
  void tc;
  return decodeVote(v!);
}

test('a batch not retrievable (unpinned everywhere) makes the vote Invalid; all three passing make it Valid', async (t) => {
  {
    const checks = fakeBatches(batches, new Map());
    const { tc, id, auditor } = await auditorOn(t, checks);
    const v = await voteOf(auditor, tc);
    assert.equal(toHex(v.contract), toHex(id));
    assert.equal(v.verdict, VALID);
    assert.equal(v.round, 1);
    assert.equal(checks.checked.length, 3);
  }
  {
    const fails = new Map(batches.map((b) => [b.start, 'not retrievable: no answer within 90000 ms']));
    const { tc, auditor } = await auditorOn(t, fakeBatches(batches, fails));
    assert.equal((await voteOf(auditor, tc)).verdict, INVALID);
  }
});

test('--audit-lie votes the opposite, and a miner that voted is not asked again', async (t) => {
  const { tc, auditor, miner } = await auditorOn(t, fakeBatches(batches, new Map()), true);
  const v = await voteOf(auditor, tc);
  assert.equal(v.verdict, INVALID, 'the lying miner calls an honest Validator Invalid');
  await mine(tc, { miner, votes: auditor.votes() });
  assert.deepEqual(auditor.votes(), [], 'one vote per miner per contract');
});
