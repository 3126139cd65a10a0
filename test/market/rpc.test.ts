import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAddress } from '../../src/chain/address.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { marketRpcMethods } from '../../src/market/rpc.ts';
import { memorySessionLog } from '../../src/market/session-log.ts';
import { nodeRules } from '../../src/node/rules.ts';
import { SandboxPool } from '../../src/sandbox/pool.ts';
import { devnet, keypair, mine, openChain } from '../support/chain.ts';
import { contractBody, payout, postContract, SQUARE_CODE } from '../support/market.ts';
import { until } from '../support/node.ts';

const MINER = new Uint8Array(20).fill(9);

test("getreputation and listcontracts: what the chain shows an authority paid and a Solver delivered, and what this node's Solver logged", async (t) => {
  const tc = await openChain(t, { rules: nodeRules({ guardWrites: true }) });
  const g = tc.chain.genesisHash;
  const bidder = keypair();
  const a = keypair();
  const b = keypair();
  await mine(tc, { miner: bidder.address });
  const post = postContract(bidder, 0n, g, contractBody({ budget: 10_000_000n }));
  const idle = postContract(bidder, 1n, g, contractBody({ price: 7n, budget: 10_000_000n }));
  await mine(tc, { txs: [post, idle], miner: MINER });
  const id = post.hash();
  const opened = tc.chain.height;
  await mine(tc, { miner: MINER });
  // First payout two blocks after the contract's block, then one 2 blocks later and one 4 after that.
  await mine(tc, { txs: [payout(a, bidder, id, [{ start: 0, end: 1 }], 0n, g)], miner: MINER });
  const first = tc.chain.height;
  await mine(tc, { miner: MINER });
  await mine(tc, { txs: [payout(a, bidder, id, [{ start: 1, end: 3 }], 1n, g)], miner: MINER });
  for (let k = 0; k < 3; k++) await mine(tc, { miner: MINER });
  await mine(tc, { txs: [payout(b, bidder, id, [{ start: 3, end: 7 }], 0n, g)], miner: MINER });
  const last = tc.chain.height;

  const log = memorySessionLog();
  log.append({
    at: 1,
    contract: toHex(id),
    authority: toHex(bidder.address),
    batchesPaid: 2,
    mcusPaid: 3,
    batchesRejected: 1,
    mcusUnpaid: 5,
    ended: 'FAILED_VALIDATION',
  });
  const solver = { address: a.address, stats: { mcus: 3, earned: 3_000n, payouts: 2 }, sessionLog: log };
  const rpc = marketRpcMethods({ chain: tc.chain, solver });
  const hrp = devnet.hrp;
  const reputation = (k: { address: Uint8Array }) =>
    rpc.getreputation!.handler({ address: formatAddress(k.address, hrp) }) as Promise<Record<string, never>>;

  const ofBidder = await reputation(bidder);
  assert.deepEqual(ofBidder.authority, {
    contracts: 2,
    paidContracts: 1,
    mcusPaid: 7n,
    payouts: 3,
    firstPayoutBlocks: first - opened,
    cadenceBlocks: (last - first) / 2,
    unpaidToThisSolver: 5,
  });
  assert.equal((ofBidder.solver as { mcusDelivered: number }).mcusDelivered, 0);

  const ofA = await reputation(a);
  assert.deepEqual(ofA.solver, {
    payouts: 2,
    mcusDelivered: 3,
    firstPayoutHeight: first,
    lastPayoutHeight: first + 2,
    batchesRejected: 1,
    truncated: false,
  });
  assert.equal((ofA.authority as { contracts: number }).contracts, 0);
  const ofB = await reputation(b);
  assert.equal((ofB.solver as { mcusDelivered: number }).mcusDelivered, 4);
  assert.equal((ofB.solver as { batchesRejected: null }).batchesRejected, null, "not this node's Solver: no log");

  await assert.rejects(rpc.getreputation!.handler({ address: 'zid1nonsense' }) as Promise<unknown>, {
    code: 'BAD_ADDRESS',
  });

  const list = (await rpc.listcontracts!.handler({})) as { id: string; authority: string; reputation: unknown }[];
  assert.equal(list.length, 2);
  for (const c of list) {
    assert.equal(c.authority, formatAddress(bidder.address, hrp));
    const { unpaidToThisSolver: _, ...onChain } = ofBidder.authority as Record<string, unknown>;
    assert.deepEqual(c.reputation, onChain, 'every contract of an authority shows its whole record');
  }
});

test("getcontractstatus runs a contract's code once for its size: a page listing it again loads nothing", async (t) => {
  const tc = await openChain(t, { rules: nodeRules({ guardWrites: true }) });
  const g = tc.chain.genesisHash;
  const bidder = keypair();
  await mine(tc, { miner: bidder.address });
  // Cheap to post, and its top level runs for a while at every load.
  const slow = `${SQUARE_CODE}\nlet spin = 0;\nfor (let i = 0; i < 3e7; i++) spin += i;\n`;
  const post = postContract(bidder, 0n, g, contractBody({ code: slow, budget: 10_000_000n }));
  await mine(tc, { txs: [post], miner: MINER });
  const sandboxes = new SandboxPool({ idleMs: 1 });
  t.after(() => sandboxes.dispose());
  const rpc = marketRpcMethods({ chain: tc.chain, sandboxes });
  const status = () => rpc.getcontractstatus!.handler({ id: post.hash() }) as Promise<{ size: number | null }>;
  assert.equal((await status()).size, 1_000_000);
  assert.equal(sandboxes.size, 1, 'the first status loaded the code');
  await until('its idle runtime disposed', () => sandboxes.size === 0);
  for (let i = 0; i < 3; i++) assert.equal((await status()).size, 1_000_000);
  assert.equal(sandboxes.size, 0, 'later ones ran none of it');
});
