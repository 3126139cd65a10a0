import assert from 'node:assert/strict';
import { after, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { toHex } from '../../src/chain/encoding.ts';
import type { Hash } from '../../src/chain/hash.ts';
import { sign, verify } from '../../src/chain/keys.ts';
import { MempoolError } from '../../src/chain/mempool.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import { type Transaction, TX_KINDS } from '../../src/chain/transaction.ts';
import { cidOf } from '../../src/content/cid.ts';
import { Authority } from '../../src/market/authority.ts';
import { STATUS_CLOSED, VALIDATION_DELEGATED } from '../../src/market/contract-state.ts';
import { batchPayoutFee, payoutRules, signPayout } from '../../src/market/contract-tx.ts';
import { ackMessage, type Discovery, discoveryCommitment, type ResultFrame } from '../../src/market/messages.ts';
import { MARKET_STREAM_LIMITS } from '../../src/market/p2p-host.ts';
import { unpaidBy } from '../../src/market/reputation.ts';
import { decodeResults } from '../../src/market/results.ts';
import { keySigner, signerSet } from '../../src/market/signer.ts';
import { type SetbackEvent, Solver, type SolverDeps } from '../../src/market/solver.ts';
import { SandboxPool, SandboxProcesses } from '../../src/sandbox/index.ts';
import { outputList } from '../../src/sandbox/outputs.ts';
import { type Keypair, keypair } from '../support/chain.ts';
import {
  type FakeFrameStream,
  FakeMarketChain,
  FakeMarketNet,
  FakeMempool,
  FakeResultStore,
  fakeLog,
} from '../support/market-fakes.ts';
import { until } from '../support/node.ts';

// Contract code runs in real sandbox processes; the network, IPFS, chain and mempool are fakes.
const processes = new SandboxProcesses({ max: 2 });
after(() => processes.close());

/** A Solver on a fake network, chain, IPFS and mempool; the test plays its authority. */
function rig(t: TestContext, opts: Partial<SolverDeps> = {}) {
  const net = new FakeMarketNet();
  const chain = new FakeMarketChain();
  const results = new FakeResultStore();
  const mempool = new FakeMempool();
  const key = keypair();
  const host = net.host('solver');
  const waiting: string[] = [];
  const setbacks: SetbackEvent[] = [];
  /** When each setback was emitted (performance.now()): its wait starts then. */
  const setbackAt: number[] = [];
  const logger = fakeLog();
  const make = () => {
    const solver = new Solver({
      chain,
      mempool,
      host,
      results,
      key: key.priv,
      logger,
      threads: 1,
      processes,
      discoveryIntervalMs: 100,
      backoff: { baseMs: 200 },
      ...opts,
    });
    solver.on('waiting', (why) => waiting.push(why));
    solver.on('setback', (e) => {
      setbacks.push(e);
      setbackAt.push(performance.now());
    });
    solver.start();
    t.after(() => solver.stop());
    return solver;
  };
  /** `until`, and on a timeout the Solver's last log lines and waits, so a failure under load says why. */
  const waitFor = (what: string, pred: () => boolean, ms?: number) =>
    until(what, pred, ms).catch((err: Error) => {
      const tail = [...logger.lines.slice(-25), ...waiting.slice(-5).map((w) => `waiting: ${w}`)];
      throw new Error(`${err.message}; the Solver's log ends:\n${tail.join('\n')}`);
    });
  return { net, chain, results, mempool, key, host, waiting, setbacks, setbackAt, logger, start: make, until: waitFor };
}

type Rig = ReturnType<typeof rig>;

/** The contract's authority, played by hand: it hears discoveries and dials back. */
function authorityPeer(t: TestContext, r: Rig, peerId = 'authority') {
  const host = r.net.host(peerId);
  const heard: Discovery[] = [];
  /** When each discovery arrived (performance.now()). */
  const heardAt: number[] = [];
  host.onDiscovery((d) => {
    heard.push(d);
    heardAt.push(performance.now());
  });
  const streams: FakeFrameStream[] = [];
  t.after(() => {
    for (const s of streams) s.abort(new Error('the test is over'));
  });
  return {
    heard,
    heardAt,
    async discovery(n = 0): Promise<Discovery> {
      // A wait, not a bound on speed: a loaded machine (the full suite on two cores) has taken over 15 s.
      await until(`discovery ${n + 1}`, () => heard.length > n, 40_000);
      return heard[n]!;
    },
    /** Dials the Solver back and acknowledges its discovery with `key`, leasing [start, end). */
    async answer(disc: Discovery, key: Keypair, start: number, end: number, leaseId = 1): Promise<FakeFrameStream> {
      const s = (await host.dial(disc.peerId, disc.addrs, 1_000)) as FakeFrameStream;
      streams.push(s);
      const commitment = discoveryCommitment(disc);
      const addrs = host.addrs();
      await s.write({
        type: 'ack',
        authorityKey: key.pub,
        commitment,
        addrs,
        signature: sign(ackMessage({ authorityKey: key.pub, commitment, addrs }), key.priv),
        lease: { id: leaseId, start, end, expiresAt: Date.now() + 60_000 },
      });
      return s;
    },
  };
}

async function resultFrame(s: FakeFrameStream): Promise<ResultFrame> {
  const f = await s.read(15_000);
  assert.equal(f.type, 'result', `expected results, got ${JSON.stringify(f.type)}`);
  return f;
}

/** The co-signature a real authority would send back for a batch. */
function paidFor(contract: Hash, r: Rig, key: Keypair, f: ResultFrame, start: number, end: number) {
  return {
    type: 'paid' as const,
    leaseId: f.leaseId,
    authoritySig: signPayout(
      {
        contract,
        solver: r.key.address,
        ranges: [{ start, end }],
        price: f.price,
        fee: f.fee,
        timestamp: f.timestamp,
        cid: f.cid,
      },
      key.priv,
    ),
  };
}

const resultsOf = (s: FakeFrameStream) => s.received.filter((f) => f.type === 'result').length;

test('works an open contract at or above its minimum price, never a cheaper or a closed one', async (t) => {
  const r = rig(t, { minPrice: 10n });
  const bidder = keypair();
  r.chain.open(bidder.address, { price: 9n });
  const atMin = r.chain.open(bidder.address, { price: 10n });
  r.chain.open(bidder.address, { price: 1_000n }, { status: STATUS_CLOSED });
  const auth = authorityPeer(t, r);
  const solver = r.start();

  const disc = await auth.discovery();
  assert.equal(toHex(disc.contract), toHex(atMin));
  assert.deepEqual(
    (await solver.rank()).map((c) => toHex(c.id)),
    [toHex(atMin)],
  );
  await until('a few more discoveries', () => auth.heard.length >= 3, 10_000);
  assert.ok(
    auth.heard.every((d) => toHex(d.contract) === toHex(atMin)),
    'every discovery is for that contract',
  );
});

test('a Solver whose minimum price no contract pays announces nothing and says why', async (t) => {
  const r = rig(t, { minPrice: 11n });
  r.chain.open(keypair().address, { price: 10n });
  const auth = authorityPeer(t, r);
  r.start();
  await until('the Solver says it is waiting', () => r.waiting.length > 0, 10_000);
  assert.deepEqual(r.waiting, ['no open contract pays 11 Li per MCU or more']);
  await sleep(300);
  assert.equal(auth.heard.length, 0);
});

test('submits the payout its authority signed: paid to itself, for the leased range, with the CID of its pinned results', async (t) => {
  const r = rig(t);
  const bidder = keypair();
  const id = r.chain.open(bidder.address);
  const auth = authorityPeer(t, r);
  const solver = r.start();

  const s = await auth.answer(await auth.discovery(), bidder, 3, 4);
  const f = await resultFrame(s);
  await s.write(paidFor(id, r, bidder, f, 3, 4));
  await s.write({ type: 'done', reason: 'COMPLETE', message: 'no unsolved indices left to lease' });
  await until('the payout reaches the mempool', () => r.mempool.accepted.length > 0, 10_000);

  const [tx] = r.mempool.accepted;
  assert.equal(tx!.kind, TX_KINDS.payout);
  assert.equal(toHex(tx!.from), toHex(r.key.address), 'the Solver sends its own payout');
  assert.ok(verify(tx!.signature, tx!.sigHash(r.chain.genesisHash), r.key.pub), "signed with the Solver's key");
  const body = payoutRules.decode(tx!.payload, NETWORKS.devnet);
  assert.deepEqual(body.ranges, [{ start: 3, end: 4 }]);
  assert.equal(toHex(body.authority), toHex(bidder.pub));
  assert.equal(toHex(tx!.cid!), toHex(f.cid));
  // The chain's own check of the co-signature, over the Solver, the fee and the CID.
  assert.doesNotThrow(() => payoutRules.check!(tx!, body, NETWORKS.devnet));

  assert.ok(r.results.has(f.cid), 'the Solver pinned what it was paid for');
  const batch = decodeResults(await r.results.get(f.cid));
  assert.deepEqual(outputList(batch.outputs), [9]);
  assert.equal(toHex(cidOf(f.results).bytes), toHex(f.cid));
  assert.deepEqual({ ...solver.stats }, { mcus: 1, earned: 1_000n, payouts: 1 });
});

test('a payout refused as TOO_MANY_PENDING waits for the next block and is sent then, not dropped', async (t) => {
  const r = rig(t);
  const bidder = keypair();
  const id = r.chain.open(bidder.address);
  const auth = authorityPeer(t, r);
  const solver = r.start();
  let refusals = 0;
  r.mempool.refuse = () =>
    refusals++ === 0 ? new MempoolError('TOO_MANY_PENDING', 'this sender has 64 transactions pending') : undefined;

  const s = await auth.answer(await auth.discovery(), bidder, 3, 4);
  const f = await resultFrame(s);
  await s.write(paidFor(id, r, bidder, f, 3, 4));
  await s.write({ type: 'done', reason: 'COMPLETE', message: 'no unsolved indices left to lease' });
  await until('the refusal', () => refusals === 1, 10_000);
  await sleep(100);
  assert.equal(r.mempool.accepted.length, 0, 'nothing sent before a block');
  r.chain.tip();
  await until('the payout reaches the mempool', () => r.mempool.accepted.length === 1, 10_000);
  assert.deepEqual({ ...solver.stats }, { mcus: 1, earned: 1_000n, payouts: 1 });
});

test('stops on a refused batch: no payout, no results for the lease it had in hand, and no new session on that contract', async (t) => {
  const r = rig(t);
  const bidder = keypair();
  r.chain.open(bidder.address);
  const auth = authorityPeer(t, r);
  r.start();

  const s = await auth.answer(await auth.discovery(), bidder, 0, 1);
  await s.write({ type: 'lease', lease: { id: 2, start: 1, end: 3, expiresAt: Date.now() + 60_000 } });
  await resultFrame(s);
  await s.write({ type: 'done', reason: 'FAILED_VALIDATION', message: 'refused' });
  await s.close();

  // The authority leases no more to this key on that contract: the Solver does not ask again.
  await until('the Solver says why it waits', () => r.waiting.some((w) => w.includes('refused a batch')), 10_000);
  const heard = auth.heard.length;
  await sleep(300);
  assert.equal(auth.heard.length, heard, 'no discovery for the contract that refused it');
  assert.equal(resultsOf(s), 1, 'no results after the refusal');
  assert.equal(r.mempool.accepted.length, 0, 'nothing to submit');
  assert.equal(r.host.openInbound(), 0, 'the stream is let go');
});

test('the authority closing the stream mid-batch costs the Solver that batch only: it announces again and is paid', async (t) => {
  const r = rig(t);
  const bidder = keypair();
  const id = r.chain.open(bidder.address);
  const auth = authorityPeer(t, r);
  r.start();

  const first = await auth.answer(await auth.discovery(), bidder, 0, 1);
  await resultFrame(first);
  await first.close();

  const again = await auth.discovery(auth.heard.length);
  const second = await auth.answer(again, bidder, 1, 2, 7);
  const f = await resultFrame(second);
  await second.write(paidFor(id, r, bidder, f, 1, 2));
  await until('the payout reaches the mempool', () => r.mempool.accepted.length > 0, 10_000);
  assert.equal(r.mempool.accepted.length, 1);
  assert.deepEqual(payoutRules.decode(r.mempool.accepted[0]!.payload, NETWORKS.devnet).ranges, [{ start: 1, end: 2 }]);
});

test("computes nothing for a peer whose key may not sign for the contract; works for the contract's Validator", async (t) => {
  const r = rig(t);
  const bidder = keypair();
  const validator = keypair();
  const id = r.chain.open(
    bidder.address,
    { validation: VALIDATION_DELEGATED, validationFee: 10n },
    { validation: VALIDATION_DELEGATED, validationFee: 10n, validator: validator.address },
  );
  const auth = authorityPeer(t, r);
  r.start();

  const impostor = await auth.answer(await auth.discovery(), keypair(), 0, 1);
  await until('the Solver drops the impostor', () => impostor.closed, 10_000);
  assert.equal(resultsOf(impostor), 0, 'no results for an impostor');
  assert.deepEqual(r.host.penalties, [{ peer: 'authority', reason: 'NOT_AUTHORITY' }]);

  const s = await auth.answer(await auth.discovery(auth.heard.length), validator, 0, 1);
  const f = await resultFrame(s);
  assert.equal(toHex(decodeResults(f.results).contract), toHex(id));
});

test('the jam: after more BUDGET_EXHAUSTED endings than a connection has streams, the Solver still takes the next session and is paid', async (t) => {
  const r = rig(t);
  const bidder = keypair();
  const id = r.chain.open(bidder.address);
  const auth = authorityPeer(t, r);
  r.start();

  // What the Bidder's node did each time the escrow ran short: the batch is
  // refused, the session ends with `done`, its side of the stream closes. Then
  // a topup, and the Solver comes back.
  const rounds = MARKET_STREAM_LIMITS.maxInboundStreams + 2;
  for (let round = 0; round < rounds; round++) {
    const s = await auth.answer(await auth.discovery(auth.heard.length), bidder, round, round + 1, round + 1);
    await resultFrame(s);
    await s.write({ type: 'done', reason: 'BUDGET_EXHAUSTED', message: 'the contract has no escrow left' });
    await s.close();
    r.chain.update(id, { escrow: r.chain.contract(id)!.escrow + 1_000_000n });
    r.chain.tip();
  }
  const s = await auth.answer(await auth.discovery(auth.heard.length), bidder, rounds, rounds + 1, rounds + 1);
  const f = await resultFrame(s);
  await s.write(paidFor(id, r, bidder, f, rounds, rounds + 1));
  await until('the payout reaches the mempool', () => r.mempool.accepted.length > 0, 10_000);
  await until('every ended session let go of its stream', () => r.host.openInbound() <= 1, 5_000);
});

/** A real Authority serving `keys`' contracts on the rig's network, chain and IPFS. */
function realAuthority(t: TestContext, r: Rig, keys: Keypair[], peerId = 'bidder-node'): Authority {
  const sandboxes = new SandboxPool({ processes });
  const authority = new Authority({
    chain: r.chain,
    host: r.net.host(peerId),
    results: new FakeResultStore(),
    sandboxes,
    signers: signerSet(keys.map((k) => keySigner(k.priv))),
    logger: fakeLog(),
    baseLeaseMs: 10_000,
  });
  authority.start();
  t.after(() => {
    authority.stop();
    sandboxes.dispose();
  });
  return authority;
}

const paidContract = (tx: Transaction) => toHex(payoutRules.decode(tx.payload, NETWORKS.devnet).contract);

test('an exhausted contract, a silent authority and a funded contract: the Solver is paid by the funded one within one announce window and 5 s', async (t) => {
  const ANNOUNCE = 1_000;
  const r = rig(t, { announceMs: ANNOUNCE });
  r.mempool.onAccept = (tx) => r.chain.mine(tx);
  const served = keypair();
  realAuthority(t, r, [served]);
  // Pays most, but its escrow cannot pay one MCU and its payout's fee.
  const exhausted = r.chain.open(served.address, { price: 50_000n }, { escrow: 40_000n });
  // Pays far more than the funded one (measured rates are noisy), but no node answers for its Bidder.
  const silent = r.chain.open(keypair().address, { price: 30_000n }, { escrow: 10n ** 12n });
  const funded = r.chain.open(served.address, { price: 1_000n });
  const t0 = performance.now();
  r.start();

  // The bound: one announce window lost to the silent contract, then a handshake and a first batch.
  const BOUND_MS = ANNOUNCE + 5_000;
  await r.until('the funded contract pays', () => r.mempool.accepted.length > 0, BOUND_MS);
  assert.ok(performance.now() - t0 < BOUND_MS);
  assert.deepEqual(new Set(r.mempool.accepted.map(paidContract)), new Set([toHex(funded)]));
  const announced = new Set(r.host.published.map((d) => toHex(d.contract)));
  assert.ok(!announced.has(toHex(exhausted)), 'no discovery for a spent escrow');
  assert.ok(announced.has(toHex(silent)), 'the silent one was tried first: it pays more');
  assert.deepEqual(
    r.setbacks.map((e) => [e.contract, e.reason]),
    [[toHex(silent), 'silent']],
  );
});

test('a topup brings the Solver back to a contract whose escrow ran out', async (t) => {
  const r = rig(t);
  r.mempool.onAccept = (tx) => r.chain.mine(tx);
  const bidder = keypair();
  realAuthority(t, r, [bidder]);
  const fee = batchPayoutFee(r.chain.minFeePerByte);
  // Three MCUs and the fees of their two payouts (1 + 2 MCUs).
  const id = r.chain.open(bidder.address, {}, { escrow: 3n * 1_000n + 2n * fee });
  r.start();

  await r.until('the escrow is spent', () => r.chain.contract(id)!.paidMcus === 3n, 15_000);
  assert.equal(r.chain.contract(id)!.escrow, 0n);
  await r.until('the Solver says why it waits', () => r.waiting.some((w) => w.includes('escrow is spent')), 5_000);
  const announced = r.host.published.length;
  await sleep(500);
  assert.equal(r.host.published.length, announced, 'no discovery while the escrow is spent');

  r.chain.update(id, { escrow: 10n * (1_000n + fee) });
  r.chain.tip();
  await r.until('paid again after the topup', () => r.chain.contract(id)!.paidMcus > 3n, 15_000);
  assert.ok(r.setbacks.some((e) => e.reason === 'exhausted'));
});

test('a Bidder that never signs: each session costs at most the two leases in flight, the wait for paid is bounded, and it is backed off longer each time', async (t) => {
  let computed = 0;
  const GRACE_MS = 200;
  const BASE_MS = 150;
  const r = rig(t, {
    paidGraceMs: GRACE_MS,
    backoff: { baseMs: BASE_MS },
    tamper: (_i, out) => {
      computed++;
      return out;
    },
  });
  const bidder = keypair();
  r.chain.open(bidder.address, { growth: 2, maxBatch: 64 });
  const auth = authorityPeer(t, r);
  const solver = r.start();

  const sessions: { computed: number; waitedMs: number; heardAt: number }[] = [];
  let heard = 0;
  for (let n = 0; n < 3; n++) {
    const disc = await auth.discovery(heard);
    const heardAt = auth.heardAt[heard]!;
    const before = computed;
    // Lawful leases: one MCU with the ack, the next (growth × 1) right after.
    const s = await auth.answer(disc, bidder, 0, 1);
    await s.write({ type: 'lease', lease: { id: 2, start: 1, end: 3, expiresAt: Date.now() + 60_000 } });
    await resultFrame(s);
    const sentAt = performance.now();
    // The Solver resets the stream when it gives up: this read fails at that moment.
    await assert.rejects(s.read(10_000), /reset/);
    heard = auth.heard.length;
    sessions.push({ computed: computed - before, waitedMs: performance.now() - sentAt, heardAt });
  }
  for (const [n, x] of sessions.entries()) {
    assert.ok(x.computed <= 1 + 2, `session ${n}: ${x.computed} MCUs computed, at most the two leases in flight`);
    // Its own compute time is a millisecond; the grace is the rest (before: max(30 s, MCUs × 10 ms)).
    assert.ok(x.waitedMs < GRACE_MS + 2_000, `session ${n}: waited ${Math.round(x.waitedMs)} ms for paid`);
  }
  // Remembered: each further session comes only after a wait twice as long.
  assert.deepEqual(
    r.setbacks.map((e) => [e.reason, e.waitMs]),
    [
      ['unpaid', BASE_MS],
      ['unpaid', 2 * BASE_MS],
      ['unpaid', 4 * BASE_MS],
    ],
  );
  // From the setback, not from when this test saw the stream reset (late on a loaded machine);
  // less a few ms, as the Solver's clock (Date.now) ticks in whole milliseconds.
  for (const n of [1, 2]) {
    const gap = sessions[n]!.heardAt - r.setbackAt[n - 1]!;
    assert.ok(gap >= r.setbacks[n - 1]!.waitMs - 5, `session ${n} came ${Math.round(gap)} ms after its setback`);
  }
  assert.equal(r.mempool.accepted.length, 0);
  const log = solver.sessionLog.records();
  assert.deepEqual(
    log.map((x) => x.ended),
    ['NO_PAYMENT', 'NO_PAYMENT', 'NO_PAYMENT'],
  );
  assert.equal(unpaidBy(bidder.address, log), 3, 'its log holds what the Bidder owes: the batch sent each time');
  assert.deepEqual(r.host.penalties, [], 'not paying is not proof of a breach: backed off, not scored');
});

const SLOW_CODE = `const size = 1000;
function input(i) { return i; }
function mcu(x) { let s = 0; for (let k = 0; k < 5e6; k++) s = (s + x * k) % 1000003; return s; }
`;

test('a frame from the authority that does not decode is a breach: the authority is scored down and backed off', async (t) => {
  const r = rig(t);
  const bidder = keypair();
  r.chain.open(bidder.address);
  const auth = authorityPeer(t, r);
  r.start();
  const s = await auth.answer(await auth.discovery(), bidder, 0, 1);
  await resultFrame(s);
  // A result without a CID, where `paid` was due: the frame fails to decode.
  const cid = new Uint8Array(0);
  await s.write({ type: 'result', leaseId: 1, price: 1n, fee: 1n, timestamp: Date.now(), cid, results: cid });
  await until('the Solver drops the session', () => s.closed, 10_000);
  assert.deepEqual(r.host.penalties, [{ peer: 'authority', reason: 'BAD_FRAME' }]);
  await until('the contract is backed off', () => r.waiting.some((w) => w.includes('broke the protocol')), 5_000);
});

test("leases over the contract's maximum batch, over the schedule or over the Solver's time target are refused before they are computed, and the authority is scored down", async (t) => {
  const sent = new Map<string, number>();
  let computed = 0;
  const r = rig(t, {
    // A lease may hold 100 ms of work here: about 5 MCUs of SLOW_CODE.
    leaseMaxMs: 100,
    tamper: (_i, out) => {
      computed++;
      return out;
    },
  });
  // Three Bidders: a breach backs off every contract of the authority that made it.
  const bidders = [keypair(), keypair(), keypair()];
  const overBatch = r.chain.open(bidders[0]!.address, { price: 3_000n, maxBatch: 64 });
  const overSchedule = r.chain.open(bidders[1]!.address, { price: 2_000n, maxBatch: 64 });
  const overTime = r.chain.open(bidders[2]!.address, {
    price: 1_000n,
    code: SLOW_CODE,
    growth: 16,
    maxBatch: 1_000,
  });
  const bidderOf = new Map([overBatch, overSchedule, overTime].map((id, k) => [toHex(id), bidders[k]!]));
  const auth = authorityPeer(t, r);
  const solver = r.start();
  solver.on('progress', () => assert.fail('nothing is paid here'));

  let heard = 0;
  for (let n = 0; n < 3; n++) {
    const disc = await auth.discovery(heard);
    const id = toHex(disc.contract);
    let s: FakeFrameStream;
    const bidder = bidderOf.get(id)!;
    if (id === toHex(overBatch)) {
      s = await auth.answer(disc, bidder, 0, 65);
    } else {
      s = await auth.answer(disc, bidder, 0, 1);
      // Within the maximum batch, but the second lease of a session may hold growth × 1 MCUs (2 here) …
      // … and 16 is the schedule's for growth 16, but over 100 ms of SLOW_CODE on this machine.
      const end = id === toHex(overSchedule) ? 9 : 17;
      await s.write({ type: 'lease', lease: { id: 2, start: 1, end, expiresAt: Date.now() + 60_000 } });
    }
    await until('the Solver drops the session', () => s.closed, 10_000);
    sent.set(id, resultsOf(s));
    heard = auth.heard.length;
  }
  assert.deepEqual(
    [overBatch, overSchedule, overTime].map((id) => sent.get(toHex(id))),
    [0, 1, 1],
    'results sent: none for an oversized first lease, the lawful first one otherwise',
  );
  assert.equal(computed, 2, 'no MCU of an oversized lease was computed');
  assert.deepEqual(r.host.penalties, Array(3).fill({ peer: 'authority', reason: 'BAD_LEASE' }));
  await until('every contract is backed off', () => r.waiting.some((w) => w.includes('broke the protocol')), 5_000);
  await sleep(300);
  assert.equal(auth.heard.length, heard, 'no session for an authority that broke the protocol');
});
