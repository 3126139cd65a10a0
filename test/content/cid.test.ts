import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unixfs } from '@helia/unixfs';
import fc from 'fast-check';
import { createHeliaLight } from 'helia';
import { CID } from 'multiformats/cid';
import { MAX_CID_SIZE } from '../../src/chain/transaction.ts';
import {
  CID_BYTES,
  checkCid,
  cidFromBytes,
  cidFromString,
  cidOf,
  cidToBytes,
  cidToString,
  verifyCid,
} from '../../src/content/cid.ts';
import { ContentError } from '../../src/content/errors.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);
const code = (err: unknown) => (err instanceof ContentError ? err.code : undefined);

describe('content CIDs', () => {
  it('match the CIDs Kubo prints for raw leaves (`ipfs add --cid-version 1 --raw-leaves`)', () => {
    assert.equal(cidOf(utf8('hello world')).toString(), 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e');
    assert.equal(cidOf(new Uint8Array()).toString(), 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku');
  });

  it('match the CID Helia assigns when it imports the same bytes', async () => {
    const helia = createHeliaLight();
    await helia.start();
    try {
      const fs = unixfs(helia);
      for (const bytes of [utf8('{"contract":"00","outputs":[1],"ranges":[[0,1]]}'), new Uint8Array(200_000).fill(3)]) {
        const assigned = await fs.addBytes(bytes);
        assert.equal(cidOf(bytes).toString(), assigned.toString());
      }
    } finally {
      await helia.stop();
    }
  });

  it('fit the transaction cid field and round-trip through binary and text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const cid = cidOf(bytes);
        const bin = cidToBytes(cid);
        assert.equal(bin.length, CID_BYTES);
        assert.ok(bin.length <= MAX_CID_SIZE);
        assert.ok(cidFromBytes(bin).equals(cid));
        assert.ok(cidFromString(cidToString(cid)).equals(cid));
        verifyCid(cid, bytes);
      }),
    );
  });

  it('refuse other binary forms of the same content', () => {
    const cid = cidOf(utf8('x'));
    const bin = cidToBytes(cid);
    const variants = [
      bin.subarray(0, 35), // truncated
      Uint8Array.of(...bin, 0), // trailing byte
      CID.createV1(0x70, cid.multihash).bytes, // dag-pb codec
      CID.createV0(cid.multihash).bytes, // CIDv0 (dag-pb)
      Uint8Array.of(0x81, 0x00, ...bin.subarray(1)), // version as a non-minimal varint
      Uint8Array.of(0x01, 0x55, 0x13, 0x20, ...bin.subarray(4)), // sha2-512 code on a 32-byte digest
    ];
    for (const v of variants)
      assert.throws(
        () => cidFromBytes(v),
        (err) => code(err) === 'BAD_CID',
      );
  });

  it('refuse other text forms and other CID kinds', () => {
    const cid = cidOf(utf8('x'));
    assert.throws(
      () => cidFromString(cid.toString().toUpperCase()),
      (err) => code(err) === 'BAD_CID',
    );
    assert.throws(
      () => cidFromString(CID.createV0(cid.multihash).toString()),
      (err) => code(err) === 'BAD_CID',
    );
    assert.throws(
      () => cidFromString('not a cid'),
      (err) => code(err) === 'BAD_CID',
    );
    assert.throws(
      () => checkCid(CID.createV1(0x0129, cid.multihash)),
      (err) => code(err) === 'BAD_CID',
    );
  });

  it('refuse bytes that do not hash to the CID', () => {
    const bytes = utf8('the result');
    const cid = cidOf(bytes);
    const tampered = bytes.slice();
    tampered[0] ^= 0x20;
    assert.throws(
      () => verifyCid(cid, tampered),
      (err) => code(err) === 'CID_MISMATCH' && (err as ContentError).meta.actual === cidOf(tampered).toString(),
    );
    assert.throws(
      () => verifyCid(cid, Uint8Array.of(...bytes, 0)),
      (err) => code(err) === 'CID_MISMATCH',
    );
  });
});
