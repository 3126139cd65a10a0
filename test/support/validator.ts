import { getAccount } from '../../src/chain/accounts.ts';
import { LI_PER_ZI } from '../../src/chain/params.ts';
import { Transaction, TX_KINDS } from '../../src/chain/transaction.ts';
import type { ZiNode } from '../../src/node/node.ts';
import { stakeRules, unstakeRules } from '../../src/validator/rules.ts';
import { getStake } from '../../src/validator/state.ts';
import { type Keypair, mine, type TestChain, transfer } from './chain.ts';
import { until } from './node.ts';

export function stake(from: Keypair, amount: bigint, nonce: bigint, genesis: Uint8Array): Transaction {
  return Transaction.sign(
    { kind: TX_KINDS.stake, nonce, fee: 1_000n, payload: stakeRules.encode({ amount }) },
    from.priv,
    genesis,
  );
}

export function unstake(from: Keypair, nonce: bigint, genesis: Uint8Array): Transaction {
  return Transaction.sign(
    { kind: TX_KINDS.unstake, nonce, fee: 1_000n, payload: unstakeRules.encode({}) },
    from.priv,
    genesis,
  );
}

/** Funds `who` with a block reward and makes it active: ten transactions to itself in one block. Returns its next nonce. */
export async function activeAddress(tc: TestChain, who: Keypair): Promise<bigint> {
  const g = tc.chain.genesisHash;
  await mine(tc, { miner: who.address });
  const txs = Array.from({ length: tc.chain.params.activeTxCount }, (_, i) =>
    transfer(who, who.address, 1n, BigInt(i), g),
  );
  await mine(tc, { txs });
  return BigInt(txs.length);
}

/**
 * On a running node: funds `v` from `funder` (at its nonce `funderNonce`),
 * makes it active with ten transactions, stakes `amount` and waits for the
 * stake to mature. Its next nonce is then 11.
 */
export async function stakedValidator(
  node: ZiNode,
  funder: Keypair,
  funderNonce: bigint,
  v: Keypair,
  amount = 5n * LI_PER_ZI,
): Promise<void> {
  const { chain, mempool } = node;
  const g = chain.genesisHash;
  await mempool.accept(transfer(funder, v.address, amount + 15n * LI_PER_ZI, funderNonce, g));
  await until('the validator is funded', () => getAccount(chain.state, v.address).balance > 0n);
  for (let n = 0; n < chain.params.activeTxCount; n++) await mempool.accept(transfer(v, v.address, 1n, BigInt(n), g));
  await until('the validator is active', () => getAccount(chain.state, v.address).nonce === 10n);
  await mempool.accept(stake(v, amount, 10n, g));
  await until('the stake is in', () => getStake(chain.state, v.address) !== undefined);
  const matured = chain.height + chain.params.stakeMaturity;
  await until('the stake has matured', () => chain.height >= matured);
}
