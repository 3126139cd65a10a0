import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromHex, toHex } from '../../src/chain/encoding.ts';
import { assignmentKey, chooseValidator, fit } from '../../src/validator/assignment.ts';
import { FLAG_BANNED } from '../../src/validator/state.ts';
import { devnet } from '../support/chain.ts';
import { levenshtein, type RefStake, referenceKey, referenceWinner } from './reference.ts';

const vectors = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'assignment.json'), 'utf8')) as {
  maturity: number;
  cases: {
    name: string;
    blockHash: string;
    contract: string;
    budget: string;
    height: number;
    stakes: RefStake[];
    winner: string | null;
  }[];
};

test('every assignment vector: the node picks the winner the independent reference picked', () => {
  const params = { ...devnet, stakeMaturity: vectors.maturity };
  assert.ok(vectors.cases.length >= 10);
  assert.ok(vectors.cases.some((c) => c.name.startsWith('tie on fit')));
  for (const c of vectors.cases) {
    const key = assignmentKey(fromHex(c.blockHash, 32), fromHex(c.contract, 32));
    assert.equal(toHex(key), referenceKey(c.blockHash, c.contract), c.name);
    const candidates = c.stakes.map((s) => ({
      address: fromHex(s.address, 20),
      stake: {
        amount: BigInt(s.amount),
        reserved: BigInt(s.reserved),
        txid: fromHex(s.txid, 32),
        height: s.height,
        position: s.position,
        contracts: 0,
        flags: s.banned ? FLAG_BANNED : 0,
      },
    }));
    const chosen = chooseValidator(candidates, key, BigInt(c.budget), c.height, params);
    assert.equal(chosen ? toHex(chosen.address) : null, c.winner, c.name);
    assert.equal(referenceWinner(c.stakes, toHex(key), BigInt(c.budget), c.height, vectors.maturity), c.winner, c.name);
  }
});

test('fit is the Levenshtein distance of the lowercase hex strings', () => {
  const a = fromHex('00'.repeat(32), 32);
  const b = fromHex(`ff${'00'.repeat(31)}`, 32);
  assert.equal(fit(a, b), 2);
  const k = assignmentKey(a, b);
  assert.equal(fit(k, a), levenshtein(toHex(k), toHex(a)));
});
