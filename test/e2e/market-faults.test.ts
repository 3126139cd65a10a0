import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lpStream } from '@libp2p/utils';
import { getAccount } from '../../src/chain/accounts.ts';
import { cidOf } from '../../src/content/cid.ts';
import { getContract, getPaidRanges } from '../../src/market/contract-state.ts';
import { marketDomain } from '../../src/market/domain.ts';
import type { MarketHost } from '../../src/market/host.ts';
import { decodeFrame, encodeFrame, MAX_FRAME_BYTES, signDiscovery } from '../../src/market/messages.ts';
import { MARKET_PROTOCOL } from '../../src/market/p2p-host.ts';
import { domainName } from '../../src/p2p/topics.ts';
import { type Keypair, keypair } from '../support/chain.ts';
import { contractBody, postContract } from '../support/market.ts';
import { startZiNode, until } from '../support/node.ts';

const SIZE = 200;
const CODE = `const size = ${SIZE};\nfunction input(i) { return i; }\nfunction mcu(x) { let s = 0; for (let k = 0; k < 2000; k++) s = (s + x * k) % 1000003; return s; }\n`;

async function market(t: Parameters<typeof startZiNode>[0], leaseMs = 30_000) {
  const bidder = keypair();
  const node = await startZiNode(t, { mine: bidder.address, market: { authorityKey: bidder.priv, leaseMs } });
  await until('the bidder is funded', () => node.chain.height >= 1);
  const post = postContract(bidder, 0n, node.chain.genesisHash, contractBody({ code: CODE, maxBatch: 16 }));
  await node.mempool.accept(post);
  const id = post.hash();
  await until('the contract is mined', () => getContract(node.chain.state, id) !== undefined);
  return { node, id, peer: node.network!.addresses() };
}

const allPaid = (node: Awaited<ReturnType<typeof startZiNode>>, id: Uint8Array) => () => {
  const paid = getPaidRanges(node.chain.state, id);
  return paid.length === 1 && paid[0]!.start === 0 && paid[0]!.end === SIZE;
};

test('a Solver faking all but the indices the paper samples (i % 100 == 0) is caught on its first batch, in 20 sessions of 20; an honest one finishes', async (t) => {
  const { node, id, peer } = await market(t);
  const rejected: string[] = [];
  node.service(marketDomain).authority!.on('rejected', (r) => rejected.push(r.reason));
  // Right only where the paper's fixed check looks; every other output faked.
  const tamper = (i: number, out: unknown) => (i % 100 === 0 ? out : -1) as never;
  const cheaters = [];
  for (let session = 1; session <= 20; session++) {
    const cheater = keypair();
    cheaters.push(cheater);
    const bad = await startZiNode(t, { peers: peer, market: { solver: { key: cheater.priv, threads: 1, tamper } } });
    await until(`cheater ${session} is caught`, () => rejected.length >= session, 30_000).catch((err) => {
      throw new Error(`${err.message}; rejected so far: ${rejected.join(', ')}`);
    });
    assert.deepEqual(rejected, Array(session).fill('FAILED_VALIDATION'));
    assert.ok(node.network!.book.score(bad.network!.peerId) > 0, 'the cheater was scored down');
    await bad.stop();
  }
  const honest = keypair();
  await startZiNode(t, { peers: peer, market: { solver: { key: honest.priv, threads: 1 } } });
  await until('every index is paid', allPaid(node, id), 120_000);
  // A cheater is paid only for MCUs it computed: a batch of one index that
  // is a multiple of 100. No paid batch held a faked output.
  const cheatersPaid = cheaters.reduce((sum, c) => sum + getAccount(node.chain.state, c.address).balance, 0n);
  assert.ok(cheatersPaid <= BigInt(SIZE / 100) * 1_000n, `cheaters were paid ${cheatersPaid} Li`);
  const honestPaid = getAccount(node.chain.state, honest.address).balance;
  assert.equal(cheatersPaid + honestPaid, BigInt(SIZE) * 1_000n);
  assert.equal(rejected.length, 20, 'no lease after a failed batch');
});

test('a Solver that disappears mid-lease has its range leased again to another', async (t) => {
  const { node, id, peer } = await market(t, 1_500);
  const quitter = keypair();
  const gone = await startZiNode(t, { peers: peer, market: { solver: { key: quitter.priv, threads: 1 } } });
  await until(
    'the quitter holds a lease',
    async () => ((await node.service(marketDomain).authority!.status(id))?.leased.length ?? 0) > 0,
  );
  await gone.stop();
  const other = keypair();
  await startZiNode(t, { peers: peer, market: { solver: { key: other.priv, threads: 1 } } });
  await until('every index is paid', allPaid(node, id), 120_000);
  assert.ok(getAccount(node.chain.state, other.address).balance > 0n);
});

test('malformed, oversized and out-of-order market frames end the session, cost the peer score and the key its leases', async (t) => {
  const { node, id, peer } = await market(t);
  const reasons: string[] = [];
  node.service(marketDomain).authority!.on('rejected', (r) => reasons.push(r.reason));
  /** Announces `key` from `host` and waits for the authority to end the session it opens. */
  const breach = async (host: MarketHost, key: Keypair, timestamp = Date.now()) => {
    const before = reasons.length;
    await announce(host, key, timestamp);
    await until('the authority ends the session', () => reasons.length > before, 20_000);
  };
  const announce = (host: MarketHost, key: Keypair, timestamp: number) =>
    host.publishDiscovery(
      signDiscovery({ peerId: host.peerId, addrs: host.addrs(), contract: id, timestamp }, key.priv, key.pub),
    );

  // Frames that decode but come out of turn, through the market host's own stream.
  const rogue = await startZiNode(t, { peers: peer });
  const host = rogue.service(marketDomain).host!;
  await until('connected', () => rogue.network!.peers().some((p) => p.ready));
  const acks: string[] = [];
  host.onStream(async (stream) => {
    const ack = await stream.read(5_000);
    acks.push(ack.type);
    // First session: a frame that belongs to the authority; second: results for another lease.
    if (acks.length === 1) await stream.write({ type: 'paid', leaseId: 1, authoritySig: new Uint8Array(64) });
    else if (ack.type === 'ack') {
      await stream.write({
        type: 'result',
        leaseId: ack.lease.id + 7,
        price: 1_000n,
        fee: 400n,
        timestamp: Date.now(),
        cid: new Uint8Array(36),
        results: new Uint8Array([1, 2, 3]),
      });
    }
  });
  // A key that broke the protocol gets no second session, so each try comes with a fresh key.
  const rogueKeys = [keypair(), keypair()];
  for (const key of rogueKeys) await breach(host, key);

  // Frames the stream cannot deliver (no CID; a length prefix one byte over
  // the limit), from a second peer so that its score starts at 0. It writes
  // below the market host, on the real length-prefixed stream.
  const raw = await startZiNode(t, { peers: peer });
  const rawHost = raw.service(marketDomain).host!;
  await until('connected', () => raw.network!.peers().some((p) => p.ready));
  let rawSessions = 0;
  await raw.network!.host.handle(
    domainName('devnet', MARKET_PROTOCOL),
    async (stream) => {
      const lp = lpStream(stream);
      const ack = decodeFrame((await lp.read()).subarray());
      rawSessions++;
      if (ack.type !== 'ack') return;
      const result = {
        type: 'result' as const,
        leaseId: ack.lease.id,
        price: 1_000n,
        fee: 400n,
        timestamp: Date.now(),
        cid: new Uint8Array(0),
        results: new Uint8Array(0),
      };
      if (rawSessions === 1) await lp.write(encodeFrame(result));
      else {
        const results = new Uint8Array(MAX_FRAME_BYTES + 1 - encodeFrame(result).length - 36);
        const frame = encodeFrame({ ...result, cid: cidOf(results).bytes, results });
        assert.equal(frame.length, MAX_FRAME_BYTES + 1);
        await lp.write(frame);
      }
    },
    { force: true },
  );
  const rawKeys = [keypair(), keypair()];
  for (const key of rawKeys) await breach(rawHost, key);

  // No key that broke the protocol is served again, however often it asks.
  for (const key of rogueKeys) await announce(host, key, Date.now() + 1);
  for (const key of rawKeys) await announce(rawHost, key, Date.now() + 1);
  await new Promise((r) => setTimeout(r, 1_000));
  assert.deepEqual(reasons, ['BAD_FRAME', 'WRONG_LEASE', 'DECODE_BAD_VALUE', 'OVERSIZED']);
  assert.deepEqual(acks, ['ack', 'ack']);
  assert.equal(rawSessions, 2);
  // Two breaches of 25 points each per peer (scores decay slowly, so a little under 50 by now).
  assert.ok(node.network!.book.score(rogue.network!.peerId) > 45);
  assert.ok(node.network!.book.score(raw.network!.peerId) > 45);
  // The authority keeps serving: the leases went back to the pool, nothing was paid.
  assert.deepEqual(getPaidRanges(node.chain.state, id), []);
  const status = await node.service(marketDomain).authority!.status(id);
  assert.equal(status!.leased.length, 0);
});
