import assert from 'node:assert/strict';
import { after, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Address } from '../../src/chain/address.ts';
import { toHex } from '../../src/chain/encoding.ts';
import type { Hash } from '../../src/chain/hash.ts';
import { verify } from '../../src/chain/keys.ts';
import { cidOf } from '../../src/content/cid.ts';
import { Authority } from '../../src/market/authority.ts';
import { VALIDATION_DELEGATED } from '../../src/market/contract-state.ts';
import { batchPayoutFee, payoutFee, payoutMessage } from '../../src/market/contract-tx.ts';
import { scheduleCap } from '../../src/market/leases.ts';
import {
  ackMessage,
  type Discovery,
  discoveryCommitment,
  type Frame,
  type Lease,
  type ResultFrame,
  signDiscovery,
} from '../../src/market/messages.ts';
import { encodeResults } from '../../src/market/results.ts';
import { keySigner, signerSet } from '../../src/market/signer.ts';
import { SandboxPool, SandboxProcesses } from '../../src/sandbox/index.ts';
import { outputsOf } from '../../src/sandbox/outputs.ts';
import { type Keypair, keypair } from '../support/chain.ts';
import {
  type FakeFrameStream,
  FakeMarketChain,
  FakeMarketNet,
  FakeResultStore,
  fakeLog,
} from '../support/market-fakes.ts';
import { until } from '../support/node.ts';

// Contract code runs in real sandbox processes; the network, IPFS and the chain are fakes.
const processes = new SandboxProcesses({ max: 2 });
after(() => processes.close());

const square = (i: number) => i * i;

interface Rig {
  net: FakeMarketNet;
  chain: FakeMarketChain;
  results: FakeResultStore;
  authority: Authority;
  rejected: string[];
}

/** An Authority that signs with `keys`, on a fake network, chain and IPFS. */
function rig(t: TestContext, keys: Keypair[]): Rig {
  const net = new FakeMarketNet();
  const chain = new FakeMarketChain();
  const results = new FakeResultStore();
  const sandboxes = new SandboxPool({ processes });
  const logger = fakeLog();
  const authority = new Authority({
    chain,
    host: net.host('authority'),
    results,
    sandboxes,
    signers: signerSet(keys.map((k) => keySigner(k.priv))),
    logger,
    baseLeaseMs: 10_000,
  });
  const rejected: string[] = [];
  authority.on('rejected', (r) => rejected.push(r.reason));
  authority.start();
  t.after(() => {
    authority.stop();
    sandboxes.dispose();
  });
  return { net, chain, results, authority, rejected };
}

/** A Solver played by hand: it announces itself and keeps the streams the authority opens to it. */
function solverPeer(t: TestContext, r: Rig, peerId: string, key = keypair()) {
  const host = r.net.host(peerId);
  const streams: FakeFrameStream[] = [];
  host.onStream((s) => streams.push(s as FakeFrameStream));
  // The Solver leaves when the test ends, so no session waits on it.
  t.after(() => {
    for (const s of streams) s.abort(new Error('the test is over'));
  });
  return {
    key,
    peerId,
    streams,
    announce(contract: Hash, timestamp = Date.now()): Promise<Discovery> {
      const disc = signDiscovery({ peerId, addrs: host.addrs(), contract, timestamp }, key.priv, key.pub);
      return host.publishDiscovery(disc).then(() => disc);
    },
    async stream(n = 0): Promise<FakeFrameStream> {
      await until(`the authority dials ${peerId}`, () => streams.length > n, 10_000);
      return streams[n]!;
    },
  };
}

/** The results frame an honest (or, with `f`, a dishonest) Solver sends for a lease. */
function resultFor(chain: FakeMarketChain, contract: Hash, lease: Lease, f = square): ResultFrame {
  const values = Array.from({ length: lease.end - lease.start }, (_, k) => f(lease.start + k));
  const results = encodeResults({
    contract,
    ranges: [{ start: lease.start, end: lease.end }],
    outputs: outputsOf(values),
  });
  const cid = cidOf(results).bytes;
  const ranges = [{ start: lease.start, end: lease.end }];
  const fee = payoutFee(chain.minFeePerByte, { ranges, cid });
  return { type: 'result', leaseId: lease.id, price: 1_000n, fee, timestamp: Date.now(), cid, results };
}

/** Frames up to the first `paid` or `done`, and that one. */
async function untilVerdict(s: FakeFrameStream): Promise<{ verdict: Frame; before: Frame[] }> {
  const before: Frame[] = [];
  for (;;) {
    const f = await s.read(10_000);
    if (f.type === 'paid' || f.type === 'done') return { verdict: f, before };
    before.push(f);
  }
}

async function ackOf(s: FakeFrameStream) {
  const ack = await s.read(10_000);
  assert.equal(ack.type, 'ack');
  return ack;
}

function paySigOk(
  sig: Uint8Array,
  signer: Keypair,
  contract: Hash,
  solver: Address,
  frame: ResultFrame,
  lease: Lease,
): boolean {
  const terms = {
    contract,
    solver,
    ranges: [{ start: lease.start, end: lease.end }],
    price: frame.price,
    fee: frame.fee,
    timestamp: frame.timestamp,
    cid: frame.cid,
  };
  return verify(sig, payoutMessage(terms), signer.pub);
}

test('answers only the Solver that announced itself, with a signed acknowledgement and the first unpaid index', async (t) => {
  const bidder = keypair();
  const r = rig(t, [bidder]);
  const id = r.chain.open(bidder.address);
  r.chain.pay(id, { start: 0, end: 5 });
  const a = solverPeer(t, r, 'solver-a');
  const b = solverPeer(t, r, 'solver-b');

  const disc = await a.announce(id);
  const ack = await ackOf(await a.stream());
  assert.equal(ack.type, 'ack');
  assert.equal(toHex(ack.commitment), toHex(discoveryCommitment(disc)), 'the ack answers this discovery');
  assert.equal(toHex(ack.authorityKey), toHex(bidder.pub));
  assert.ok(verify(ack.signature, ackMessage(ack), bidder.pub), 'the ack is signed by the Bidder');
  assert.deepEqual([ack.lease.start, ack.lease.end], [5, 6], 'one MCU, at the first index not yet paid');

  await sleep(200);
  assert.deepEqual(r.net.get('authority')!.dialed, ['solver-a']);
  assert.equal(b.streams.length, 0, 'a Solver that did not announce itself gets no lease');
  const status = await r.authority.status(id);
  assert.deepEqual(
    status!.leased.map((l) => l.solver),
    ['solver-a', 'solver-a'],
    'both leases out (one ahead) belong to the Solver that handshook',
  );
});

test('pays a good batch: a payout signature for this Solver only, the results pinned, a larger next lease', async (t) => {
  const bidder = keypair();
  const r = rig(t, [bidder]);
  const id = r.chain.open(bidder.address);
  const a = solverPeer(t, r, 'solver-a');
  const paid: string[] = [];
  r.authority.on('paid', (p) => paid.push(`${p.solver}:${p.start}-${p.end}`));

  await a.announce(id);
  const s = await a.stream();
  const { lease } = await ackOf(s);
  const frame = resultFor(r.chain, id, lease);
  await s.write(frame);
  const { verdict, before } = await untilVerdict(s);

  assert.equal(verdict.type, 'paid', `expected a payout, got ${JSON.stringify(verdict)}`);
  assert.equal(verdict.leaseId, lease.id);
  assert.ok(paySigOk(verdict.authoritySig, bidder, id, a.key.address, frame, lease), 'the signature pays this Solver');
  assert.ok(
    !paySigOk(verdict.authoritySig, bidder, id, keypair().address, frame, lease),
    'nobody else can claim the same signature',
  );
  assert.ok(r.results.has(frame.cid), 'the authority pinned the results it paid for');
  assert.deepEqual(paid, ['solver-a:0-1']);
  const leases = before.flatMap((f) => (f.type === 'lease' ? [f.lease] : []));
  assert.deepEqual(
    leases.map((l) => [l.start, l.end]),
    [
      [1, 3],
      [3, 7],
    ],
    'two leases ahead, each growth (2) times the last',
  );
});

test('refuses a batch with wrong results: no signature, nothing pinned, and no further lease for that Solver', async (t) => {
  const bidder = keypair();
  const r = rig(t, [bidder]);
  const id = r.chain.open(bidder.address);
  const a = solverPeer(t, r, 'solver-a');

  await a.announce(id);
  const s = await a.stream();
  const { lease } = await ackOf(s);
  const frame = resultFor(r.chain, id, lease, (i) => square(i) + 1);
  await s.write(frame);
  const { verdict } = await untilVerdict(s);

  assert.equal(verdict.type, 'done');
  assert.equal(verdict.reason, 'FAILED_VALIDATION');
  assert.ok(!s.received.some((f) => f.type === 'paid'), 'nothing was signed');
  assert.ok(!r.results.has(frame.cid), 'refused results are not pinned');
  assert.deepEqual(r.net.get('authority')!.penalties, [{ peer: 'solver-a', reason: 'FAILED_VALIDATION' }]);
  await until('the leases go back to the pool', async () => (await r.authority.status(id))!.leased.length === 0);

  // The same key announcing itself again is not answered.
  await a.announce(id, Date.now() + 1);
  await sleep(300);
  assert.equal(a.streams.length, 1, 'a Solver caught cheating gets no second session');
});

test('a result frame that does not decode (no CID) is a breach: scored, rejected, and the key gets no further lease', async (t) => {
  const bidder = keypair();
  const r = rig(t, [bidder]);
  const id = r.chain.open(bidder.address);
  const a = solverPeer(t, r, 'solver-a');

  await a.announce(id);
  const s = await a.stream();
  const { lease } = await ackOf(s);
  await s.write({ ...resultFor(r.chain, id, lease), cid: new Uint8Array(0) });
  const { verdict } = await untilVerdict(s);

  assert.equal(verdict.type, 'done');
  assert.equal(verdict.reason, 'DECODE_BAD_VALUE');
  assert.deepEqual(r.rejected, ['DECODE_BAD_VALUE']);
  assert.deepEqual(r.net.get('authority')!.penalties, [{ peer: 'solver-a', reason: 'DECODE_BAD_VALUE' }]);
  await until('the leases go back to the pool', async () => (await r.authority.status(id))!.leased.length === 0);
  await a.announce(id, Date.now() + 1);
  await sleep(300);
  assert.equal(a.streams.length, 1, 'the key is not served again');
});

test('refuses a batch whose bytes are not what its CID names, and one whose results claim another range', async (t) => {
  const bidder = keypair();
  const r = rig(t, [bidder]);
  const id = r.chain.open(bidder.address);

  const a = solverPeer(t, r, 'solver-a');
  await a.announce(id);
  const sa = await a.stream();
  const { lease } = await ackOf(sa);
  const honest = resultFor(r.chain, id, lease);
  const other = resultFor(r.chain, id, { ...lease, start: lease.start + 1, end: lease.end + 1 });
  // The CID of honest results, sent with other bytes: what the chain would name is not what was checked.
  await sa.write({ ...honest, results: other.results });
  const first = await untilVerdict(sa);
  assert.equal(first.verdict.type, 'done');
  assert.equal(first.verdict.reason, 'CID_MISMATCH');
  assert.ok(!r.results.has(honest.cid) && !r.results.has(other.cid), 'nothing pinned');

  const b = solverPeer(t, r, 'solver-b');
  await b.announce(id);
  const sb = await b.stream();
  const { lease: leaseB } = await ackOf(sb);
  // Honest outputs and a matching CID, but for indices that were not leased.
  const shifted = resultFor(r.chain, id, { ...leaseB, start: leaseB.start + 1, end: leaseB.end + 1 });
  await sb.write({ ...shifted, leaseId: leaseB.id });
  const second = await untilVerdict(sb);
  assert.equal(second.verdict.type, 'done');
  assert.equal(second.verdict.reason, 'BAD_RESULT');
  assert.ok(![...sa.received, ...sb.received].some((f) => f.type === 'paid'), 'nothing was signed');
});

test("serves its own and its Validator key's assigned contracts, each signed by the key that may, and no one else's", async (t) => {
  const bidder = keypair();
  const validator = keypair();
  const stranger = keypair();
  const r = rig(t, [bidder, validator]);
  const own = r.chain.open(bidder.address);
  const assigned = r.chain.open(
    stranger.address,
    { validation: VALIDATION_DELEGATED, validationFee: 10n },
    { validation: VALIDATION_DELEGATED, validationFee: 10n, validator: validator.address },
  );
  const strangers = r.chain.open(stranger.address);
  const otherValidator = r.chain.open(
    stranger.address,
    { validation: VALIDATION_DELEGATED, validationFee: 10n },
    { validation: VALIDATION_DELEGATED, validationFee: 10n, validator: keypair().address },
  );
  // A Bidder-validated contract's validator field names no one who may sign.
  const notDelegated = r.chain.open(stranger.address, {}, { validator: validator.address });

  const peers = {
    own: solverPeer(t, r, 'solver-own'),
    assigned: solverPeer(t, r, 'solver-assigned'),
    strangers: solverPeer(t, r, 'solver-strangers'),
    otherValidator: solverPeer(t, r, 'solver-other-validator'),
    notDelegated: solverPeer(t, r, 'solver-not-delegated'),
  };
  await peers.strangers.announce(strangers);
  await peers.otherValidator.announce(otherValidator);
  await peers.notDelegated.announce(notDelegated);
  await peers.own.announce(own);
  await peers.assigned.announce(assigned);

  const ownAck = await ackOf(await peers.own.stream());
  assert.equal(toHex(ownAck.authorityKey), toHex(bidder.pub), "the Bidder's key signs for its own contract");
  const assignedAck = await ackOf(await peers.assigned.stream());
  assert.equal(toHex(assignedAck.authorityKey), toHex(validator.pub), "the Validator's key signs for its assignment");

  await sleep(200);
  for (const [name, id] of [
    ['strangers', strangers],
    ['otherValidator', otherValidator],
    ['notDelegated', notDelegated],
  ] as const) {
    assert.equal(peers[name].streams.length, 0, `${name}: no session`);
    assert.equal(await r.authority.status(id), undefined, `${name}: nothing leased`);
  }
  assert.deepEqual(r.net.get('authority')!.dialed.sort(), ['solver-assigned', 'solver-own']);
});

test('a Validator that loses its assignment mid-session signs nothing more for the contract', async (t) => {
  const bidder = keypair();
  const validator = keypair();
  const r = rig(t, [validator]);
  const id = r.chain.open(
    bidder.address,
    { validation: VALIDATION_DELEGATED, validationFee: 10n },
    { validation: VALIDATION_DELEGATED, validationFee: 10n, validator: validator.address },
  );
  const a = solverPeer(t, r, 'solver-a');
  await a.announce(id);
  const s = await a.stream();
  const { lease } = await ackOf(s);

  r.chain.update(id, { validator: keypair().address });
  r.chain.tip();
  await s.write(resultFor(r.chain, id, lease));
  const { verdict } = await untilVerdict(s);
  assert.equal(verdict.type, 'done');
  assert.equal(verdict.reason, 'NOT_AUTHORITY');
  assert.deepEqual(r.net.get('authority')!.penalties, [], 'the Solver is not blamed');
});

test('leases only what the escrow can pay, within the schedule, and says BUDGET_EXHAUSTED when that runs out', async (t) => {
  const bidder = keypair();
  const r = rig(t, [bidder]);
  const fee = batchPayoutFee(r.chain.minFeePerByte);
  // Three MCUs and the fees of their two payouts.
  const id = r.chain.open(bidder.address, {}, { escrow: 3n * 1_000n + 2n * fee });
  const a = solverPeer(t, r, 'solver-a');
  await a.announce(id);
  const s = await a.stream();
  const { lease } = await ackOf(s);
  const leases = [lease];
  const verdicts: Frame[] = [];
  while (verdicts.length < 3) {
    const next = leases[verdicts.length];
    if (!next) break;
    await s.write(resultFor(r.chain, id, next));
    const { verdict, before } = await untilVerdict(s);
    for (const f of before) if (f.type === 'lease') leases.push(f.lease);
    verdicts.push(verdict);
    if (verdict.type === 'done') break;
  }
  const reads = await s.read(10_000).catch(() => undefined);
  if (reads) verdicts.push(reads);
  assert.deepEqual(
    leases.map((l) => [l.start, l.end]),
    [
      [0, 1],
      [1, 3],
    ],
    'one MCU, then two: all the escrow pays for',
  );
  for (const [k, l] of leases.entries()) {
    assert.ok(l.end - l.start <= scheduleCap(k, 2, 64), `lease ${k} within the schedule`);
  }
  assert.deepEqual(
    verdicts.map((v) => (v.type === 'done' ? v.reason : v.type)),
    ['paid', 'paid', 'BUDGET_EXHAUSTED'],
  );

  // With nothing left, a Solver that announces itself is not answered at all.
  const b = solverPeer(t, r, 'solver-b');
  await b.announce(id);
  await sleep(300);
  assert.equal(b.streams.length, 0);
});
