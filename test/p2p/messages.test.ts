import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DecodeError } from '../../src/chain/errors.ts';
import {
  decodeBlockFrame,
  decodeHeaders,
  decodeRequest,
  decodeStatus,
  encodeBlockFrame,
  encodeHeaders,
  encodeRequest,
  encodeStatus,
  LIMITS,
} from '../../src/p2p/messages.ts';
import { devnet, keypair, mineMany, transfer } from '../support/chain.ts';
import { openTestChain } from './net.ts';

const h = (n: number) => new Uint8Array(32).fill(n);
const maxTx = devnet.maxTxBytes;

function rejects(bytes: Uint8Array, code: string): void {
  assert.throws(
    () => decodeRequest(bytes, maxTx),
    (e: unknown) => e instanceof DecodeError && e.code === code,
  );
}

test('requests round-trip and decode to exactly what was sent', () => {
  const status = { genesis: h(1), tip: h(2), height: 77, chainwork: 123456789n };
  assert.deepEqual(decodeRequest(encodeRequest({ type: 'status', status }), maxTx), { type: 'status', status });
  const gh = { type: 'getHeaders' as const, locator: [h(3), h(4)], max: 2000 };
  assert.deepEqual(decodeRequest(encodeRequest(gh), maxTx), gh);
  const gt = { ...gh, target: h(5) };
  assert.deepEqual(decodeRequest(encodeRequest(gt), maxTx), gt);
  const gb = { type: 'getBlocks' as const, hashes: [h(6)] };
  assert.deepEqual(decodeRequest(encodeRequest(gb), maxTx), gb);
  const tx = transfer(keypair(), keypair().address, 5n, 0n, h(0));
  const pushed = decodeRequest(encodeRequest({ type: 'txs', txs: [tx] }), maxTx);
  assert.equal(pushed.type === 'txs' && pushed.txs[0]!.hash().toString(), tx.hash().toString());
  assert.deepEqual(decodeStatus(encodeStatus(status)), status);
});

test('request decoding is strict: counts, limits, trailing bytes, unknown types', () => {
  const good = encodeRequest({ type: 'getHeaders', locator: [h(1)], max: 10 });
  rejects(Uint8Array.of(...good, 0), 'TRAILING_BYTES');
  rejects(good.subarray(0, good.length - 1), 'TRUNCATED');
  rejects(Uint8Array.of(9), 'BAD_VALUE');
  rejects(encodeRequest({ type: 'getHeaders', locator: [], max: 10 }), 'BAD_VALUE');
  rejects(encodeRequest({ type: 'getHeaders', locator: [h(1)], max: 0 }), 'BAD_VALUE');
  rejects(encodeRequest({ type: 'getHeaders', locator: [h(1)], max: LIMITS.headers + 1 }), 'BAD_VALUE');
  const locator = Array.from({ length: LIMITS.locator + 1 }, (_, i) => h(i));
  rejects(encodeRequest({ type: 'getHeaders', locator, max: 1 }), 'TOO_LARGE');
  const hashes = Array.from({ length: LIMITS.blocksPerRequest + 1 }, (_, i) => h(i));
  rejects(encodeRequest({ type: 'getBlocks', hashes }), 'TOO_LARGE');
  // A count that claims more hashes than the bytes that follow is refused before allocating.
  rejects(Uint8Array.of(3, 0, 64), 'TRUNCATED');
  rejects(new Uint8Array(LIMITS.requestBytes + 1), 'TOO_LARGE');
});

test('any bytes decode to a request or fail with a DecodeError, nothing else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        decodeRequest(bytes, maxTx);
      } catch (e) {
        assert.ok(e instanceof DecodeError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('headers and block frames are strict too', async (t) => {
  const tc = await openTestChain(t);
  const blocks = await mineMany(tc, 3);
  const headers = blocks.map((b) => b.header);
  const enc = encodeHeaders(headers);
  assert.deepEqual(
    decodeHeaders(enc, 3).map((x) => x.hash().toString()),
    headers.map((x) => x.hash().toString()),
  );
  assert.throws(
    () => decodeHeaders(enc, 2),
    (e: unknown) => e instanceof DecodeError && e.code === 'TOO_LARGE',
  );
  assert.throws(() => decodeHeaders(Uint8Array.of(...enc, 1), 3), DecodeError);
  const frame = encodeBlockFrame(blocks[0]!.toBytes());
  assert.equal(decodeBlockFrame(frame, devnet)!.hash().toString(), blocks[0]!.hash().toString());
  assert.equal(decodeBlockFrame(encodeBlockFrame(undefined), devnet), undefined);
  assert.throws(() => decodeBlockFrame(Uint8Array.of(0, 1), devnet), DecodeError);
  assert.throws(() => decodeBlockFrame(Uint8Array.of(2, ...blocks[0]!.toBytes()), devnet), DecodeError);
  assert.throws(() => decodeBlockFrame(Uint8Array.of(...frame, 0), devnet), DecodeError);
});
