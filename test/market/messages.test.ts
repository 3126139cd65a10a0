import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Writer } from '../../src/chain/encoding.ts';
import { DecodeError } from '../../src/chain/errors.ts';
import { generatePrivateKey, publicKeyOf } from '../../src/chain/keys.ts';
import {
  type Ack,
  type Discovery,
  type DoneFrame,
  decodeDiscovery,
  decodeFrame,
  encodeDiscovery,
  encodeFrame,
  FRAME,
  type Frame,
  type Lease,
  type LeaseFrame,
  MAX_ADDR_BYTES,
  MAX_ADDRS,
  MAX_DISCOVERY_BYTES,
  MAX_FRAME_BYTES,
  MAX_PEER_ID_BYTES,
  MAX_RESULTS_BYTES,
  type PaidFrame,
  type ResultFrame,
  signDiscovery,
  verifyDiscovery,
} from '../../src/market/messages.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);
const U64_MAX = (1n << 64n) - 1n;

const isDecodeError = (code: DecodeError['code']) => (err: unknown) => err instanceof DecodeError && err.code === code;

// ── Generators ─────────────────────────────────────────────────────────────

const bytes = (min: number, max = min) => fc.uint8Array({ minLength: min, maxLength: max });

/** Well-formed Unicode text (whole graphemes, so no lone surrogates) within a UTF-8 byte budget. */
const text = (maxBytes: number, maxUnits = Number.POSITIVE_INFINITY) =>
  fc
    .string({ unit: 'grapheme', maxLength: Math.min(24, maxBytes) })
    .filter((s) => s.length <= maxUnits && utf8(s).length <= maxBytes);

const addrs = fc.array(text(MAX_ADDR_BYTES), { maxLength: MAX_ADDRS });

const lease: fc.Arbitrary<Lease> = fc
  .record({
    id: fc.integer({ min: 0, max: 0xffffffff }),
    start: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 1 }),
    len: fc.integer({ min: 1, max: 1 << 20 }),
    expiresAt: fc.maxSafeNat(),
  })
  .map(({ id, start, len, expiresAt }) => ({
    id,
    start,
    end: Math.min(start + len, Number.MAX_SAFE_INTEGER),
    expiresAt,
  }));

const ack: fc.Arbitrary<Ack> = fc.record(
  {
    type: fc.constant('ack' as const),
    authorityKey: bytes(33),
    commitment: bytes(32),
    addrs,
    signature: bytes(64),
    lease,
  },
  { noNullPrototype: true },
);

const result: fc.Arbitrary<ResultFrame> = fc.record(
  {
    type: fc.constant('result' as const),
    leaseId: fc.integer({ min: 0, max: 0xffffffff }),
    price: fc.bigInt({ min: 0n, max: U64_MAX }),
    fee: fc.bigInt({ min: 0n, max: U64_MAX }),
    timestamp: fc.maxSafeNat(),
    cid: bytes(1, 64),
    results: bytes(0, 300),
  },
  { noNullPrototype: true },
);

const paid: fc.Arbitrary<PaidFrame> = fc
  .tuple(fc.integer({ min: 0, max: 0xffffffff }), bytes(64))
  .map(([leaseId, authoritySig]) => ({ type: 'paid', leaseId, authoritySig }));

const leaseFrame: fc.Arbitrary<LeaseFrame> = lease.map((l) => ({ type: 'lease', lease: l }));

// The encoder cuts a message to 64 UTF-16 units; within that it round-trips.
const done: fc.Arbitrary<DoneFrame> = fc.record(
  {
    type: fc.constant('done' as const),
    reason: text(64),
    message: text(256, 64),
  },
  { noNullPrototype: true },
);

const frame: fc.Arbitrary<Frame> = fc.oneof(ack, result, paid, leaseFrame, done);

const discovery: fc.Arbitrary<Discovery> = fc.record(
  {
    solverKey: bytes(33),
    peerId: text(MAX_PEER_ID_BYTES),
    addrs,
    contract: bytes(32),
    timestamp: fc.maxSafeNat(),
    signature: bytes(64),
  },
  { noNullPrototype: true },
);

const KEY = generatePrivateKey();
const PUB = publicKeyOf(KEY);
const signed = (d: Omit<Discovery, 'signature' | 'solverKey'>) => signDiscovery(d, KEY, PUB);
const sample = (): Discovery =>
  signed({
    peerId: '12D3KooWExamplePeer',
    addrs: ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4001'],
    contract: new Uint8Array(32).fill(7),
    timestamp: 1_700_000_000_000,
  });

// ── Hand-built wire bytes, for inputs the encoder refuses to write ─────────

function rawDiscovery(o: { peerId?: Uint8Array; addrs?: Uint8Array[]; addrCount?: number; timestamp?: bigint }) {
  const addrList = o.addrs ?? [];
  const w = new Writer()
    .bytes(PUB)
    .varBytes(o.peerId ?? utf8('peer'), 2)
    .u8(o.addrCount ?? addrList.length);
  for (const a of addrList) w.varBytes(a, 2);
  return w
    .bytes(new Uint8Array(32))
    .u64(o.timestamp ?? 1n)
    .bytes(new Uint8Array(64))
    .finish();
}

function rawLease(w: Writer, start: bigint, end: bigint): Writer {
  return w.u32(1).u64(start).u64(end).u64(1000n);
}

function rawResultHead(cid: Uint8Array): Writer {
  return new Writer().u8(FRAME.result).u32(1).u64(10n).u64(0n).u64(5n).varBytes(cid, 1);
}

function rawDone(reason: Uint8Array, message: Uint8Array): Uint8Array {
  return new Writer().u8(FRAME.done).varBytes(reason, 2).varBytes(message, 2).finish();
}

const NOT_UTF8 = [
  Uint8Array.of(0xff),
  Uint8Array.of(0xc0, 0xaf), // over-long '/'
  Uint8Array.of(0xed, 0xa0, 0x80), // a UTF-16 surrogate written as UTF-8
  Uint8Array.of(0x61, 0xe2, 0x82), // cut inside a character
];

// ── Tests ──────────────────────────────────────────────────────────────────

describe('market frames', () => {
  it('every frame type round-trips', () => {
    fc.assert(
      fc.property(frame, (f) => {
        const b = encodeFrame(f);
        assert.equal(b[0], FRAME[f.type]);
        assert.deepEqual(decodeFrame(b), f);
      }),
      { numRuns: 400 },
    );
  });

  it('text that starts with a byte-order mark round-trips unchanged', () => {
    // A decoder that drops a leading U+FEFF gives two encodings of one value.
    const f: DoneFrame = { type: 'done', reason: '\uFEFFBAD', message: '\uFEFF' };
    assert.deepEqual(decodeFrame(encodeFrame(f)), f);
    const a: Ack = {
      type: 'ack',
      authorityKey: new Uint8Array(33),
      commitment: new Uint8Array(32),
      addrs: ['\uFEFF/ip4/1.2.3.4'],
      signature: new Uint8Array(64),
      lease: { id: 1, start: 0, end: 1, expiresAt: 5 },
    };
    assert.deepEqual(decodeFrame(encodeFrame(a)), a);
    // From the byte side: a gossiped discovery whose peer id starts with EF BB BF
    // re-encodes to exactly the bytes received, so it has one identity.
    const wire = rawDiscovery({ peerId: Uint8Array.of(0xef, 0xbb, 0xbf, 0x41) });
    const d = decodeDiscovery(wire);
    assert.equal(d.peerId, '\uFEFFA');
    assert.deepEqual(encodeDiscovery(d), wire);
  });

  it('rejects every truncation as TRUNCATED', () => {
    fc.assert(
      fc.property(frame, fc.nat(), (f, cut) => {
        const b = encodeFrame(f);
        assert.throws(() => decodeFrame(b.subarray(0, cut % b.length)), isDecodeError('TRUNCATED'));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects trailing bytes', () => {
    fc.assert(
      fc.property(frame, bytes(1, 8), (f, extra) => {
        const b = Buffer.concat([encodeFrame(f), extra]);
        assert.throws(() => decodeFrame(b), isDecodeError('TRAILING_BYTES'));
      }),
    );
  });

  it('rejects unknown frame types', () => {
    for (const t of [0, 6, 0x7f, 0xff]) {
      assert.throws(() => decodeFrame(Uint8Array.of(t, 0, 0, 0, 0)), isDecodeError('UNKNOWN_KIND'));
    }
  });

  it('rejects a result frame without a CID, or with an over-long one', () => {
    const empty = rawResultHead(new Uint8Array()).u32(0).finish();
    assert.throws(() => decodeFrame(empty), isDecodeError('BAD_VALUE'));
    const long = rawResultHead(new Uint8Array(65)).u32(0).finish();
    assert.throws(() => decodeFrame(long), isDecodeError('TOO_LARGE'));
    assert.equal((decodeFrame(rawResultHead(new Uint8Array(64)).u32(0).finish()) as ResultFrame).cid.length, 64);
  });

  it('rejects a results length over MAX_RESULTS_BYTES on the prefix alone', () => {
    // Nothing follows the prefix: a decoder that trusted it would try to read (or allocate) 32 MiB.
    const over = rawResultHead(Uint8Array.of(1))
      .u32(MAX_RESULTS_BYTES + 1)
      .finish();
    assert.throws(() => decodeFrame(over), isDecodeError('TOO_LARGE'));
    const huge = rawResultHead(Uint8Array.of(1)).u32(0xffffffff).finish();
    assert.throws(() => decodeFrame(huge), isDecodeError('TOO_LARGE'));
    // At the limit the prefix is allowed, and the missing bytes are what is wrong.
    const atLimit = rawResultHead(Uint8Array.of(1)).u32(MAX_RESULTS_BYTES).finish();
    assert.throws(() => decodeFrame(atLimit), isDecodeError('TRUNCATED'));
  });

  it('rejects a frame over MAX_FRAME_BYTES before parsing it', () => {
    const big = new Uint8Array(MAX_FRAME_BYTES + 1);
    big[0] = FRAME.done;
    assert.throws(() => decodeFrame(big), isDecodeError('TOO_LARGE'));
  });

  it('decodes a paid frame with nothing after the signature, and refuses anything after it', () => {
    const sig = new Uint8Array(64);
    const ok = new Writer().u8(FRAME.paid).u32(1).bytes(sig).finish();
    assert.deepEqual(decodeFrame(ok), { type: 'paid', leaseId: 1, authoritySig: sig });
    assert.throws(
      () => decodeFrame(new Writer().u8(FRAME.paid).u32(1).bytes(sig).u8(0).finish()),
      isDecodeError('TRAILING_BYTES'),
    );
  });

  it('rejects an empty or reversed lease, in an ack and in a lease frame', () => {
    const ackHead = () =>
      new Writer().u8(FRAME.ack).bytes(new Uint8Array(33)).bytes(new Uint8Array(32)).u8(0).bytes(new Uint8Array(64));
    const leaseHead = () => new Writer().u8(FRAME.lease);
    for (const head of [ackHead, leaseHead]) {
      for (const [s, e] of [
        [5n, 5n],
        [6n, 5n],
        [0n, 0n],
      ] as const) {
        assert.throws(() => decodeFrame(rawLease(head(), s, e).finish()), isDecodeError('BAD_VALUE'));
      }
      assert.throws(
        () => decodeFrame(rawLease(head(), 0n, BigInt(Number.MAX_SAFE_INTEGER) + 1n).finish()),
        isDecodeError('BAD_VALUE'),
      );
    }
  });

  it('rejects too many addresses and over-long addresses in an ack', () => {
    const head = () => new Writer().u8(FRAME.ack).bytes(new Uint8Array(33)).bytes(new Uint8Array(32));
    const many = head().u8(MAX_ADDRS + 1);
    for (let i = 0; i <= MAX_ADDRS; i++) many.varBytes(utf8('/ip4/1.2.3.4'), 2);
    assert.throws(() => decodeFrame(many.finish()), isDecodeError('TOO_LARGE'));
    const long = head()
      .u8(1)
      .varBytes(new Uint8Array(MAX_ADDR_BYTES + 1).fill(0x61), 2)
      .finish();
    assert.throws(() => decodeFrame(long), isDecodeError('TOO_LARGE'));
  });

  it('rejects done frames with over-long or non-UTF-8 text', () => {
    assert.throws(() => decodeFrame(rawDone(new Uint8Array(65).fill(0x41), utf8('m'))), isDecodeError('TOO_LARGE'));
    assert.throws(() => decodeFrame(rawDone(utf8('X'), new Uint8Array(257).fill(0x41))), isDecodeError('TOO_LARGE'));
    for (const bad of NOT_UTF8) {
      assert.throws(() => decodeFrame(rawDone(bad, utf8('m'))), isDecodeError('BAD_VALUE'));
      assert.throws(() => decodeFrame(rawDone(utf8('X'), bad)), isDecodeError('BAD_VALUE'));
    }
  });

  it('cuts a long done message so the frame still decodes', () => {
    const f = decodeFrame(encodeFrame({ type: 'done', reason: 'FAILED_VALIDATION', message: '€'.repeat(1000) }));
    assert.deepEqual(f, { type: 'done', reason: 'FAILED_VALIDATION', message: '€'.repeat(64) });
  });

  it('refuses to encode what the decoder would reject', () => {
    const base: Ack = {
      type: 'ack',
      authorityKey: new Uint8Array(33),
      commitment: new Uint8Array(32),
      addrs: [],
      signature: new Uint8Array(64),
      lease: { id: 1, start: 0, end: 1, expiresAt: 5 },
    };
    assert.throws(() => encodeFrame({ ...base, addrs: Array(MAX_ADDRS + 1).fill('/a') }), RangeError);
    assert.throws(() => encodeFrame({ ...base, addrs: ['a'.repeat(MAX_ADDR_BYTES + 1)] }), RangeError);
    assert.throws(() => encodeFrame({ type: 'done', reason: 'R'.repeat(65), message: '' }), RangeError);
  });
});

describe('discovery', () => {
  it('round-trips', () => {
    fc.assert(
      fc.property(discovery, (d) => {
        assert.deepEqual(decodeDiscovery(encodeDiscovery(d)), d);
      }),
      { numRuns: 300 },
    );
  });

  it('a signed discovery verifies, and any field changed makes it fail', () => {
    fc.assert(
      fc.property(text(MAX_PEER_ID_BYTES), addrs, bytes(32), fc.maxSafeNat(), (peerId, as, contract, timestamp) => {
        const d = signed({ peerId, addrs: as, contract, timestamp });
        assert.deepEqual(d.solverKey, PUB);
        assert.ok(verifyDiscovery(decodeDiscovery(encodeDiscovery(d))));
        assert.equal(verifyDiscovery({ ...d, peerId: `${peerId}x` }), false);
        assert.equal(verifyDiscovery({ ...d, addrs: [...as.slice(0, MAX_ADDRS - 1), '/x'] }), false);
        assert.equal(verifyDiscovery({ ...d, timestamp: timestamp === 0 ? 1 : timestamp - 1 }), false);
        assert.equal(verifyDiscovery({ ...d, contract: contract.map((b, i) => (i === 0 ? b ^ 1 : b)) }), false);
      }),
      { numRuns: 50 },
    );
  });

  it('is bound to its signer: another key cannot claim it', () => {
    const d = sample();
    const other = publicKeyOf(generatePrivateKey());
    assert.equal(verifyDiscovery({ ...d, solverKey: other }), false);
  });

  it('a changed byte anywhere fails decoding or verification', () => {
    const d = sample();
    const wire = encodeDiscovery(d);
    fc.assert(
      fc.property(fc.nat({ max: wire.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, flip) => {
        const b = wire.slice();
        b[pos]! ^= flip;
        let got: Discovery;
        try {
          got = decodeDiscovery(b);
        } catch (err) {
          assert.ok(err instanceof DecodeError, String(err));
          return;
        }
        assert.equal(verifyDiscovery(got), false);
      }),
      { numRuns: 400 },
    );
    // Every position, once: the property above samples, this sweeps.
    for (let pos = 0; pos < wire.length; pos++) {
      const b = wire.slice();
      b[pos]! ^= 0x01;
      let ok = false;
      try {
        ok = verifyDiscovery(decodeDiscovery(b));
      } catch (err) {
        assert.ok(err instanceof DecodeError);
      }
      assert.equal(ok, false, `byte ${pos} flipped still verifies`);
    }
  });

  it('rejects truncations and trailing bytes', () => {
    const wire = encodeDiscovery(sample());
    for (let n = 0; n < wire.length; n++) {
      assert.throws(() => decodeDiscovery(wire.subarray(0, n)), isDecodeError('TRUNCATED'));
    }
    assert.throws(() => decodeDiscovery(Buffer.concat([wire, Uint8Array.of(0)])), isDecodeError('TRAILING_BYTES'));
  });

  it('rejects too many addresses, over-long strings, non-UTF-8 text and a timestamp past 2^53', () => {
    const addr = utf8('/ip4/1.2.3.4/tcp/1');
    assert.equal(decodeDiscovery(rawDiscovery({ addrs: Array(MAX_ADDRS).fill(addr) })).addrs.length, MAX_ADDRS);
    assert.throws(
      () => decodeDiscovery(rawDiscovery({ addrs: Array(MAX_ADDRS + 1).fill(addr) })),
      isDecodeError('TOO_LARGE'),
    );
    assert.throws(
      () => decodeDiscovery(rawDiscovery({ peerId: new Uint8Array(MAX_PEER_ID_BYTES + 1).fill(0x61) })),
      isDecodeError('TOO_LARGE'),
    );
    assert.throws(
      () => decodeDiscovery(rawDiscovery({ addrs: [new Uint8Array(MAX_ADDR_BYTES + 1).fill(0x61)] })),
      isDecodeError('TOO_LARGE'),
    );
    for (const bad of NOT_UTF8) {
      assert.throws(() => decodeDiscovery(rawDiscovery({ peerId: bad })), isDecodeError('BAD_VALUE'));
      assert.throws(() => decodeDiscovery(rawDiscovery({ addrs: [bad] })), isDecodeError('BAD_VALUE'));
    }
    assert.equal(decodeDiscovery(rawDiscovery({ timestamp: BigInt(Number.MAX_SAFE_INTEGER) })).timestamp, 2 ** 53 - 1);
    assert.throws(() => decodeDiscovery(rawDiscovery({ timestamp: 1n << 53n })), isDecodeError('BAD_VALUE'));
  });

  it('rejects a discovery over MAX_DISCOVERY_BYTES', () => {
    assert.throws(() => decodeDiscovery(new Uint8Array(MAX_DISCOVERY_BYTES + 1)), isDecodeError('TOO_LARGE'));
    // The largest legal discovery fits under the bound.
    const biggest = signed({
      peerId: 'p'.repeat(MAX_PEER_ID_BYTES),
      addrs: Array(MAX_ADDRS).fill('a'.repeat(MAX_ADDR_BYTES)),
      contract: new Uint8Array(32),
      timestamp: 1,
    });
    const wire = encodeDiscovery(biggest);
    assert.ok(wire.length <= MAX_DISCOVERY_BYTES);
    assert.ok(verifyDiscovery(decodeDiscovery(wire)));
  });
});
