import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RESERVED_ADDRESS } from '../../src/chain/address.ts';
import { authorityOf, mayAuthorize, serves } from '../../src/market/authorize.ts';
import { VALIDATION_BIDDER, VALIDATION_DELEGATED } from '../../src/market/contract-state.ts';
import { keypair } from '../support/chain.ts';

test('the Bidder may sign for its contract; the Validator only for a delegated one assigned to it', () => {
  const bidder = keypair().address;
  const validator = keypair().address;
  const stranger = keypair().address;
  const bidderValidated = { bidder, validation: VALIDATION_BIDDER, validator };
  const delegated = { bidder, validation: VALIDATION_DELEGATED, validator };
  const unassigned = { bidder, validation: VALIDATION_DELEGATED, validator: RESERVED_ADDRESS };

  assert.equal(mayAuthorize(bidderValidated, bidder), true);
  assert.equal(mayAuthorize(bidderValidated, validator), false, 'a Bidder-validated contract has no Validator');
  assert.equal(mayAuthorize(delegated, bidder), true, 'the Bidder may co-sign a delegated contract (DESIGN.md §5)');
  assert.equal(mayAuthorize(delegated, validator), true);
  assert.equal(mayAuthorize(unassigned, bidder), true, 'no Validator yet: the Bidder signs');
  for (const c of [bidderValidated, delegated, unassigned]) assert.equal(mayAuthorize(c, stranger), false);
});

test('a contract is served, and its reputation kept, by its assigned Validator; otherwise by its Bidder', () => {
  const bidder = keypair().address;
  const validator = keypair().address;
  const cases = [
    [{ bidder, validation: VALIDATION_BIDDER, validator }, bidder],
    [{ bidder, validation: VALIDATION_DELEGATED, validator }, validator],
    [{ bidder, validation: VALIDATION_DELEGATED, validator: RESERVED_ADDRESS }, bidder],
  ] as const;
  for (const [c, who] of cases) {
    assert.deepEqual(authorityOf(c), who);
    assert.equal(serves(c, who), true);
    assert.equal(serves(c, who === bidder ? validator : bidder), false);
  }
});
