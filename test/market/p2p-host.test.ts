import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sign } from '../../src/chain/keys.ts';
import type { FrameStream, MarketHost } from '../../src/market/host.ts';
import { ackMessage, type Discovery, discoveryCommitment } from '../../src/market/messages.ts';
import { createMarketHost, DISCOVERY_TOPIC, MARKET_STREAM_LIMITS } from '../../src/market/p2p-host.ts';
import { Solver } from '../../src/market/solver.ts';
import { p2pPort } from '../../src/node/p2p-port.ts';
import { domainName } from '../../src/p2p/topics.ts';
import { SandboxProcesses } from '../../src/sandbox/index.ts';
import { openTestChain, startTestNode } from '../p2p/net.ts';
import { keypair } from '../support/chain.ts';
import { FakeMarketChain, FakeMempool, FakeResultStore, fakeLog } from '../support/market-fakes.ts';
import { until } from '../support/node.ts';

const processes = new SandboxProcesses({ max: 1 });
after(() => processes.close());

/** A market host on a real libp2p node on 127.0.0.1. */
async function realHost(t: Parameters<typeof openTestChain>[0]): Promise<MarketHost> {
  const topic = domainName('devnet', DISCOVERY_TOPIC);
  const node = await startTestNode(await openTestChain(t), { topics: [topic] });
  return createMarketHost(p2pPort(node.net, 'devnet'));
}

test('the jam, on real libp2p streams: after more `done` endings than a connection holds market streams, the Solver still takes the next session', async (t) => {
  const chain = new FakeMarketChain();
  const mempool = new FakeMempool();
  const bidder = keypair();
  const id = chain.open(bidder.address);
  const authority = await realHost(t);
  const real = await realHost(t);
  // Discoveries reach the test directly: gossip's mesh takes seconds to form, and is not what is tested.
  const heard: Discovery[] = [];
  const solverHost: MarketHost = {
    peerId: real.peerId,
    addrs: () => real.addrs(),
    onStream: (h) => real.onStream(h),
    dial: (...a) => real.dial(...a),
    onDiscovery: (h) => real.onDiscovery(h),
    penalize: (...a) => real.penalize(...a),
    judge: (err) => real.judge(err),
    publishDiscovery: async (d) => {
      heard.push(d);
    },
  };
  const solver = new Solver({
    chain,
    mempool,
    host: solverHost,
    results: new FakeResultStore(),
    key: keypair().priv,
    logger: fakeLog(),
    threads: 1,
    processes,
    discoveryIntervalMs: 20,
    backoff: { baseMs: 200 },
  });
  solver.start();
  t.after(() => solver.stop());

  const streams: FrameStream[] = [];
  t.after(() => {
    for (const s of streams) s.abort(new Error('the test is over'));
  });
  const answer = async (disc: Discovery, start: number): Promise<FrameStream> => {
    const s = await authority.dial(disc.peerId, disc.addrs, 5_000);
    streams.push(s);
    const commitment = discoveryCommitment(disc);
    const addrs = authority.addrs();
    await s.write({
      type: 'ack',
      authorityKey: bidder.pub,
      commitment,
      addrs,
      signature: sign(ackMessage({ authorityKey: bidder.pub, commitment, addrs }), bidder.priv),
      lease: { id: start + 1, start, end: start + 1, expiresAt: Date.now() + 60_000 },
    });
    return s;
  };

  const rounds = MARKET_STREAM_LIMITS.maxInboundStreams + 2;
  for (let round = 0; round <= rounds; round++) {
    const from = heard.length;
    await until(`discovery of round ${round}`, () => heard.length > from, 10_000);
    const s = await answer(heard.at(-1)!, round);
    const result = await s.read(10_000);
    assert.equal(result.type, 'result', `round ${round}`);
    if (round === rounds) break;
    // What the Bidder's node does when the escrow runs short: `done`, and its side closes.
    await s.write({ type: 'done', reason: 'BUDGET_EXHAUSTED', message: 'the contract has no escrow left' });
    await s.close();
    chain.update(id, { escrow: chain.contract(id)!.escrow + 1_000_000n });
    chain.tip();
  }
});
