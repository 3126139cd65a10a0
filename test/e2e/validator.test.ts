import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getAccount } from '../../src/chain/accounts.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { LI_PER_ZI } from '../../src/chain/params.ts';
import { getContract, getPaidRanges, VALIDATION_DELEGATED } from '../../src/market/contract-state.ts';
import { marketDomain } from '../../src/market/domain.ts';
import { assignmentKey, chooseValidator } from '../../src/validator/assignment.ts';
import { getStake } from '../../src/validator/state.ts';
import { keypair, transfer } from '../support/chain.ts';
import { contractBody, postContract } from '../support/market.ts';
import { startZiNode, until } from '../support/node.ts';
import { assertSupply } from '../support/supply.ts';
import { stake } from '../support/validator.ts';

const SIZE = 200;
const CODE = `const size = ${SIZE};\nfunction input(i) { return i; }\nfunction mcu(x) { let s = 0; for (let k = 0; k <= x; k++) s += k * k; return s; }\n`;
const FEE = 5n;

test('a delegated contract with three Validators staked: the best fit is assigned, its node serves it, two Solvers are paid, the fees are held', async (t) => {
  const bidder = keypair();
  const validators = [keypair(), keypair(), keypair()];
  // The Bidder's node mines and runs as --bidder: it must not lease a contract that has a Validator.
  const bidderNode = await startZiNode(t, { mine: bidder.address, market: { authorityKey: bidder.priv } });
  const { chain, mempool } = bidderNode;
  const g = chain.genesisHash;
  const peer = bidderNode.network!.addresses();
  chain.on('tip', () => void assertSupply(chain));
  await until('the bidder is funded', () => getAccount(chain.state, bidder.address).balance >= 100n * LI_PER_ZI);

  // Fund the Validators, make each active (ten transactions), stake, and wait for maturity.
  for (const [i, v] of validators.entries())
    await mempool.accept(transfer(bidder, v.address, 20n * LI_PER_ZI, BigInt(i), g));
  await until('the validators are funded', () =>
    validators.every((v) => getAccount(chain.state, v.address).balance > 0n),
  );
  for (const v of validators) {
    for (let n = 0; n < chain.params.activeTxCount; n++) await mempool.accept(transfer(v, v.address, 1n, BigInt(n), g));
  }
  await until('the validators are active', () =>
    validators.every((v) => mempool.nextNonce(v.address) === 10n && getAccount(chain.state, v.address).nonce === 10n),
  );
  for (const [i, v] of validators.entries()) await mempool.accept(stake(v, BigInt(3 + i) * LI_PER_ZI, 10n, g));
  await until('the stakes are in', () => validators.every((v) => getStake(chain.state, v.address)));
  const matured = chain.height + chain.params.stakeMaturity;
  await until('the stakes have matured', () => chain.height >= matured);

  const body = contractBody({
    code: CODE,
    price: 1_000n,
    budget: 2_000_000n,
    growth: 2,
    maxBatch: 32,
    validation: VALIDATION_DELEGATED,
    validationFee: FEE,
  });
  const post = postContract(bidder, 3n, g, body);
  const stakesBefore = validators.map((v) => ({ address: v.address, stake: getStake(chain.state, v.address)! }));
  await mempool.accept(post);
  const id = post.hash();
  await until('the contract is mined', () => getContract(chain.state, id) !== undefined);
  const c = getContract(chain.state, id)!;
  const blockHash = (await chain.store.txLocation(id))!.block;
  const height = chain.entry(blockHash)!.height;
  const expected = chooseValidator(stakesBefore, assignmentKey(blockHash, id), c.escrow, height, chain.params)!;
  assert.equal(toHex(c.validator), toHex(expected.address), 'the highest fit is assigned');
  const assigned = validators.find((v) => toHex(v.address) === toHex(c.validator))!;

  // Only the assigned Validator's node serves it (with the same Authority service as a Bidder's).
  await startZiNode(t, { peers: peer, market: { authorityKey: assigned.priv } });
  const solvers = [keypair(), keypair()];
  for (const s of solvers) await startZiNode(t, { peers: peer, market: { solver: { key: s.priv, threads: 1 } } });
  await until(
    'every index is paid',
    () => {
      const paid = getPaidRanges(chain.state, id);
      return paid.length === 1 && paid[0]!.start === 0 && paid[0]!.end === SIZE;
    },
    120_000,
  );
  const done = getContract(chain.state, id)!;
  assert.equal(done.heldFees, BigInt(SIZE) * FEE, 'every validation fee is held in escrow');
  assert.ok(done.validatorPayouts > 0, 'the Validator co-signed the payouts');
  for (const s of solvers) assert.ok(getAccount(chain.state, s.address).balance > 0n, 'both Solvers were paid');
  const bidderAuthority = bidderNode.service(marketDomain).authority!;
  assert.equal((await bidderAuthority.status(id))?.leased.length ?? 0, 0, "the Bidder's node leased nothing");
  assert.equal(getStake(chain.state, assigned.address)!.reserved, body.budget);
  await assertSupply(chain);
});
