import assert from 'node:assert/strict';
import { createPublicKey, verify as opensslVerify } from 'node:crypto';
import { test } from 'node:test';
import * as secp from '@noble/secp256k1';
import fc from 'fast-check';
import { DecodeError } from '../../src/chain/errors.ts';
import { bigIntToBytes32, hashToBigInt } from '../../src/chain/hash.ts';
import {
  isCanonicalSignature,
  isValidPublicKey,
  parsePrivateKeyHex,
  publicKeyOf,
  sign,
  verify,
  verifyLibsecp,
  verifyNoble,
  verifyOpenSsl,
} from '../../src/chain/keys.ts';

const N = secp.Point.CURVE().n;
const P = secp.Point.CURVE().p;

const privArb = fc.bigInt({ min: 1n, max: N - 1n }).map(bigIntToBytes32);
const msgArb = fc.uint8Array({ maxLength: 200 });

function withScalars(r: bigint, s: bigint): Uint8Array {
  const out = new Uint8Array(64);
  out.set(bigIntToBytes32(r), 0);
  out.set(bigIntToBytes32(s), 32);
  return out;
}

function scalars(sig: Uint8Array): { r: bigint; s: bigint } {
  return { r: hashToBigInt(sig.subarray(0, 32)), s: hashToBigInt(sig.subarray(32)) };
}

/** OpenSSL with no low-S rule: shows which refusals are ours and which are the curve's. */
function rawOpenssl(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean {
  const spki = Buffer.concat([Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex'), pub]);
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return opensslVerify('sha256', msg, { key, dsaEncoding: 'ieee-p1363' }, sig);
}

/** Every verifier must give `expected`: a split would let one node accept what another refuses. */
function both(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array, expected: boolean, what: string): void {
  assert.ok(verifyLibsecp, 'the secp256k1 binding loads here');
  assert.equal(verifyLibsecp(sig, msg, pub), expected, `libsecp256k1, ${what}`);
  assert.equal(verifyOpenSsl(sig, msg, pub), expected, `OpenSSL, ${what}`);
  assert.equal(verifyNoble(sig, msg, pub), expected, `noble, ${what}`);
}

test('the node verifies with libsecp256k1 where its binding loads', () => {
  assert.equal(verify, verifyLibsecp);
});

test('sign → verify round trip: compact, low-S, accepted by every verifier', () => {
  fc.assert(
    fc.property(privArb, msgArb, (priv, msg) => {
      const pub = publicKeyOf(priv);
      const sig = sign(msg, priv);
      assert.equal(sig.length, 64);
      assert.equal(pub.length, 33);
      assert.ok(isCanonicalSignature(sig));
      assert.ok(scalars(sig).s <= N / 2n);
      both(sig, msg, pub, true, 'valid signature');
    }),
    { numRuns: 40 },
  );
});

test('wrong message, wrong key, high-S and out-of-range r/s are refused by every verifier', () => {
  fc.assert(
    fc.property(privArb, privArb, msgArb, msgArb, (priv, otherPriv, msg, otherMsg) => {
      fc.pre(!Buffer.from(msg).equals(otherMsg));
      fc.pre(!Buffer.from(priv).equals(otherPriv));
      const pub = publicKeyOf(priv);
      const sig = sign(msg, priv);
      const { r, s } = scalars(sig);

      both(sig, otherMsg, pub, false, 'wrong message');
      both(sig, msg, publicKeyOf(otherPriv), false, 'wrong key');

      // n - s is the other valid signature of the same message: OpenSSL takes
      // it, so only the low-S rule keeps txids unmalleable.
      const highS = withScalars(r, N - s);
      assert.ok(rawOpenssl(highS, msg, pub), 'plain OpenSSL accepts the high-S twin');
      both(highS, msg, pub, false, 'high-S');

      both(withScalars(0n, s), msg, pub, false, 'r = 0');
      both(withScalars(r, 0n), msg, pub, false, 's = 0');
      both(withScalars(N, s), msg, pub, false, 'r = n');
      both(withScalars(r + N < 1n << 256n ? r + N : (1n << 256n) - 1n, s), msg, pub, false, 'r ≥ n');
      both(withScalars(r, N), msg, pub, false, 's = n');
      both(withScalars(r, s + N < 1n << 256n ? s + N : (1n << 256n) - 1n), msg, pub, false, 's ≥ n');
    }),
    { numRuns: 30 },
  );
});

test('the canonical range is exact at its edges: 1 ≤ r < n and 1 ≤ s ≤ n/2', () => {
  const half = N >> 1n;
  for (const [r, s, ok] of [
    [1n, 1n, true],
    [N - 1n, half, true],
    [N, half, false],
    [N - 1n, half + 1n, false],
    [0n, 1n, false],
    [1n, 0n, false],
    [(1n << 256n) - 1n, 1n, false],
    [1n << 255n, half - 1n, true],
  ] as const) {
    assert.equal(isCanonicalSignature(withScalars(r, s)), ok, `r = ${r.toString(16)}, s = ${s.toString(16)}`);
  }
});

test('garbage, off-curve, uncompressed and wrongly sized keys and signatures are refused by every verifier', () => {
  fc.assert(
    fc.property(privArb, msgArb, fc.uint8Array({ minLength: 32, maxLength: 32 }), (priv, msg, x) => {
      const pub = publicKeyOf(priv);
      const sig = sign(msg, priv);
      const flipped = pub.slice();
      flipped[0] = pub[0] === 2 ? 3 : 2; // the negated point
      both(sig, msg, flipped, false, 'negated key');
      for (const prefix of [0, 1, 2, 3, 4, 5, 6, 7, 0xff]) {
        // Random x: about half are on the curve, none is the signer.
        const garbage = new Uint8Array(33);
        garbage[0] = prefix;
        garbage.set(x, 1);
        both(sig, msg, garbage, false, `random key with prefix ${prefix}`);
      }
      // The signer's own point, uncompressed: a transaction's sender is the
      // 33-byte compressed form only, so both must refuse it.
      both(sig, msg, secp.getPublicKey(priv, false), false, 'uncompressed key');
      both(sig, msg, pub.subarray(1), false, '32-byte key');
      both(sig, msg, new Uint8Array(0), false, 'empty key');
      const padded = new Uint8Array(34);
      padded.set(pub);
      both(sig, msg, padded, false, '34-byte key');
      both(sig.subarray(0, 63), msg, pub, false, '63-byte signature');
      const longer = new Uint8Array(65);
      longer.set(sig);
      both(longer, msg, pub, false, '65-byte signature, trailing zero');
      const recovered = new Uint8Array(65);
      recovered.set(sig, 1);
      both(recovered, msg, pub, false, '65-byte signature, recovery byte first');
      both(new Uint8Array(0), msg, pub, false, 'empty signature');
    }),
    { numRuns: 25 },
  );
});

test('a compressed key whose x is not below the field prime is not a key', () => {
  const msg = new Uint8Array([1]);
  const sig = sign(msg, bigIntToBytes32(7n));
  for (const x of [P, P + 1n, (1n << 256n) - 1n]) {
    for (const prefix of [2, 3]) {
      const pub = new Uint8Array(33);
      pub[0] = prefix;
      pub.set(bigIntToBytes32(x), 1);
      assert.equal(isValidPublicKey(pub), false);
      both(sig, msg, pub, false, `x = ${x}`);
    }
  }
});

test('private keys: 0, n and wrongly sized hex are refused with a DecodeError', () => {
  const isBadValue = (e: unknown) => e instanceof DecodeError && e.code === 'BAD_VALUE';
  assert.throws(() => parsePrivateKeyHex('0'.repeat(64)), isBadValue);
  assert.throws(() => parsePrivateKeyHex(N.toString(16)), isBadValue);
  assert.throws(() => parsePrivateKeyHex('1'.repeat(63)), isBadValue);
  assert.throws(() => parsePrivateKeyHex('g'.repeat(64)), isBadValue);
  const max = (N - 1n).toString(16);
  assert.deepEqual(parsePrivateKeyHex(max), bigIntToBytes32(N - 1n));
  assert.deepEqual(parsePrivateKeyHex(max.toUpperCase()), bigIntToBytes32(N - 1n));
});
