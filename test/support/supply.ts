import assert from 'node:assert/strict';
import { decodeAudit, fundBalance, heldPayment, mintedByAudits, STATE_AUDIT } from '../../src/audit/state.ts';
import { decodeAccount } from '../../src/chain/accounts.ts';
import type { Chain } from '../../src/chain/chain.ts';
import { STATE_ACCOUNT } from '../../src/chain/store/layout.ts';
import { decodeContract, STATE_CONTRACT } from '../../src/market/contract-state.ts';
import { decodeStake, STATE_STAKE } from '../../src/validator/state.ts';

/**
 * The supply invariant: every Li ever minted (a subsidy per block, and the
 * audit vote fees) is in an account, a contract's escrow or held fees, a
 * Validator's stake, an appeal payment or the shared fund; none is created
 * or lost by any domain's rules.
 */
export async function supplyOf(chain: Chain): Promise<{ minted: bigint; held: bigint }> {
  let held = 0n;
  for await (const [key, value] of chain.store.stateEntries()) {
    if (key[0] === STATE_ACCOUNT) held += decodeAccount(value).balance;
    else if (key[0] === STATE_CONTRACT) {
      const c = decodeContract(value);
      held += c.escrow + c.heldFees;
    } else if (key[0] === STATE_STAKE) held += decodeStake(value).amount;
    else if (key[0] === STATE_AUDIT) held += heldPayment(decodeAudit(value));
  }
  held += fundBalance(chain.state);
  return { minted: BigInt(chain.height) * chain.params.subsidy + mintedByAudits(chain.state), held };
}

export async function assertSupply(chain: Chain): Promise<void> {
  const { minted, held } = await supplyOf(chain);
  assert.equal(held, minted, `supply at height ${chain.height}: ${held} Li held, ${minted} Li minted`);
}

/**
 * Checks the supply invariant at every new tip of a running node, one check
 * at a time; a tip that moves during a check is checked again at the newer
 * tip, so a check never mixes two blocks' states. The returned function waits
 * for the checks under way, rethrows the first failure, and checks once more.
 */
export function watchSupply(chain: Chain): () => Promise<void> {
  let chainOfChecks = Promise.resolve();
  let failure: unknown;
  let checked = 0;
  const checkTip = async (): Promise<void> => {
    for (;;) {
      const tip = chain.tip;
      const { minted, held } = await supplyOf(chain);
      // A block's state is stored a moment before it becomes the tip: past that moment, did the tip move?
      await new Promise((r) => setImmediate(r));
      if (chain.tip !== tip) continue;
      checked++;
      assert.equal(held, minted, `supply at height ${chain.height}: ${held} Li held, ${minted} Li minted`);
      return;
    }
  };
  chain.on('tip', () => {
    chainOfChecks = chainOfChecks.then(checkTip).catch((err) => {
      failure ??= err;
    });
  });
  return async () => {
    await chainOfChecks;
    if (failure) throw failure;
    assert.ok(checked > 0, 'the supply was checked at some tip');
    await checkTip();
  };
}
