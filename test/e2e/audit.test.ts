import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VOTE_FEE_MCUS } from '../../src/audit/rules.ts';
import { getAudit, mintedByAudits, STATUS_INVALID, VALID } from '../../src/audit/state.ts';
import { getAccount } from '../../src/chain/accounts.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { LI_PER_ZI } from '../../src/chain/params.ts';
import { getContract, getPaidRanges, STATUS_OPEN, VALIDATION_DELEGATED } from '../../src/market/contract-state.ts';
import { FLAG_BANNED, getStake } from '../../src/validator/state.ts';
import { type Keypair, keypair } from '../support/chain.ts';
import { closeContract, contractBody, postContract } from '../support/market.ts';
import { startZiNode, until } from '../support/node.ts';
import { assertSupply } from '../support/supply.ts';
import { stakedValidator } from '../support/validator.ts';

const SIZE = 60;
const CODE = `const size = ${SIZE};\nfunction input(i) { return i; }\nfunction mcu(x) { return x * x + 1; }\n`;
const FEE = 3n;

for (const lying of [false, true]) {
  test(
    lying
      ? 'a lying Validator: it signs wrong results, the miners’ seeded samples catch it, it is banned and its other contract falls back'
      : 'an honest Validator: three mining nodes audit its batches from IPFS and vote Valid; it gets the held fees, the voters their minted share',
    async (t) => {
      const bidder = keypair();
      const v = keypair();
      const miners = [keypair(), keypair(), keypair()];
      const a = await startZiNode(t, { mine: bidder.address, market: { authorityKey: bidder.priv } });
      const { chain, mempool } = a;
      const g = chain.genesisHash;
      chain.on('tip', () => void assertSupply(chain));
      const peer = a.network!.addresses();
      await until('the bidder is funded', () => getAccount(chain.state, bidder.address).balance >= 30n * LI_PER_ZI);
      await stakedValidator(a, bidder, 0n, v);
      const body = contractBody({
        code: CODE,
        price: 100n,
        budget: 2_000_000n,
        growth: 2,
        maxBatch: 16,
        validation: VALIDATION_DELEGATED,
        validationFee: FEE,
      });
      const posts = [postContract(bidder, 1n, g, body), postContract(bidder, 2n, g, { ...body, budget: 2_000_001n })];
      for (const p of posts) await mempool.accept(p);
      const [id, other] = posts.map((p) => p.hash()) as [Uint8Array, Uint8Array];
      await until('the contracts are mined', () => getContract(chain.state, other) !== undefined);
      assert.equal(toHex(getContract(chain.state, id)!.validator), toHex(v.address));
      // The Validator's node; lying, it signs without validating, and its Solver tampers with every output.
      const vNode = await startZiNode(t, {
        peers: peer,
        market: { authorityKey: v.priv, ...(lying ? { signUnchecked: true } : {}) },
      });
      const solver = keypair();
      const tamper = lying ? (_i: number, o: unknown) => (o as number) + 7 : undefined;
      await startZiNode(t, { peers: peer, market: { solver: { key: solver.priv, threads: 1, contract: id, tamper } } });
      await until(
        'every index is paid',
        () => {
          const r = getPaidRanges(chain.state, id);
          return r.length === 1 && r[0]!.end === SIZE;
        },
        90_000,
      );
      // Three miners audit, one after another so that no race forks the chain. Each
      // connects to the Validator's node too: without content routing, bitswap asks
      // connected peers only (either side may dial: test/content/node-peers.test.ts).
      await mempool.accept(closeContract(bidder, id, 3n, g));
      await until('the close is mined', () => getContract(chain.state, id)!.status !== STATUS_OPEN);
      await a.miner!.stop();
      const voted = (m: Keypair) => () =>
        getAudit(chain.state, id)?.votes.some((x) => toHex(x.voter) === toHex(m.address)) ?? false;
      for (const m of miners) {
        const n = await startZiNode(t, { peers: [...peer, ...vNode.network!.addresses()], mine: m.address });
        await until('its vote is in', voted(m), 90_000);
        await n.miner!.stop();
      }
      const au = getAudit(chain.state, id)!;
      const voters = new Set(au.votes.map((x) => toHex(x.voter)));
      assert.equal(voters.size, 3, 'three distinct miners voted');
      const held = BigInt(SIZE) * FEE;
      const each = held / 3n < VOTE_FEE_MCUS * FEE ? held / 3n : VOTE_FEE_MCUS * FEE;
      assert.equal(mintedByAudits(chain.state), 3n * each, 'each winning vote minted its share, no more');
      if (!lying) {
        assert.equal(au.verdict, VALID);
        assert.equal(getContract(chain.state, id)!.heldFees, 0n, 'the held fees went to the Validator');
        assert.equal(getStake(chain.state, v.address)!.contracts, 1);
      } else {
        assert.equal(au.status, STATUS_INVALID);
        assert.ok(getStake(chain.state, v.address)!.flags & FLAG_BANNED, 'banned at once');
        assert.equal(
          toHex(getContract(chain.state, other)!.validator),
          toHex(new Uint8Array(20)),
          'its other contract falls back to the Bidder',
        );
      }
      await assertSupply(chain);
    },
  );
}
