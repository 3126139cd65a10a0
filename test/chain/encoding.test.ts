import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Block, MAX_BLOCK_SIZE, MAX_VOTE_BYTES } from '../../src/chain/block.ts';
import { Reader, Writer } from '../../src/chain/encoding.ts';
import { DecodeError } from '../../src/chain/errors.ts';
import { BlockHeader, HEADER_SIZE, HEADER_VERSION, type HeaderFields } from '../../src/chain/header.ts';
import {
  MAX_CID_SIZE,
  MAX_PAYLOAD_SIZE,
  MEMO_SIZE,
  Transaction,
  TX_KINDS,
  type TxFields,
} from '../../src/chain/transaction.ts';
import { transferRules } from '../../src/chain/tx-rules.ts';
import { devnet } from '../support/chain.ts';

type Code = DecodeError['code'];

function decodeError(code: Code) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof DecodeError, `expected a DecodeError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

const headerFields: fc.Arbitrary<HeaderFields> = fc.record({
  version: fc.constant(HEADER_VERSION),
  height: u32,
  parent: bytes(32),
  merkleRoot: bytes(32),
  timestamp: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  difficulty: u32,
  miner: bytes(20),
  nonce: u64,
});
const headerArb = headerFields.map((f) => BlockHeader.create(f));

// Decoding does not look inside sender, signature or payload (that is the
// signature check's and the kind rules' job), so random bytes exercise every
// encoding path.
const txFields: fc.Arbitrary<TxFields> = fc.record({
  kind: fc.constantFrom(...Object.values(TX_KINDS)),
  sender: bytes(33),
  nonce: u64,
  fee: u64,
  memo: fc.option(bytes(MEMO_SIZE), { nil: undefined }),
  cid: fc.option(fc.uint8Array({ minLength: 1, maxLength: MAX_CID_SIZE }), { nil: undefined }),
  payload: fc.uint8Array({ maxLength: 300 }),
  signature: bytes(64),
});
const txArb = txFields.map((f) => Transaction.create(f));
const voteArb = fc.uint8Array({ minLength: 1, maxLength: 40 });
const blockArb = fc
  .tuple(headerArb, fc.array(txArb, { maxLength: 4 }), fc.array(voteArb, { maxLength: 3 }))
  .map(([header, txs, votes]) => Block.create(header, txs, votes));

function fieldsOfTx(tx: Transaction): TxFields {
  return {
    kind: tx.kind,
    sender: tx.sender,
    nonce: tx.nonce,
    fee: tx.fee,
    memo: tx.memo,
    cid: tx.cid,
    payload: tx.payload,
    signature: tx.signature,
  };
}

function fieldsOfHeader(h: BlockHeader): HeaderFields {
  return {
    version: h.version,
    height: h.height,
    parent: h.parent,
    merkleRoot: h.merkleRoot,
    timestamp: h.timestamp,
    difficulty: h.difficulty,
    miner: h.miner,
    nonce: h.nonce,
  };
}

// fromBytes keeps the input bytes as the value's encoding, so a fair
// re-encoding must rebuild the value from its decoded fields.
const reencodeTx = (tx: Transaction) => Transaction.create(fieldsOfTx(tx)).toBytes();
const reencodeHeader = (h: BlockHeader) => BlockHeader.create(fieldsOfHeader(h)).toBytes();
const reencodeBlock = (b: Block) =>
  Block.create(
    BlockHeader.create(fieldsOfHeader(b.header)),
    b.txs.map((tx) => Transaction.create(fieldsOfTx(tx))),
    b.votes,
  ).toBytes();

function appendByte(b: Uint8Array, v: number): Uint8Array {
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  out[b.length] = v;
  return out;
}

/** Offset of the flags byte: version, kind, sender, nonce, fee. */
const TX_FLAGS_AT = 1 + 1 + 33 + 8 + 8;

test('headers: encode → decode → encode is byte-identical, fields equal, always 112 bytes', () => {
  fc.assert(
    fc.property(headerArb, (h) => {
      const enc = h.toBytes();
      assert.equal(enc.length, HEADER_SIZE);
      const back = BlockHeader.fromBytes(enc);
      assert.deepEqual(fieldsOfHeader(back), fieldsOfHeader(h));
      assert.deepEqual(reencodeHeader(back), enc);
      assert.deepEqual(back.hash(), h.hash());
    }),
  );
});

test('headers: every truncation is TRUNCATED, an appended byte is refused as oversized', () => {
  fc.assert(
    fc.property(headerArb, fc.integer({ min: 0, max: 255 }), (h, extra) => {
      const enc = h.toBytes();
      for (let n = 0; n < enc.length; n++) {
        assert.throws(() => BlockHeader.fromBytes(enc.subarray(0, n)), decodeError('TRUNCATED'));
      }
      // A header has a fixed size, so the size bound catches the extra byte first.
      assert.throws(() => BlockHeader.fromBytes(appendByte(enc, extra)), decodeError('TOO_LARGE'));
    }),
    { numRuns: 30 },
  );
});

test('headers: an unknown version or a timestamp beyond 2^53 - 1 is refused', () => {
  const h = fc.sample(headerArb, { numRuns: 1, seed: 1 })[0]!;
  for (const version of [0, 2, 0xffffffff]) {
    const enc = h.toBytes().slice();
    new DataView(enc.buffer).setUint32(0, version);
    assert.throws(() => BlockHeader.fromBytes(enc), decodeError('BAD_VALUE'));
  }
  const enc = h.toBytes().slice();
  new DataView(enc.buffer).setBigUint64(4 + 4 + 32 + 32, BigInt(Number.MAX_SAFE_INTEGER) + 1n);
  assert.throws(() => BlockHeader.fromBytes(enc), decodeError('BAD_VALUE'));
});

test('headers: any 112 bytes that decode re-encode to exactly themselves (one encoding per header)', () => {
  fc.assert(
    fc.property(bytes(HEADER_SIZE), fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }), (raw, ts) => {
      const view = new DataView(raw.buffer, raw.byteOffset);
      view.setUint32(0, HEADER_VERSION);
      view.setBigUint64(72, ts);
      assert.deepEqual(reencodeHeader(BlockHeader.fromBytes(raw)), raw);
    }),
  );
});

test('transactions of every kind, with and without memo and cid: round trip is byte-identical', () => {
  fc.assert(
    fc.property(txArb, (tx) => {
      const enc = tx.toBytes();
      const back = Transaction.fromBytes(enc);
      assert.deepEqual(fieldsOfTx(back), fieldsOfTx(tx));
      assert.deepEqual(reencodeTx(back), enc);
      assert.deepEqual(back.hash(), tx.hash());
    }),
    { numRuns: 300 },
  );
});

test('transactions: every truncation is TRUNCATED and every appended byte is TRAILING_BYTES', () => {
  fc.assert(
    fc.property(txArb, fc.integer({ min: 0, max: 255 }), (tx, extra) => {
      const enc = tx.toBytes();
      for (let n = 0; n < enc.length; n++) {
        assert.throws(() => Transaction.fromBytes(enc.subarray(0, n)), decodeError('TRUNCATED'));
      }
      assert.throws(() => Transaction.fromBytes(appendByte(enc, extra)), decodeError('TRAILING_BYTES'));
    }),
    { numRuns: 40 },
  );
});

test('transactions: unknown version, unknown kind and unknown flag bits are refused', () => {
  fc.assert(
    fc.property(
      txArb,
      fc.integer({ min: 0, max: 255 }).filter((v) => v !== 1),
      fc.integer({ min: 0, max: 255 }).filter((k) => k < 1 || k > 9),
      fc.integer({ min: 2, max: 7 }),
      (tx, version, kind, bit) => {
        const withVersion = tx.toBytes().slice();
        withVersion[0] = version;
        assert.throws(() => Transaction.fromBytes(withVersion), decodeError('BAD_VALUE'));
        const withKind = tx.toBytes().slice();
        withKind[1] = kind;
        assert.throws(() => Transaction.fromBytes(withKind), decodeError('UNKNOWN_KIND'));
        const withFlag = tx.toBytes().slice();
        withFlag[TX_FLAGS_AT]! |= 1 << bit;
        assert.throws(() => Transaction.fromBytes(withFlag), decodeError('NON_CANONICAL'));
      },
    ),
  );
});

test('transactions: an empty cid behind the cid flag is NON_CANONICAL; an oversized cid is TOO_LARGE', () => {
  const plain = fc.sample(txFields, { numRuns: 1, seed: 7 })[0]!;
  const enc = Transaction.create({ ...plain, memo: undefined, cid: undefined }).toBytes();
  const withCidLength = (n: number) => {
    const out = new Uint8Array(enc.length + 1 + n);
    out.set(enc.subarray(0, TX_FLAGS_AT + 1));
    out[TX_FLAGS_AT] = 2;
    out[TX_FLAGS_AT + 1] = n;
    out.set(enc.subarray(TX_FLAGS_AT + 1), TX_FLAGS_AT + 2 + n);
    return out;
  };
  assert.throws(() => Transaction.fromBytes(withCidLength(0)), decodeError('NON_CANONICAL'));
  assert.equal(Transaction.fromBytes(withCidLength(MAX_CID_SIZE)).cid?.length, MAX_CID_SIZE);
  assert.throws(() => Transaction.fromBytes(withCidLength(MAX_CID_SIZE + 1)), decodeError('TOO_LARGE'));
  // The constructor refuses the value that has no encoding.
  assert.throws(() => Transaction.create({ ...plain, cid: new Uint8Array(0) }), RangeError);
});

test('transactions: a payload length claiming 4 GiB or 1 MiB in a few hundred bytes fails without allocating', () => {
  const tx = fc.sample(txArb, { numRuns: 1, seed: 3 })[0]!;
  const enc = Transaction.create({ ...fieldsOfTx(tx), memo: undefined, cid: undefined })
    .toBytes()
    .slice();
  const payloadLengthAt = TX_FLAGS_AT + 1;
  const view = new DataView(enc.buffer);
  view.setUint32(payloadLengthAt, 0xffffffff);
  assert.throws(() => Transaction.fromBytes(enc), decodeError('TOO_LARGE'));
  view.setUint32(payloadLengthAt, MAX_PAYLOAD_SIZE);
  assert.throws(() => Transaction.fromBytes(enc), decodeError('TRUNCATED'));
  // And the whole input is bounded before any of it is read.
  assert.throws(() => Transaction.fromBytes(new Uint8Array(1001), 1000), decodeError('TOO_LARGE'));
});

test('transactions: payloads across the u16 boundary and at the 1 MiB ceiling round-trip', () => {
  const base = fc.sample(txFields, { numRuns: 1, seed: 11 })[0]!;
  for (const n of [0, 0xffff, 0x10000, MAX_PAYLOAD_SIZE]) {
    const tx = Transaction.create({ ...base, payload: new Uint8Array(n).fill(0xab) });
    assert.deepEqual(Transaction.fromBytes(tx.toBytes()).payload, tx.payload);
  }
  assert.throws(() => Transaction.create({ ...base, payload: new Uint8Array(MAX_PAYLOAD_SIZE + 1) }), RangeError);
});

test('transactions: a changed byte either fails to decode with a DecodeError or is a different canonical tx', () => {
  fc.assert(
    fc.property(txArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (tx, at, v) => {
      const enc = tx.toBytes().slice();
      enc[at % enc.length] = v;
      let back: Transaction;
      try {
        back = Transaction.fromBytes(enc);
      } catch (err) {
        assert.ok(err instanceof DecodeError, `not a DecodeError: ${String(err)}`);
        return;
      }
      assert.deepEqual(reencodeTx(back), enc);
    }),
    { numRuns: 500 },
  );
});

test('blocks: round trip is byte-identical with equal header, transactions and votes', () => {
  fc.assert(
    fc.property(blockArb, (block) => {
      const enc = block.toBytes();
      const back = Block.fromBytes(enc);
      assert.deepEqual(fieldsOfHeader(back.header), fieldsOfHeader(block.header));
      assert.deepEqual(back.txs.map(fieldsOfTx), block.txs.map(fieldsOfTx));
      assert.deepEqual(back.votes, block.votes);
      assert.deepEqual(reencodeBlock(back), enc);
      assert.deepEqual(back.computeMerkleRoot(), block.computeMerkleRoot());
    }),
  );
});

test('blocks: a decoded block shares no bytes with its input (its transactions view a copy of their own)', () => {
  fc.assert(
    fc.property(blockArb, (block) => {
      if (block.txs.length === 0) return;
      const input = block.toBytes().slice();
      const back = Block.fromBytes(input);
      const before = { txs: back.txs.map(fieldsOfTx), bytes: back.toBytes().slice(), id: back.txs[0]!.hash() };
      input.fill(0xa5);
      assert.deepEqual(back.txs.map(fieldsOfTx), before.txs);
      assert.deepEqual(back.toBytes(), before.bytes);
      assert.deepEqual(Transaction.fromBytes(back.txs[0]!.toBytes()).hash(), before.id);
    }),
    { numRuns: 50 },
  );
});

test('blocks: any truncation is TRUNCATED, any appended byte TRAILING_BYTES, any changed byte a DecodeError or canonical', () => {
  fc.assert(
    fc.property(blockArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (block, at, v) => {
      const enc = block.toBytes();
      assert.throws(() => Block.fromBytes(enc.subarray(0, at % enc.length)), decodeError('TRUNCATED'));
      assert.throws(() => Block.fromBytes(appendByte(enc, v)), decodeError('TRAILING_BYTES'));
      const changed = enc.slice();
      changed[at % enc.length] = v;
      try {
        assert.deepEqual(reencodeBlock(Block.fromBytes(changed)), changed);
      } catch (err) {
        assert.ok(err instanceof DecodeError, `not a DecodeError: ${String(err)}`);
      }
    }),
    { numRuns: 300 },
  );
});

test('blocks: a huge transaction count or transaction length is refused before reading on', () => {
  const header = fc.sample(headerArb, { numRuns: 1, seed: 5 })[0]!;
  const tx = fc.sample(txArb, { numRuns: 1, seed: 5 })[0]!;
  const enc = Block.create(header, [tx]).toBytes().slice();
  const view = new DataView(enc.buffer);
  for (const count of [0xffffffff, 2]) {
    view.setUint32(HEADER_SIZE, count);
    assert.throws(() => Block.fromBytes(enc), decodeError('TRUNCATED'));
  }
  view.setUint32(HEADER_SIZE, 1);
  view.setUint32(HEADER_SIZE + 4, 0xffffffff);
  assert.throws(() => Block.fromBytes(enc), decodeError('TOO_LARGE'));
  view.setUint32(HEADER_SIZE + 4, tx.size + 3);
  assert.throws(() => Block.fromBytes(enc), decodeError('TRUNCATED'));
  // A network's per-transaction bound applies inside blocks too.
  view.setUint32(HEADER_SIZE + 4, tx.size);
  assert.throws(() => Block.fromBytes(enc, MAX_BLOCK_SIZE, tx.size - 1), decodeError('TOO_LARGE'));
  assert.equal(Block.fromBytes(enc, MAX_BLOCK_SIZE, tx.size).txs.length, 1);
});

test('blocks: an empty votes section is two bytes, and the vote count and lengths are checked before reading on', () => {
  const header = fc.sample(headerArb, { numRuns: 1, seed: 6 })[0]!;
  const bare = Block.create(header, []).toBytes();
  assert.equal(bare.length, HEADER_SIZE + 4 + 2);
  const withVotes = (tail: Uint8Array) => {
    const out = new Uint8Array(bare.length - 2 + tail.length);
    out.set(bare.subarray(0, bare.length - 2));
    out.set(tail, bare.length - 2);
    return out;
  };
  assert.throws(() => Block.fromBytes(withVotes(new Uint8Array([0xff, 0xff, 0, 1, 7]))), decodeError('TRUNCATED'));
  assert.throws(() => Block.fromBytes(withVotes(new Uint8Array([0, 1, 0, 0, 0]))), decodeError('BAD_VALUE'));
  const tooBig = new Writer(8)
    .u16(1)
    .u16(MAX_VOTE_BYTES + 1)
    .u8(0)
    .u8(0)
    .u8(0)
    .finish();
  assert.throws(() => Block.fromBytes(withVotes(tooBig)), decodeError('TOO_LARGE'));
  const one = Block.fromBytes(withVotes(new Uint8Array([0, 1, 0, 2, 9, 9])));
  assert.deepEqual(one.votes, [new Uint8Array([9, 9])]);
});

test('blocks: the merkle root commits to each vote, its order, and which leaves are votes', () => {
  const header = fc.sample(headerArb, { numRuns: 1, seed: 7 })[0]!;
  const tx = fc.sample(txArb, { numRuns: 1, seed: 7 })[0]!;
  const a = new Uint8Array([1]);
  const b = new Uint8Array([2]);
  const roots = [
    Block.create(header, [tx]),
    Block.create(header, [tx], [a]),
    Block.create(header, [tx], [b]),
    Block.create(header, [tx], [a, b]),
    Block.create(header, [tx], [b, a]),
  ].map((blk) => Buffer.from(blk.computeMerkleRoot()).toString('hex'));
  assert.equal(new Set(roots).size, roots.length, 'every body has its own root');
});

test('blocks: input over maxBytes is TOO_LARGE before any decoding', () => {
  // All zeros would fail as header version 0 (BAD_VALUE) if it were decoded.
  assert.throws(() => Block.fromBytes(new Uint8Array(HEADER_SIZE + 4 + 1), HEADER_SIZE + 4), decodeError('TOO_LARGE'));
  assert.throws(() => Block.fromBytes(new Uint8Array(devnet.maxBlockBytes + 1), devnet.maxBlockBytes), {
    code: 'TOO_LARGE',
  });
  assert.throws(() => Block.fromBytes(new Uint8Array(HEADER_SIZE + 4)), decodeError('BAD_VALUE'));
});

test('transfer payload: round trip; amount 0 and wrong lengths are refused', () => {
  fc.assert(
    fc.property(bytes(20), fc.bigInt({ min: 1n, max: 0xffffffffffffffffn }), (to, amount) => {
      const payload = transferRules.encode({ to, amount });
      assert.equal(payload.length, 28);
      assert.deepEqual(transferRules.decode(payload, devnet), { to, amount });
      assert.throws(() => transferRules.decode(payload.subarray(0, 27), devnet), decodeError('TRUNCATED'));
      assert.throws(() => transferRules.decode(appendByte(payload, 0), devnet), decodeError('TOO_LARGE'));
    }),
  );
  const zero = transferRules.encode({ to: new Uint8Array(20).fill(1), amount: 0n });
  assert.throws(() => transferRules.decode(zero, devnet), decodeError('BAD_VALUE'));
  assert.throws(() => transferRules.decode(new Uint8Array(0), devnet), decodeError('TRUNCATED'));
});

test('reader: a length prefix is checked against its maximum and the remaining bytes before allocating', () => {
  const claim = new Writer().u32(0xffffffff).bytes(new Uint8Array(8)).finish();
  assert.throws(() => new Reader(claim).varBytes(4, 1024), decodeError('TOO_LARGE'));
  assert.throws(() => new Reader(claim).varBytes(4, 0xffffffff), decodeError('TRUNCATED'));
  const r = new Reader(
    new Writer()
      .varBytes(new Uint8Array([1, 2, 3]), 2)
      .u8(9)
      .finish(),
  );
  assert.deepEqual(r.varBytes(2, 3), new Uint8Array([1, 2, 3]));
  assert.throws(() => r.end(), decodeError('TRAILING_BYTES'));
});

test('u64: every value round-trips big-endian, on both sides of 2^32 and 2^53', () => {
  const edges = [0n, 1n, 0xffffffffn, 0x100000000n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, (1n << 64n) - 1n];
  const check = (v: bigint) => {
    const bytes = new Writer(8).u64(v).finish();
    assert.equal(BigInt(`0x${Buffer.from(bytes).toString('hex')}`), v);
    assert.equal(new Reader(bytes).u64(), v);
  };
  for (const v of edges) for (const d of [-1n, 0n, 1n]) if (v + d >= 0n && v + d < 1n << 64n) check(v + d);
  fc.assert(fc.property(u64, check), { numRuns: 2000 });
});

test('writer: a value that does not fit its field is refused instead of being written wrong', () => {
  // A u8 length prefix of 256 bytes would wrap to 0 and desynchronise every reader.
  assert.throws(() => new Writer().varBytes(new Uint8Array(256), 1), RangeError);
  assert.throws(() => new Writer().varBytes(new Uint8Array(0x10000), 2), RangeError);
  assert.throws(() => new Writer().u8(-1), RangeError);
  assert.throws(() => new Writer().u16(0x10000), RangeError);
  assert.throws(() => new Writer().u32(2 ** 32), RangeError);
  assert.throws(() => new Writer().u64(-1n), RangeError);
  assert.throws(() => new Writer().u64(1n << 64n), RangeError);
  // So a transaction of a kind beyond one byte cannot pose as kind 1.
  const f = fc.sample(txFields, { numRuns: 1, seed: 2 })[0]!;
  assert.throws(() => Transaction.create({ ...f, kind: 256 + TX_KINDS.transfer }).toBytes(), RangeError);
  const enc = new Writer().varBytes(new Uint8Array(255), 1).varBytes(new Uint8Array(0xffff), 2).finish();
  assert.equal(enc.length, 1 + 255 + 2 + 0xffff);
});

test('a transaction of an unknown kind cannot even be built, so none is ever encoded that no node could decode', () => {
  const fields = {
    sender: new Uint8Array(33).fill(2),
    nonce: 0n,
    fee: 0n,
    payload: new Uint8Array(0),
    signature: new Uint8Array(64),
  };
  for (const kind of [0, 10, 255]) assert.throws(() => Transaction.create({ ...fields, kind }), RangeError);
  assert.equal(Transaction.create({ ...fields, kind: 1 }).kind, 1);
});

test('u64n is u64 for safe integers, both ways, and refuses what a number cannot hold exactly', () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), (n) => {
      const bytes = new Writer(8).u64n(n).finish();
      assert.deepEqual(bytes, new Writer(8).u64(BigInt(n)).finish());
      assert.equal(new Reader(bytes).u64n(), n);
    }),
  );
  assert.throws(() => new Writer().u64n(-1), RangeError);
  assert.throws(() => new Writer().u64n(2 ** 53), RangeError);
  assert.throws(() => new Writer().u64n(1.5), RangeError);
  const past = new Writer(8).u64(2n ** 53n).finish();
  assert.throws(() => new Reader(past).u64n('t'), { code: 'BAD_VALUE' });
  assert.throws(() => new Reader(new Uint8Array(7)).u64n('t'), { code: 'TRUNCATED' });
});
