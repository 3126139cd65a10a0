import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bech32m } from '@scure/base';
import fc from 'fast-check';
import { addressOf, formatAddress, parseAddress, RESERVED_ADDRESS } from '../../src/chain/address.ts';
import { DecodeError } from '../../src/chain/errors.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import { keypair } from '../support/chain.ts';

const HRPS = Object.values(NETWORKS).map((n) => n.hrp);
const BECH32_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
// Everything a typo could put there: the alphabet, its upper case, and look-alikes outside it.
const SUBSTITUTES = [...new Set(`${BECH32_CHARSET}${BECH32_CHARSET.toUpperCase()}1bio-_ .`)];

const addressArb = fc.uint8Array({ minLength: 20, maxLength: 20 });

function badAddress(err: unknown): boolean {
  assert.ok(err instanceof DecodeError, `expected a DecodeError, got ${String(err)}`);
  assert.equal(err.code, 'BAD_ADDRESS', err.message);
  return true;
}

test('format → parse round trip on every network; the text carries the network prefix', () => {
  fc.assert(
    fc.property(addressArb, fc.constantFrom(...HRPS), (addr, hrp) => {
      const text = formatAddress(addr, hrp);
      assert.ok(text.startsWith(`${hrp}1`));
      assert.equal(text, text.toLowerCase());
      assert.deepEqual(parseAddress(text, hrp), addr);
    }),
  );
  const k = keypair();
  assert.equal(k.address.length, 20);
  assert.deepEqual(addressOf(k.pub), k.address);
  assert.deepEqual(parseAddress(formatAddress(k.address, 'zid'), 'zid'), k.address);
});

test('every single-character substitution of an address is refused as BAD_ADDRESS', () => {
  const check = (text: string, hrp: string) => {
    for (let i = 0; i < text.length; i++) {
      for (const c of SUBSTITUTES) {
        if (c === text[i]) continue;
        const typo = text.slice(0, i) + c + text.slice(i + 1);
        assert.throws(() => parseAddress(typo, hrp), badAddress, `accepted typo at ${i}: ${typo}`);
      }
    }
  };
  check(formatAddress(keypair().address, 'zid'), 'zid');
  check(formatAddress(RESERVED_ADDRESS, 'zit'), 'zit');
  fc.assert(
    fc.property(addressArb, fc.nat(), fc.constantFrom(...SUBSTITUTES), (addr, at, c) => {
      const text = formatAddress(addr, 'zid');
      const i = at % text.length;
      fc.pre(text[i] !== c);
      assert.throws(() => parseAddress(text.slice(0, i) + c + text.slice(i + 1), 'zid'), badAddress);
    }),
    { numRuns: 500 },
  );
});

test('dropped, doubled and swapped characters are refused too, with a message that says to check for a typo', () => {
  const text = formatAddress(keypair().address, 'zid');
  const variants = [text.slice(0, -1), text.slice(1), `${text}q`, `${text.slice(0, 10)}${text.slice(11)}`];
  for (let i = 4; i + 1 < text.length; i++) {
    if (text[i] !== text[i + 1]) variants.push(text.slice(0, i) + text[i + 1] + text[i] + text.slice(i + 2));
  }
  for (const v of variants) assert.throws(() => parseAddress(v, 'zid'), badAddress, v);
  assert.throws(() => parseAddress(text.slice(0, -1), 'zid'), /typo/);
});

test("another network's address is refused with a message naming both prefixes", () => {
  const addr = keypair().address;
  for (const [from, to] of [
    ['zit', 'zid'],
    ['zid', NETWORKS.mainnet.hrp],
  ] as const) {
    const text = formatAddress(addr, from);
    assert.throws(
      () => parseAddress(text, to),
      (err) => {
        badAddress(err);
        const msg = (err as Error).message;
        assert.ok(msg.includes(`"${from}"`) && msg.includes(`"${to}"`), msg);
        return true;
      },
    );
  }
});

test("'000' is the reserved address; it is twenty zero bytes and has a checksummed form too", () => {
  const reserved = parseAddress('000', 'zid');
  assert.deepEqual(reserved, new Uint8Array(20));
  assert.deepEqual(parseAddress(formatAddress(RESERVED_ADDRESS, 'zid'), 'zid'), new Uint8Array(20));
  for (const near of ['00', '0000', 'OOO', ' 000']) assert.throws(() => parseAddress(near, 'zid'), badAddress);
});

test('valid bech32m strings that do not hold exactly 20 bytes are refused as BAD_ADDRESS', () => {
  const words = bech32m.toWords(new Uint8Array(20).fill(0xa5));
  const cases = [
    bech32m.encode('zid', bech32m.toWords(new Uint8Array(19))),
    bech32m.encode('zid', bech32m.toWords(new Uint8Array(32))),
    bech32m.encode('zid', []),
    // 33 or 31 five-bit words leave padding bits, which the converter itself rejects.
    bech32m.encode('zid', [...words, 1]),
    bech32m.encode('zid', [...words, 0]),
    bech32m.encode('zid', words.slice(0, 31)),
  ];
  for (const text of cases) assert.throws(() => parseAddress(text, 'zid'), badAddress, text);
});

test('non-strings and over-long input are refused as BAD_ADDRESS', () => {
  for (const v of [undefined, null, 42, {}, ['zid1'], '', 'zid1', `zid1${'q'.repeat(100)}`]) {
    assert.throws(() => parseAddress(v as unknown as string, 'zid'), badAddress, String(v));
  }
  assert.throws(() => formatAddress(new Uint8Array(19), 'zid'), RangeError);
});
