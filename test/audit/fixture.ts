import assert from 'node:assert/strict';
import { getAudit } from '../../src/audit/state.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { LI_PER_ZI } from '../../src/chain/params.ts';
import { getContract, VALIDATION_DELEGATED } from '../../src/market/contract-state.ts';
import { nodeRules } from '../../src/node/rules.ts';
import { devnet, type Keypair, keypair, mine, openChain, type TestChain } from '../support/chain.ts';
import { closeContract, contractBody, payout, postContract } from '../support/market.ts';
import { activeAddress, stake } from '../support/validator.ts';

export const FEE = 10n;
export const MCUS = 10;
export const HELD = BigInt(MCUS) * FEE;

export interface Audited {
  tc: TestChain;
  v: Keypair & { nonce: bigint };
  bidder: Keypair;
  id: Uint8Array;
  /** A second open contract of the same Validator. */
  other: Uint8Array;
}

/** A Validator with two contracts; the first closed after one payout it co-signed: its audit is open. */
export async function audited(t: Parameters<typeof openChain>[0]): Promise<Audited> {
  const tc = await openChain(t, { rules: nodeRules({ guardWrites: true }) });
  const g = tc.chain.genesisHash;
  const v = keypair();
  let nonce = await activeAddress(tc, v);
  await mine(tc, { txs: [stake(v, 10n * LI_PER_ZI, nonce++, g)] });
  for (let i = 0; i < devnet.stakeMaturity; i++) await mine(tc);
  const bidder = keypair();
  await mine(tc, { miner: bidder.address });
  const terms = contractBody({ validation: VALIDATION_DELEGATED, validationFee: FEE, budget: 2_000_000n });
  const posts = [postContract(bidder, 0n, g, terms), postContract(bidder, 1n, g, terms)];
  await mine(tc, { txs: posts });
  const [id, other] = posts.map((p) => p.hash()) as [Uint8Array, Uint8Array];
  assert.equal(toHex(getContract(tc.chain.state, id)!.validator), toHex(v.address));
  await mine(tc, { txs: [payout(keypair(), v, id, [{ start: 0, end: MCUS }], 0n, g)] });
  await mine(tc, { txs: [closeContract(bidder, id, 2n, g)] });
  assert.equal(getAudit(tc.chain.state, id)?.round, 1);
  return { tc, v: { ...v, nonce }, bidder, id, other };
}
