import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VOTE_FEE_MCUS } from '../../src/audit/rules.ts';
import { getAudit, mintedByAudits, STATUS_INVALID, VALID } from '../../src/audit/state.ts';
import { getAccount } from '../../src/chain/accounts.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { getContract } from '../../src/market/contract-state.ts';
import { FLAG_BANNED, getStake } from '../../src/validator/state.ts';
import { AUDIT_FEE, auditedContract, earnedBeyondRewards, voteFrom } from '../support/audit.ts';

for (const lying of [false, true]) {
  test(
    lying
      ? 'a lying Validator: it signs wrong results, the miners’ seeded samples catch it, it is banned and its other contract falls back'
      : 'an honest Validator: three mining nodes audit its batches from IPFS and vote Valid; it gets the held fees, the voters their minted share',
    async (t) => {
      // Its node signs without validating when lying, and the Solver tampers with every output.
      const s = await auditedContract(t, { lying, others: 1 });
      const { chain, id, v, held } = s;
      const other = s.others[0]!;
      const vBefore = getAccount(chain.state, v.address).balance;
      // Three miners audit, one after another so that no race forks the chain.
      const miners = [];
      for (let i = 0; i < 3; i++) miners.push(await voteFrom(t, s));
      const au = getAudit(chain.state, id)!;
      assert.equal(au.votes.length, 3);
      const each = held / 3n < VOTE_FEE_MCUS * AUDIT_FEE ? held / 3n : VOTE_FEE_MCUS * AUDIT_FEE;
      assert.equal(mintedByAudits(chain.state), 3n * each, 'each winning vote minted its share, no more');
      for (const m of miners) assert.equal(await earnedBeyondRewards(chain, m.address), each);
      if (!lying) {
        assert.equal(au.verdict, VALID);
        assert.equal(getContract(chain.state, id)!.heldFees, 0n);
        assert.equal(getAccount(chain.state, v.address).balance, vBefore + held, 'the held fees went to the Validator');
        assert.equal(getStake(chain.state, v.address)!.contracts, 1, 'only the open contract is still reserved');
      } else {
        assert.equal(au.status, STATUS_INVALID);
        assert.ok(getStake(chain.state, v.address)!.flags & FLAG_BANNED, 'banned at once');
        assert.equal(getContract(chain.state, id)!.heldFees, held, 'the held fees wait for the appeal window');
        assert.equal(
          toHex(getContract(chain.state, other)!.validator),
          toHex(new Uint8Array(20)),
          'its other contract falls back to the Bidder',
        );
      }
      await s.supply();
    },
  );
}
