import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getAccount } from '../../src/chain/accounts.ts';
import { getContract, getPaidRanges } from '../../src/market/contract-state.ts';
import { cookiePath } from '../../src/node/config.ts';
import { RpcClient } from '../../src/node/rpc/client.ts';
import { keypair, transfer } from '../support/chain.ts';
import { contractBody, postContract } from '../support/market.ts';
import { startZiNode, until } from '../support/node.ts';

/** The reported attack: a rejected promise whose reason spins on every property read. */
const SPIN = 'Promise.reject(new Proxy({}, { get() { for (;;) {} } }));';
const HONEST = `const size = 100000;\nfunction input(i) { return i; }\nfunction mcu(x) { return (x * 7) % 1009; }\n`;
/** Clean at top level (so every node admits and relays it), hostile in mcu, and paying 50 times more. */
const HOSTILE_MCU = `const size = 100000;\nfunction input(i) { return i; }\nfunction mcu(x) { ${SPIN} return x; }\n`;
/** Hostile at top level: admission must refuse it within its deadline. */
const HOSTILE_TOP = `${SPIN}\nfunction input(i) { return i; }\nfunction mcu(x) { return x; }\n`;

test('a hostile contract beside an honest one: the Solver skips it and is paid by the honest one; the node that admitted it keeps mining and serving', async (t) => {
  const bidder = keypair();
  const attacker = keypair();
  const node = await startZiNode(t, { mine: bidder.address, market: { authorityKey: bidder.priv } });
  const peer = node.network!.addresses();
  const bad = await startZiNode(t, { peers: peer, market: { authorityKey: attacker.priv } });
  await until('the bidder is funded', () => getAccount(node.chain.state, bidder.address).balance > 200n * 10n ** 9n);
  await node.mempool.accept(transfer(bidder, attacker.address, 100n * 10n ** 9n, 0n, node.chain.genesisHash));
  await until(
    'the attacker is funded, as its node sees it',
    () => getAccount(bad.chain.state, attacker.address).balance > 0n,
  );
  // The attacker posts on its own node; the miner admits it from gossip.
  const hostile = postContract(
    attacker,
    0n,
    node.chain.genesisHash,
    contractBody({ code: HOSTILE_MCU, price: 50_000n, budget: 6_000_000_000n, timeoutMs: 2_000 }),
  );
  await bad.mempool.accept(hostile);
  await until(
    'the miner admitted the hostile contract from gossip',
    () => node.mempool.has(hostile.hash()) || getContract(node.chain.state, hostile.hash()) !== undefined,
    30_000,
  );
  // One that hangs at top level, sent past the attacker's own admission: refused, and scored.
  const hangs = postContract(
    attacker,
    1n,
    node.chain.genesisHash,
    contractBody({ code: HOSTILE_TOP, timeoutMs: 2_000 }),
  );
  const before = node.network!.book.score(bad.network!.peerId);
  const t0 = performance.now();
  bad.network!.publishTx(hangs);
  await until(
    'the top-level hang is refused and scored',
    () => node.network!.book.score(bad.network!.peerId) > before,
    20_000,
  );
  assert.ok(performance.now() - t0 < 15_000, 'admission ended within its deadline');
  assert.equal(node.mempool.has(hangs.hash()), false);

  const honest = postContract(
    bidder,
    1n,
    node.chain.genesisHash,
    contractBody({ code: HONEST, price: 1_000n, maxBatch: 64 }),
  );
  await node.mempool.accept(honest);
  await until(
    'both contracts are mined',
    () =>
      getContract(node.chain.state, honest.hash()) !== undefined &&
      getContract(node.chain.state, hostile.hash()) !== undefined,
  );

  // A Solver that picks for itself, without --contract.
  const solver = keypair();
  const solving = await startZiNode(t, { peers: peer, market: { solver: { key: solver.priv, threads: 1 } } });
  await until(
    'the Solver is paid by the honest contract',
    () =>
      getPaidRanges(node.chain.state, honest.hash()).length > 0 &&
      getAccount(node.chain.state, solver.address).balance > 0n,
    90_000,
  );
  assert.equal(getPaidRanges(node.chain.state, hostile.hash()).length, 0);

  // The node that admitted the hostile contract still mines and answers RPC at once.
  const height = node.chain.height;
  await until('the miner keeps mining', () => node.chain.height >= height + 2, 20_000);
  const rpc = new RpcClient({ port: node.rpc.port, cookiePath: cookiePath(node.config.datadir) });
  const r0 = performance.now();
  const info = await rpc.call<{ height: number }>('getinfo');
  assert.ok(info.height >= height + 2);
  assert.ok(performance.now() - r0 < 1_000, 'RPC answers promptly');

  // Shutdown never waits on contract code: the Solver stops mid-batch at once.
  const s0 = performance.now();
  await solving.stop();
  assert.ok(performance.now() - s0 < 3_000, `the Solver took ${Math.round(performance.now() - s0)} ms to stop`);
});
