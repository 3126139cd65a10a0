import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { getAccount } from '../../src/chain/accounts.ts';
import { formatAddress } from '../../src/chain/address.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { stateKey } from '../../src/chain/store/layout.ts';
import { TX_KINDS } from '../../src/chain/transaction.ts';
import { cidFromBytes } from '../../src/content/cid.ts';
import { MAX_UNION_ROWS } from '../../src/market/collect.ts';
import { decodePaidBatch, getContract, getPaidRanges, STATE_PAID_BATCH } from '../../src/market/contract-state.ts';
import { payoutRules } from '../../src/market/contract-tx.ts';
import { marketDomain } from '../../src/market/domain.ts';
import { decodeResults } from '../../src/market/results.ts';
import type { MarketConfig } from '../../src/market/service.ts';
import { ContentKeeper } from '../../src/node/content-keeper.ts';
import type { ZiNode } from '../../src/node/node.ts';
import { loadContract } from '../../src/sandbox/index.ts';
import { outputList } from '../../src/sandbox/outputs.ts';
import { keypair, tempDir } from '../support/chain.ts';
import { runZi, runZiOk } from '../support/cli.ts';
import { contractBody, postContract } from '../support/market.ts';
import { startZiNode, until } from '../support/node.ts';

const SIZE = 300;
const CODE = `const size = ${SIZE};\nfunction input(i) { return i; }\nfunction mcu(x) { let s = 0; for (let k = 0; k <= x; k++) s += k * k; return s; }\n`;

test('two Solvers solve a contract: every index paid once, escrow exact, the union equals a local recomputation', async (t) => {
  const bidder = keypair();
  const solverA = keypair();
  const solverB = keypair();
  const bidderNode = await startZiNode(t, { mine: bidder.address, market: { authorityKey: bidder.priv } });
  const peer = bidderNode.network!.addresses();
  await until('the bidder is funded', () => bidderNode.chain.height >= 1);

  const body = contractBody({ code: CODE, price: 1_000n, budget: 2_000_000n, growth: 2, maxBatch: 32 });
  const post = postContract(bidder, 0n, bidderNode.chain.genesisHash, body);
  await bidderNode.mempool.accept(post);
  const id = post.hash();
  await until('the contract is mined', () => getContract(bidderNode.chain.state, id) !== undefined);

  const a = await startZiNode(t, { peers: peer, market: { solver: { key: solverA.priv, threads: 1 } } });
  const b = await startZiNode(t, { peers: peer, market: { solver: { key: solverB.priv, threads: 1 } } });
  await until(
    'every index is paid on chain',
    () => {
      const paid = getPaidRanges(bidderNode.chain.state, id);
      return paid.length === 1 && paid[0]!.start === 0 && paid[0]!.end === SIZE;
    },
    120_000,
  );

  const state = bidderNode.chain.state;
  const c = getContract(state, id)!;
  assert.equal(c.paidMcus, BigInt(SIZE));
  const earnedA = getAccount(state, solverA.address).balance;
  const earnedB = getAccount(state, solverB.address).balance;
  // Solvers get price × MCUs and pay no fees: the escrow paid the payouts' fees.
  assert.equal(earnedA + earnedB, BigInt(SIZE) * 1_000n);
  assert.ok(earnedA > 0n && earnedB > 0n, 'both Solvers were paid');
  const fees = await payoutFees(bidderNode, id);
  assert.equal(c.escrow, body.budget - BigInt(SIZE) * 1_000n - fees);

  // Fetch every paid batch by CID from a third node, which computed none of them.
  const reader = await startZiNode(t, { peers: peer });
  const batches = await paidBatches(bidderNode, id);
  const outputs = new Map<number, unknown>();
  for (const batch of batches) {
    const bytes = await reader.content!.get(cidFromBytes(batch.cid), { timeoutMs: 20_000 });
    const r = decodeResults(bytes);
    assert.equal(toHex(r.contract), toHex(id));
    outputList(r.outputs).forEach((o, k) => {
      const i = r.ranges[0]!.start + k;
      assert.ok(!outputs.has(i), `index ${i} paid twice`);
      outputs.set(i, o);
    });
  }
  const local = await loadContract(CODE);
  try {
    const expected = await local.runRange(0, SIZE);
    assert.deepEqual(
      [...outputs.keys()].sort((x, y) => x - y).map((i) => outputs.get(i)),
      expected.outputs,
    );
  } finally {
    local.dispose();
  }
  assert.ok(
    a.service(marketDomain).solver!.stats.payouts + b.service(marketDomain).solver!.stats.payouts >= batches.length,
  );

  // The Bidder's view through the CLI: status, and the results folded with the contract's union.
  const dir = await tempDir(t, 'zi-results-');
  const client = ['--datadir', bidderNode.config.datadir, '--rpc-port', String(bidderNode.rpc.port), '--json'];
  const status = JSON.parse(await runZiOk(['contract', 'status', toHex(id), ...client]));
  assert.equal(status.paidMcus, String(SIZE));
  assert.deepEqual(status.paidRanges, [[0, SIZE]]);
  const out = join(dir, 'union.json');
  const png = join(dir, 'grid.png');
  const summary = JSON.parse(
    await runZiOk(['contract', 'results', toHex(id), '--out', out, '--png', png, '--width', '20', ...client]),
  );
  assert.equal(summary.mcus, SIZE);
  const union = JSON.parse(await readFile(out, 'utf8')) as [number, number, number][];
  assert.deepEqual(
    union.map((r) => r[0]),
    Array.from({ length: SIZE }, (_, i) => i),
  );
  assert.deepEqual(
    union.map((r) => r[2]),
    [...outputs.keys()].sort((x, y) => x - y).map((i) => outputs.get(i)),
  );
  assert.equal((await readFile(png)).readUInt32BE(16), 20);

  // Without --out the union goes under the data dir, and the path is printed.
  const run = await runZi(['contract', 'results', toHex(id), ...client.slice(0, -1)]);
  assert.equal(run.code, 0, run.stderr);
  const byDefault = run.stdout;
  // In a pipe, progress is one line per tenth of the batches, ending with all of them.
  const fetched = run.stderr.match(/^fetched (\d+)\/(\d+) batches$/gm) ?? [];
  assert.ok(fetched.length >= 1 && fetched.length <= 11, run.stderr);
  assert.match(fetched.at(-1)!, /^fetched (\d+)\/\1 batches$/);
  const unionPath = join(bidderNode.config.datadir, 'results', `${toHex(id)}.json`);
  assert.match(byDefault, new RegExp(`union +${unionPath.replaceAll('.', '\\.')}`));
  assert.equal((JSON.parse(await readFile(unionPath, 'utf8')) as unknown[]).length, SIZE);

  // The Bidder's status, from the node that serves the contract.
  const human = await runZiOk(['contract', 'status', toHex(id), ...client.slice(0, -1)]);
  assert.match(human, /progress +\[█{24}\] 100\.0 % {2}300 of 300 MCUs paid/);
  assert.match(human, /paid out +300,000 Li \(0\.0003 Zi\) to Solvers in \d+ payouts/);
  assert.match(human, /authority +the Bidder zid1\S+: this node serves it/);
  assert.match(human, /ETA +done/);
  assert.match(human, /pace +\d[\d,]* MCU\/s over the last/);

  // A Solver's history shows what each payout brought and from which contract.
  const history = await runZiOk([
    'wallet',
    'history',
    '--address',
    formatAddress(solverA.address, 'zid'),
    ...client.slice(0, -1),
  ]);
  assert.match(
    history,
    new RegExp(`\\+0\\.\\d+ Zi {2}from the escrow of contract ${toHex(id).slice(0, 16)}… for [\\d,]+ MCUs`),
  );

  // gc on the node that fetched the batches unpinned frees them; on the Bidder's, every paid batch stays pinned.
  const gcReader = JSON.parse(
    await runZiOk([
      'content',
      'gc',
      '--json',
      '--datadir',
      reader.config.datadir,
      '--rpc-port',
      String(reader.rpc.port),
    ]),
  );
  assert.equal(gcReader.deleted, batches.length);
  assert.equal(gcReader.after.blocks, 0);
  const gcBidder = JSON.parse(await runZiOk(['content', 'gc', ...client]));
  assert.equal(gcBidder.protected, batches.length);
  assert.equal(gcBidder.after.pins, gcBidder.before.pins);
  // Not the hour's grace for new pins that keeps them: the market names every paid batch as kept.
  const strict = new ContentKeeper({
    content: bidderNode.content!,
    keep: () => bidderNode.service(marketDomain).keep(),
    logger: { info() {}, warn() {}, debug() {} },
    graceMs: 0,
  });
  assert.equal((await strict.gc()).unpinned, 0);
  for (const batch of batches) {
    assert.equal(await bidderNode.content!.isPinned(cidFromBytes(batch.cid)), true);
    assert.ok((await bidderNode.content!.get(cidFromBytes(batch.cid), { offline: true })).length > 0);
  }
});

async function paidBatches(node: ZiNode, id: Uint8Array) {
  const out = [];
  for await (const [k, v] of node.chain.store.stateEntries(stateKey(STATE_PAID_BATCH, id)))
    out.push(decodePaidBatch(k, v));
  return out;
}

async function payoutFees(node: ZiNode, id: Uint8Array): Promise<bigint> {
  let fees = 0n;
  for (let h = 1; h <= node.chain.height; h++) {
    const block = await node.chain.getBlock(node.chain.entryAtHeight(h)!.hash);
    for (const tx of block!.txs) {
      if (
        tx.kind === TX_KINDS.payout &&
        toHex(payoutRules.decode(tx.payload, node.chain.params).contract) === toHex(id)
      ) {
        fees += tx.fee;
      }
    }
  }
  return fees;
}

/** A Bidder node and one Solver node that solve `code` (of `size` MCUs) to the last index. */
async function solveOnChain(
  t: TestContext,
  code: string,
  size: number,
  market: Partial<MarketConfig> = {},
): Promise<{ bidderNode: ZiNode; id: Uint8Array }> {
  const bidder = keypair();
  const bidderNode = await startZiNode(t, { mine: bidder.address, market: { authorityKey: bidder.priv, ...market } });
  await until('the bidder is funded', () => bidderNode.chain.height >= 1);
  const body = contractBody({ code, price: 1n, budget: BigInt(size) * 5n + 1_000_000n, maxBatch: 1 << 20 });
  const post = postContract(bidder, 0n, bidderNode.chain.genesisHash, body);
  await bidderNode.mempool.accept(post);
  const id = post.hash();
  await until('the contract is mined', () => getContract(bidderNode.chain.state, id) !== undefined);
  await startZiNode(t, {
    peers: bidderNode.network!.addresses(),
    market: { solver: { key: keypair().priv, threads: 1 } },
  });
  await until(
    'every index is paid on chain',
    () => getContract(bidderNode.chain.state, id)?.paidMcus === BigInt(size),
    120_000,
  );
  return { bidderNode, id };
}

test('zi contract results past MAX_UNION_ROWS: outputs and image are written, the union is skipped or refused', async (t) => {
  const size = MAX_UNION_ROWS + 1000;
  const code = `const size = ${size};\nfunction input(i) { return i; }\nfunction mcu(x) { return x % 3 === 0; }\n`;
  const { bidderNode, id } = await solveOnChain(t, code, size);

  const dir = await tempDir(t, 'zi-results-');
  const client = ['--datadir', bidderNode.config.datadir, '--rpc-port', String(bidderNode.rpc.port)];
  const named = await runZi(['contract', 'results', toHex(id), '--out', join(dir, 'union.json'), ...client]);
  assert.equal(named.code, 1);
  assert.match(
    named.stderr,
    /more rows than the 4,194,304 a union is built from: write the outputs \(zi contract results --outputs/,
  );

  const lines = join(dir, 'outputs.jsonl');
  const png = join(dir, 'grid.png');
  const summary = JSON.parse(
    await runZiOk(['contract', 'results', toHex(id), '--outputs', lines, '--png', png, '--json', ...client]),
  );
  assert.equal(summary.mcus, size);
  assert.equal(summary.out, undefined);
  const text = await readFile(lines, 'utf8');
  const rows = text.trimEnd().split('\n');
  assert.equal(rows.length, size);
  for (const i of [0, 1, 2, 3, MAX_UNION_ROWS, size - 1]) assert.equal(rows[i], `[${i},${i % 3 === 0}]`);
  assert.equal((await readFile(png)).readUInt32BE(16), Math.round(Math.sqrt(2 * size)));
});

test('leases of slow MCUs stay near the lease target instead of growing to the maximum batch', async (t) => {
  // About 0.45 ms an MCU here: 100 ms of work is about 220 MCUs.
  const code = `const size = 4000;\nfunction input(i) { return i; }\nfunction mcu(x) { let s = x; for (let k = 0; k < 100000; k++) s = (s * 31 + k) % 1000003; return s; }\n`;
  const { bidderNode, id } = await solveOnChain(t, code, 4000, { leaseTargetMs: 100 });
  const sizes = (await paidBatches(bidderNode, id)).map((b) => b.end - b.start);
  // Doubling alone would have reached 2,048 (1 + 2 + … + 2,048 ≥ 4,000).
  assert.ok(Math.max(...sizes) <= 1024, `batch sizes ${sizes.join(', ')}`);
  assert.ok(sizes.length >= 12, `${sizes.length} batches`);
});
