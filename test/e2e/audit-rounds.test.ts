import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VOTE_FEE_MCUS } from '../../src/audit/rules.ts';
import { getAudit, INVALID, mintedByAudits, STATUS_FINAL, VALID } from '../../src/audit/state.ts';
import { getAccount } from '../../src/chain/accounts.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { startExplorer } from '../../src/explorer/server.ts';
import { getContract } from '../../src/market/contract-state.ts';
import { cookiePath } from '../../src/node/config.ts';
import { RpcClient } from '../../src/node/rpc/client.ts';
import { FLAG_BANNED, getStake } from '../../src/validator/state.ts';
import { AUDIT_FEE, auditedContract, earnedBeyondRewards, voteFrom } from '../support/audit.ts';

test('a split vote: one miner run with --audit-lie splits round 1; nine fresh miners decide Valid by majority, and only their winning votes earn', async (t) => {
  const s = await auditedContract(t);
  const { chain, id, v, held } = s;
  const vBefore = getAccount(chain.state, v.address).balance;
  // Round 1: honest, lying, honest.
  const round1 = [await voteFrom(t, s), await voteFrom(t, s, { lie: true }), await voteFrom(t, s)];
  let a = getAudit(chain.state, id)!;
  assert.equal(a.round, 2, 'round 1 split: nine more votes decide');
  assert.deepEqual(
    a.votes.map((x) => x.verdict),
    [VALID, INVALID, VALID],
  );
  assert.equal(mintedByAudits(chain.state), 0n, 'a split round mints nothing');
  // The explorer shows the audit under way: its open round and the three votes, as a voter would look.
  const { node } = s;
  const explorer = await startExplorer(
    { chain, mempool: node.mempool, methods: node.methods, content: node.content },
    { port: 0 },
  );
  t.after(() => explorer.close());
  type Shown = { contract: string; round: number; status: string; votes: { round: number; verdict: string }[] };
  const listed = (await (await fetch(`${explorer.url}api/audits`)).json()) as { audits: Shown[] };
  const shown = listed.audits.find((x) => x.contract === toHex(id));
  assert.ok(shown, 'the audit is listed while open');
  assert.equal(shown.round, 2);
  assert.deepEqual(
    shown.votes.map((x) => [x.round, x.verdict]),
    [
      [1, 'valid'],
      [1, 'invalid'],
      [1, 'valid'],
    ],
  );
  const page = await (await fetch(`${explorer.url}audits`)).text();
  assert.ok(page.includes(toHex(id).slice(0, 16)), 'the Audits page names the contract');
  // Round 2: nine fresh miners, one of them lying too.
  const round2 = [];
  for (let i = 0; i < 9; i++) round2.push(await voteFrom(t, s, { lie: i === 4 }));
  a = getAudit(chain.state, id)!;
  assert.equal(a.status, STATUS_FINAL);
  assert.equal(a.verdict, VALID, 'eight of nine decide Valid');
  assert.deepEqual(
    a.votes.filter((x) => x.round === 2).map((x) => x.verdict),
    round2.map((_, i) => (i === 4 ? INVALID : VALID)),
  );
  const cap = VOTE_FEE_MCUS * AUDIT_FEE;
  const each = held / 9n < cap ? held / 9n : cap;
  // Each voter's balance beyond its blocks' rewards: the vote fee, minted to round 2's winning side only.
  for (const [i, m] of round1.entries()) {
    assert.equal(await earnedBeyondRewards(chain, m.address), 0n, `round 1 vote ${i + 1} earns nothing`);
  }
  for (const [i, m] of round2.entries()) {
    assert.equal(await earnedBeyondRewards(chain, m.address), i === 4 ? 0n : each, `round 2 vote ${i + 1}`);
  }
  // getaudit tells the same from the record: what each vote earned, in order.
  const rpc = new RpcClient({ port: s.node.rpc.port, cookiePath: cookiePath(s.node.config.datadir) });
  const view = await rpc.call<{ votes: { paid: string }[] }>('getaudit', { id: toHex(id) });
  assert.deepEqual(
    view.votes.map((x) => BigInt(x.paid)),
    [0n, 0n, 0n, ...round2.map((_, i) => (i === 4 ? 0n : each))],
  );
  assert.equal(mintedByAudits(chain.state), 8n * each);
  assert.ok(mintedByAudits(chain.state) <= held, 'never more than the held fees');
  assert.equal(getAccount(chain.state, v.address).balance, vBefore + held, 'the held fees go to the Validator');
  assert.equal(getContract(chain.state, id)!.heldFees, 0n);
  const stake = getStake(chain.state, v.address)!;
  assert.equal(stake.flags & FLAG_BANNED, 0);
  assert.equal(stake.contracts, 0, 'its reservation is released');
  await s.supply();
});
