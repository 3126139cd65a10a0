import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { formatAddress } from '../../src/chain/address.ts';
import { startExplorer } from '../../src/explorer/server.ts';
import { cookiePath } from '../../src/node/config.ts';
import { RpcClient } from '../../src/node/rpc/client.ts';
import { devnet, keypair, tempDir } from '../support/chain.ts';
import { startNode } from '../support/cli.ts';
import { startZiNode, until } from '../support/node.ts';

/**
 * 1,000 clients at once against `zi node --explorer` (a real child process),
 * each GET on a connection of its own, sent from a worker thread so that the
 * probe of the node's RPC, here, measures the node and not the flood.
 */
const FLOOD = `
const { request } = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const get = (url) => new Promise((resolve) => {
  const req = request(url, { agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
  req.on('error', () => resolve(0));
  req.end();
});
Promise.all(workerData.urls.map(get)).then((statuses) => parentPort.postMessage(statuses));
`;

test('1,000 concurrent page requests: each is answered or told 503, the RPC at its 95th percentile stays under 100 ms, the node keeps going', async (t) => {
  const dir = await tempDir(t, 'zi-explorer-load-');
  const datadir = join(dir, 'devnet');
  const miner = formatAddress(keypair().address, devnet.hrp);
  const node = await startNode([
    '--datadir',
    datadir,
    '--mine',
    '--miner-address',
    miner,
    '--threads',
    '1',
    '--explorer',
    '0',
  ]);
  t.after(() => node.stop().then(() => undefined));
  const started = await node.waitFor((l) => l.msg === 'node started');
  const base = String(started.explorer);
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'the explorer binds to 127.0.0.1');
  const rpc = new RpcClient({ port: node.port, cookiePath: cookiePath(datadir) });
  await until('a few blocks', async () => (await rpc.call<number>('getblockcount')) >= 5);

  // Pages computed per URL (blocks, addresses), one shared (home) and refused ones (bad ids).
  const urls = Array.from({ length: 1000 }, (_, i) => {
    const path = [``, `block/${i % 6}`, `api/address/${miner}`, `block/bad-${i}`][i % 4];
    return `${base}${path}`;
  });
  const latencies: number[] = [];
  let flooding = true;
  const probe = (async () => {
    while (flooding) {
      const t0 = performance.now();
      await rpc.call('getblockcount');
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const before = await rpc.call<number>('getblockcount');
  const worker = new Worker(FLOOD, { eval: true, workerData: { urls } });
  const statuses = await new Promise<number[]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  flooding = false;
  await probe;
  await worker.terminate();

  const counts = new Map<number, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  const seen = JSON.stringify([...counts]);
  assert.deepEqual(
    [...counts.keys()].filter((s) => ![200, 400, 503].includes(s)),
    [],
    `every request was answered: ${seen}`,
  );
  assert.equal(counts.get(400), 250, 'each bad id is a 400');
  assert.ok((counts.get(200) ?? 0) >= 500, `most pages were served: ${seen}`);
  assert.ok(latencies.length >= 3, 'the RPC was probed during the flood');
  // Held at the 95th percentile: on a loaded 2-core machine a single call can lose its core to
  // another process for longer than that, whatever the node does; the worst still stays bounded.
  const sorted = [...latencies].sort((a, b) => a - b);
  const p95 = sorted[Math.floor(0.95 * (sorted.length - 1))]!;
  const worst = sorted.at(-1)!;
  const figures = `p95 ${p95.toFixed(1)} ms, worst ${worst.toFixed(1)} ms of ${latencies.length} calls`;
  if (process.env.ZI_TEST_LOG_LATENCY) console.log(figures, seen);
  assert.ok(p95 < 100, `RPC latency during the flood: ${figures}`);
  assert.ok(worst < 500, `RPC latency during the flood: ${figures}`);
  // Still serving, still mining.
  assert.equal((await fetch(base)).status, 200);
  await until('another block', async () => (await rpc.call<number>('getblockcount')) > before);
});

test('past its queue the explorer answers 503 with the reason at once, and serves again when the flood is over', async (t) => {
  const node = await startZiNode(t, { mine: keypair().address });
  await until('a few blocks', () => node.chain.height >= 3);
  // A second explorer over the same node, with room for one page at work and one waiting.
  const small = await startExplorer(
    { chain: node.chain, mempool: node.mempool, methods: node.methods, content: node.content },
    { port: 0, maxActive: 1, maxQueue: 1 },
  );
  t.after(() => small.close());
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      fetch(`${small.url}api/block/${i % 4}?n=${i}`).then(async (r) => ({ status: r.status, body: await r.json() })),
    ),
  );
  const busy = answers.filter((a) => a.status === 503);
  assert.ok(busy.length > 0, 'some were refused');
  assert.ok(
    answers.some((a) => a.status === 200),
    'the first ones were served',
  );
  assert.deepEqual(busy[0]!.body, { error: { code: 'BUSY', message: 'the explorer is busy: try again in a moment' } });
  assert.equal((await fetch(`${small.url}api/block/1?again`)).status, 200);
});

test('live pages past the stream cap are told 503 at once; one that closes frees its place, and the open ones get each new tip', async (t) => {
  const node = await startZiNode(t, { mine: keypair().address });
  await until('a block', () => node.chain.height >= 1);
  const small = await startExplorer(
    { chain: node.chain, mempool: node.mempool, methods: node.methods, content: node.content },
    { port: 0, maxStreams: 2 },
  );
  t.after(() => small.close());
  const open = () => {
    const ac = new AbortController();
    t.after(() => ac.abort());
    return fetch(`${small.url}api/events`, { signal: ac.signal }).then((r) => ({ r, ac }));
  };
  const [a, b] = [await open(), await open()];
  assert.deepEqual([a.r.status, b.r.status], [200, 200]);
  const third = await open();
  assert.equal(third.r.status, 503);
  assert.equal(((await third.r.json()) as { error: { code: string } }).error.code, 'BUSY');
  // The first stream hears the next tip, as a page would.
  const reader = a.r.body!.getReader();
  const decoder = new TextDecoder();
  const from = node.chain.height;
  let text = '';
  while (!new RegExp(`event: tip\\ndata: \\{[^\\n]*"height":${from + 1}\\b`).test(text)) {
    const { value, done } = await reader.read();
    assert.ok(!done, 'the stream stayed open');
    text += decoder.decode(value);
  }
  b.ac.abort();
  await until('its place is free', async () => {
    const again = await open();
    if (again.r.status === 200) return true;
    await again.r.body?.cancel();
    return false;
  });
});
