import { Transaction, TX_KINDS } from '../../src/chain/transaction.ts';
import { stakeRules, unstakeRules } from '../../src/validator/rules.ts';
import { type Keypair, mine, type TestChain, transfer } from './chain.ts';

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
