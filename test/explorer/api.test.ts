import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { fundVoteRules } from '../../src/audit/fund-rules.ts';
import { fundBalance } from '../../src/audit/state.ts';
import { getAccount } from '../../src/chain/accounts.ts';
import { formatAddress, RESERVED_ADDRESS } from '../../src/chain/address.ts';
import { fromHex, toHex } from '../../src/chain/encoding.ts';
import { LI_PER_ZI } from '../../src/chain/params.ts';
import { Transaction, TX_KINDS } from '../../src/chain/transaction.ts';
import { getContract } from '../../src/market/contract-state.ts';
import { decodeResults } from '../../src/market/results.ts';
import { keypair, transfer } from '../support/chain.ts';
import { until } from '../support/node.ts';
import { stakedValidator } from '../support/validator.ts';
import { explorerNetwork, MANDELBROT_SCALE, MANDELBROT_SIZE } from './network.ts';

/**
 * The explorer's JSON API against a real node: a mining Bidder with the
 * explorer on, the Mandelbrot example solved by a real Solver over libp2p,
 * its results in IPFS. Every figure is checked against the node's own
 * state, not against what the API said before.
 */

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field
type J = any;

test('the JSON API of a node with a solved contract', async (t) => {
  const net = await explorerNetwork(t);
  const { node } = net;
  const hrp = node.chain.params.hrp;
  await net.startSolver();
  await net.solved();
  const get = async (path: string): Promise<{ status: number; body: J }> => {
    const r = await fetch(`${net.url}${path}`, { redirect: 'manual' });
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/, path);
    return { status: r.status, body: await r.json() };
  };

  await t.test('server-sent events: the current tip at once, then each new one', async () => {
    const events: J[] = [];
    const req = request(`${net.url}api/events`);
    const done = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
        let buf = '';
        res.on('data', (chunk) => {
          buf += chunk;
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = /^data: (.*)$/m.exec(frame);
            if (/^event: tip$/m.test(frame) && data) events.push(JSON.parse(data[1]!));
            if (events.length >= 2) resolve();
          }
        });
      });
      req.on('error', reject);
    });
    req.end();
    await done;
    req.destroy();
    assert.ok(events[1].height > events[0].height, 'a later tip arrives by itself');
    assert.equal(events[1].hash.length, 64);
  });

  // A Validator stakes and votes on the fund; the Bidder gives to it.
  const validator = keypair();
  const payee = keypair();
  await stakedValidator(node, net.bidder, 1n, validator);
  const g = node.chain.genesisHash;
  const vote = Transaction.sign(
    { kind: TX_KINDS.fundvote, nonce: 11n, fee: 1_000n, payload: fundVoteRules.encode({ payee: payee.address }) },
    validator.priv,
    g,
  );
  await node.mempool.accept(vote);
  await node.mempool.accept(transfer(net.bidder, RESERVED_ADDRESS, 7_000n, 2n, g));
  await until('the vote and the gift are mined', () => node.mempool.count === 0 && fundBalance(node.chain.state) > 0n);

  // From here the chain stands still, so the pages can be compared with the node's state.
  await node.miner!.stop();
  const tip = node.chain.tip;

  await t.test('home: tip, |Po| and difficulty per block, recent blocks, hash rate', async () => {
    const { status, body } = await get('api/home');
    assert.equal(status, 200);
    assert.equal(body.tip.height, tip.height);
    assert.equal(body.tip.hash, toHex(tip.hash));
    assert.equal(body.series.at(-1).height, tip.height);
    for (const p of body.series) {
      const e = node.chain.entryAtHeight(p.height)!;
      assert.equal(p.openProblems, e.openProblems);
      assert.equal(p.difficulty, e.header.difficulty / 65536);
    }
    assert.equal(body.series.find((p: J) => p.height === tip.height).openProblems, 1, 'the open contract counts');
    assert.deepEqual(
      body.recent.map((b: J) => b.height),
      Array.from({ length: Math.min(12, tip.height + 1) }, (_, i) => tip.height - i),
    );
    assert.ok(body.hashrate > 0);
  });

  await t.test('blocks by height and by hash, with their transactions by kind; bad and unknown ids', async () => {
    const c = getContract(node.chain.state, fromHex(net.contract, 32))!;
    const { body } = await get(`api/block/${c.openedHeight}`);
    assert.equal(body.height, c.openedHeight);
    assert.deepEqual(
      body.byKind.contract.map((tx: J) => tx.txid),
      [net.contract],
    );
    const byHash = await get(`api/block/${body.hash}`);
    assert.equal(byHash.body.height, c.openedHeight);
    for (const bad of ['xyz', '-1', '0x10', 'ab'.repeat(31), '01']) {
      const r = await get(`api/block/${bad}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.error.code, 'BAD_ID');
    }
    const unknown = await get(`api/block/${'00'.repeat(32)}`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'NOT_FOUND');
    assert.equal((await get(`api/block/${tip.height + 1}`)).status, 404);
  });

  await t.test('a payout transaction, decoded, with what it paid', async () => {
    const contract = await get(`api/contract/${net.contract}`);
    const first = contract.body.payoutsOverTime[0];
    const block = await get(`api/block/${first.height}`);
    const payout = block.body.byKind.payout[0];
    const { body } = await get(`api/tx/${payout.txid}`);
    assert.equal(body.kind, 'payout');
    assert.equal(body.contract, net.contract);
    assert.equal(body.paid, String(BigInt(body.mcus) * BigInt(body.price)));
    assert.equal(body.from, formatAddress(net.solver.address, hrp));
    assert.equal((await get(`api/tx/${'ab'.repeat(32)}`)).status, 404);
    assert.equal((await get('api/tx/abc')).status, 400);
  });

  await t.test('contracts and a contract: progress, payouts over time, Solvers, results bytes', async () => {
    const list = await get('api/contracts');
    const mine = list.body.open.find((c: J) => c.id === net.contract);
    assert.equal(mine.fraction, 1);
    assert.equal(mine.size, MANDELBROT_SIZE);
    const { body } = await get(`api/contract/${net.contract}`);
    const state = getContract(node.chain.state, fromHex(net.contract, 32))!;
    assert.equal(body.paidMcus, String(state.paidMcus));
    assert.equal(body.escrow, String(state.escrow));
    const overTime = body.payoutsOverTime.reduce((n: bigint, p: J) => n + BigInt(p.mcus), 0n);
    assert.equal(overTime, state.paidMcus, 'the payouts over time add up to what the contract paid');
    assert.deepEqual(
      body.solvers.map((s: J) => [s.address, s.mcus, s.li]),
      [
        [
          formatAddress(net.solver.address, hrp),
          String(MANDELBROT_SIZE),
          String(getAccount(node.chain.state, net.solver.address).balance),
        ],
      ],
    );
    assert.deepEqual(body.image, { width: 4 * MANDELBROT_SCALE, height: 2 * MANDELBROT_SCALE });
    assert.equal(body.batches.length, body.payoutsOverTime.length);
    const batch = body.batches[0];
    const r = await fetch(`${net.url}api/contract/${net.contract}/results/${batch.start}`);
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    const results = decodeResults(new Uint8Array(await r.arrayBuffer()));
    assert.equal(toHex(results.contract), net.contract);
    assert.deepEqual(results.ranges[0], { start: batch.start, end: batch.end });
    const starts = new Set(body.batches.map((b: J) => b.start));
    const notAStart = [...Array(MANDELBROT_SIZE).keys()].find((i) => !starts.has(i))!;
    assert.equal((await get(`api/contract/${net.contract}/results/${notAStart}`)).status, 404, 'no batch starts there');
    assert.equal((await get(`api/contract/${net.contract}/results/x`)).status, 400);
    assert.equal((await get(`api/contract/${'cd'.repeat(32)}`)).status, 404);
  });

  await t.test("addresses: every page's amounts add up to the balance (Solver, and the mining Bidder)", async () => {
    for (const who of [net.solver, net.bidder, validator]) {
      const address = formatAddress(who.address, hrp);
      let sum = 0n;
      let heights = 0;
      // Two blocks a page: every page boundary is crossed.
      let path = `api/address/${address}?count=2`;
      const seen: number[] = [];
      for (;;) {
        const { body } = await get(path);
        for (const h of body.history) {
          heights++;
          seen.push(h.height);
          const items = h.items.reduce((n: bigint, it: J) => n + BigInt(it.li), 0n);
          assert.equal(items, BigInt(h.change), `the items of block ${h.height} add up to its balance change`);
          sum += items;
        }
        if (body.olderBefore === null) break;
        path = `api/address/${address}?count=2&before=${body.olderBefore}`;
      }
      assert.deepEqual(
        seen,
        [...seen].sort((x, y) => y - x),
        'newest first, each block once',
      );
      assert.equal(new Set(seen).size, seen.length);
      assert.equal(sum, getAccount(node.chain.state, who.address).balance, address);
      assert.ok(heights >= 1);
    }
    const solver = await get(`api/address/${formatAddress(net.solver.address, hrp)}`);
    assert.equal(solver.body.solver.mcus, String(MANDELBROT_SIZE));
    assert.ok(solver.body.solver.rate > 0, 'paid in the latest blocks: a pace');
    assert.equal((await get('api/address/zid1nope')).status, 400);
    assert.equal((await get(`api/address/${formatAddress(net.solver.address, hrp)}?before=x`)).status, 400);
    assert.equal((await get(`api/address/${formatAddress(net.solver.address, hrp)}?count=101`)).status, 400);
  });

  await t.test('search: a height, a full id, a unique prefix, an address; nothing; bad input', async () => {
    const height = await get('api/search?q=1');
    assert.equal(height.body.match, '/block/1');
    const prefix = await get(`api/search?q=${net.contract.slice(0, 10)}`);
    assert.equal(prefix.body.match, `/contract/${net.contract}`);
    const full = await get(`api/search?q=${toHex(tip.hash)}`);
    assert.equal(full.body.match, `/block/${toHex(tip.hash)}`);
    const who = formatAddress(keypair().address, hrp);
    assert.equal((await get(`api/search?q=${who}`)).body.match, `/address/${who}`);
    assert.equal((await get('api/search?q=ffffffffffff')).status, 404);
    assert.equal((await get('api/search?q=%3Cscript%3E')).status, 400);
    // A query is text on the page it lands on, never markup.
    const hostile = await fetch(`${net.url}search?q=${encodeURIComponent('<script>alert(1)</script>')}`);
    assert.equal(hostile.status, 400);
    const html = await hostile.text();
    assert.ok(!html.includes('<script>alert'), 'the query is escaped');
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    const page = await fetch(`${net.url}search?q=${net.contract.slice(0, 10)}`, { redirect: 'manual' });
    assert.equal(page.status, 302);
    assert.equal(page.headers.get('location'), `/contract/${net.contract}`);
  });

  await t.test('Solvers, Validators, audits and the fund answer from the node', async () => {
    const solvers = await get('api/solvers');
    assert.equal(solvers.body.leaderboard[0].address, formatAddress(net.solver.address, hrp));
    assert.equal(solvers.body.leaderboard[0].mcus, String(MANDELBROT_SIZE));
    const validators = await get('api/validators');
    assert.deepEqual(
      validators.body.validators.map((v: J) => [v.address, v.amount, v.matured, v.banned, v.audits]),
      [[formatAddress(validator.address, hrp), String(5n * LI_PER_ZI), true, false, { passed: 0, failed: 0 }]],
    );
    const record = await get(`api/address/${formatAddress(validator.address, hrp)}`);
    assert.equal(record.body.validator.amount, String(5n * LI_PER_ZI));
    assert.equal(record.body.active, true);
    assert.ok(BigInt(validators.body.requirement.required) > 0n);
    const audits = await get('api/audits');
    assert.deepEqual(audits.body.audits, []);
    assert.equal(audits.body.fund, '7000');
    const fund = await get('api/fund');
    assert.equal(fund.body.balance, '7000');
    assert.deepEqual(
      fund.body.tally.map((r: J) => [r.payee, r.voters]),
      [[formatAddress(payee.address, hrp), 1]],
    );
    const reserved = await get(`api/address/${formatAddress(RESERVED_ADDRESS, hrp)}`);
    assert.equal(reserved.body.reserved, true);
  });

  await t.test('mempool size and fee-rate percentiles', async () => {
    const nonce = getAccount(node.chain.state, net.bidder.address).nonce;
    const txs = [1_000n, 3_000n, 9_000n].map((fee, i) =>
      transfer(net.bidder, keypair().address, 1_000n, nonce + BigInt(i), node.chain.genesisHash, fee),
    );
    for (const tx of txs) await node.mempool.accept(tx);
    const rates = txs.map((tx) => Number(tx.fee) / tx.size);
    await until('the cache moves on', async () => (await get('api/home')).body.mempool.count === 3);
    const { body } = await get('api/home');
    assert.deepEqual(body.mempool.feeRate, { p10: rates[0], p50: rates[1], p90: rates[2] });
    assert.deepEqual(body.mempool.kinds, { transfer: 3 });
    const pending = await get(`api/tx/${toHex(txs[0]!.hash())}`);
    assert.equal(pending.body.status, 'pending');
  });

  await t.test('read-only: no method but GET and HEAD, no RPC method by name', async () => {
    const post = await fetch(`${net.url}api/home`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
    assert.equal((await get('api/sendrawtransaction')).status, 404);
    assert.equal((await get('api/stop')).status, 404);
    assert.ok(node.chain.height >= tip.height);
    // Another name for this machine, as a rebinding page would use: refused.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${net.url}api/home`, { headers: { host: 'attacker.example:80' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 421);
    const local = new URL(net.url);
    assert.equal((await fetch(`http://localhost:${local.port}/api/tip`)).status, 200);
  });
});
