import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DecodeError } from '../../src/chain/errors.ts';
import { decodeResults, encodeResults, resultCid } from '../../src/market/results.ts';
import type { JsonValue } from '../../src/market/sandbox.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);
const MAX = 1 << 20;
const contract = new Uint8Array(32).map((_, i) => i);
const hex = Buffer.from(contract).toString('hex');

const isDecodeError = (code: DecodeError['code']) => (err: unknown) => err instanceof DecodeError && err.code === code;
const rejects = (text: string | Uint8Array, code: DecodeError['code'], max = MAX) =>
  assert.throws(
    () => decodeResults(typeof text === 'string' ? utf8(text) : text, max),
    isDecodeError(code),
    typeof text === 'string' ? text : undefined,
  );

// JSON values as a contract returns them: what survives JSON.parse (no -0, integer keys first).
const json: fc.Arbitrary<JsonValue> = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)));

const results = fc
  .record(
    {
      contract: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      from: fc.maxSafeNat(),
      rows: fc.array(fc.tuple(json, json), { minLength: 1, maxLength: 8 }),
    },
    { noNullPrototype: true },
  )
  .map(({ contract, from, rows }) => ({
    contract,
    from,
    inputs: rows.map((r) => r[0]),
    outputs: rows.map((r) => r[1]),
  }));

const doc = (body: string) => `{"v":1,"contract":"${hex}",${body}}`;

describe('results encoding', () => {
  it('has one fixed byte form', () => {
    const bytes = encodeResults(contract, 5, [5, { re: -0.5 }], [[1, 2], 'é\u2028']);
    assert.equal(
      new TextDecoder().decode(bytes),
      `{"v":1,"contract":"${hex}","from":5,"inputs":[5,{"re":-0.5}],"outputs":[[1,2],"é\u2028"]}`,
    );
  });

  it('round-trips, and decoded results re-encode to the same bytes', () => {
    fc.assert(
      fc.property(results, (r) => {
        const bytes = encodeResults(r.contract, r.from, r.inputs, r.outputs);
        const back = decodeResults(bytes, bytes.length);
        assert.deepEqual(back, {
          contract: Buffer.from(r.contract).toString('hex'),
          from: r.from,
          inputs: r.inputs,
          outputs: r.outputs,
        });
        assert.deepEqual(encodeResults(Buffer.from(back.contract, 'hex'), back.from, back.inputs, back.outputs), bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses to encode inputs and outputs of different lengths', () => {
    assert.throws(() => encodeResults(contract, 0, [1, 2], [1]), RangeError);
  });

  it('rejects non-canonical JSON as NON_CANONICAL', () => {
    const canonical = doc('"from":0,"inputs":[1],"outputs":[{"a":1}]');
    assert.deepEqual(decodeResults(utf8(canonical), MAX).outputs, [{ a: 1 }]);
    const variants = [
      doc('"from": 0,"inputs":[1],"outputs":[{"a":1}]'), // a space
      `${canonical}\n`, // a trailing newline
      ` ${canonical}`, // leading space
      doc('"from":0,"inputs":[ 1 ],"outputs":[{"a":1}]'),
      `{"contract":"${hex}","v":1,"from":0,"inputs":[1],"outputs":[{"a":1}]}`, // reordered keys
      doc('"inputs":[1],"from":0,"outputs":[{"a":1}]'),
      doc('"from":0,"inputs":[1.0],"outputs":[{"a":1}]'), // 1.0 for 1
      doc('"from":0.0,"inputs":[1],"outputs":[{"a":1}]'),
      doc('"from":0,"inputs":[1e0],"outputs":[{"a":1}]'),
      doc('"from":0,"inputs":[1],"outputs":[{"a":10E-1}]'),
      doc('"from":-0,"inputs":[1],"outputs":[{"a":1}]'),
      doc('"from":0,"inputs":[1],"outputs":[{"a":1}],"extra":true'), // extra field
      doc('"from":0,"inputs":[1],"outputs":[{"a":1}],"v":1'), // duplicate key
      doc('"from":0,"inputs":["\\u0061"],"outputs":[{"a":1}]'), // escaped where JSON.stringify would not
      doc('"from":0,"inputs":["\\/"],"outputs":[{"a":1}]'),
    ];
    for (const v of variants) rejects(v, 'NON_CANONICAL');
    // A UTF-8 byte-order mark in front.
    rejects(Buffer.concat([Uint8Array.of(0xef, 0xbb, 0xbf), utf8(canonical)]), 'NON_CANONICAL');
  });

  it('rejects the wrong shape as BAD_VALUE', () => {
    const bad = [
      '',
      'null',
      '[]',
      '"results"',
      '{}',
      '{"v":1',
      `{"v":2,"contract":"${hex}","from":0,"inputs":[1],"outputs":[1]}`, // wrong version
      `{"v":"1","contract":"${hex}","from":0,"inputs":[1],"outputs":[1]}`,
      `{"contract":"${hex}","from":0,"inputs":[1],"outputs":[1]}`, // no version
      doc('"from":0,"inputs":[1,2],"outputs":[1]'), // mismatched lengths
      doc('"from":0,"inputs":[],"outputs":[]'), // empty
      doc('"from":-1,"inputs":[1],"outputs":[1]'),
      doc('"from":1.5,"inputs":[1],"outputs":[1]'),
      doc(`"from":${2 ** 53},"inputs":[1],"outputs":[1]`), // past safe integers
      doc('"from":"0","inputs":[1],"outputs":[1]'),
      doc('"from":0,"inputs":{},"outputs":[1]'),
      doc('"from":0,"inputs":[1]'),
      `{"v":1,"contract":"${hex.toUpperCase()}","from":0,"inputs":[1],"outputs":[1]}`, // upper-case hex
      `{"v":1,"contract":"${hex.slice(2)}","from":0,"inputs":[1],"outputs":[1]}`, // 31 bytes
    ];
    for (const b of bad) rejects(b, 'BAD_VALUE');
    rejects(Uint8Array.of(0x7b, 0xff, 0x7d), 'BAD_VALUE'); // not UTF-8
  });

  it('enforces the size limit before parsing', () => {
    const bytes = encodeResults(contract, 0, [1], ['x'.repeat(100)]);
    assert.equal(decodeResults(bytes, bytes.length).outputs.length, 1);
    rejects(bytes, 'TOO_LARGE', bytes.length - 1);
    // Garbage over the limit is refused as too large, not parsed.
    rejects(new Uint8Array(101).fill(0xff), 'TOO_LARGE', 100);
  });

  it('accepts a changed byte only if the result is itself canonical', () => {
    // One encoding per value: whatever decodes re-encodes to exactly its bytes.
    const bytes = encodeResults(contract, 7, [1, 'ab', { k: [true, null] }], [0.25, -3, 'z']);
    fc.assert(
      fc.property(
        fc.nat({ max: bytes.length - 1 }),
        fc.constantFrom(0x20, 0x30, 0x31, 0x22, 0x2c, 0x2e, 0x5c, 0x61, 0x65, 0x7b, 0x7d),
        fc.constantFrom('replace', 'insert', 'delete'),
        (pos, byte, how) => {
          const b =
            how === 'replace'
              ? bytes.map((x, i) => (i === pos ? byte : x))
              : how === 'insert'
                ? Buffer.concat([bytes.subarray(0, pos), Uint8Array.of(byte), bytes.subarray(pos)])
                : Buffer.concat([bytes.subarray(0, pos), bytes.subarray(pos + 1)]);
          let r: ReturnType<typeof decodeResults>;
          try {
            r = decodeResults(b, MAX);
          } catch (err) {
            assert.ok(err instanceof DecodeError);
            return;
          }
          assert.deepEqual(
            encodeResults(Buffer.from(r.contract, 'hex'), r.from, r.inputs, r.outputs),
            new Uint8Array(b),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('resultCid', () => {
  it('is CIDv1, raw codec, SHA-256 of the bytes', async () => {
    const bytes = encodeResults(contract, 0, [0], [42]);
    const cid = await resultCid(bytes);
    assert.equal(cid.version, 1);
    assert.equal(cid.code, 0x55);
    assert.equal(cid.multihash.code, 0x12);
    const digest = createHash('sha256').update(bytes).digest();
    assert.deepEqual(cid.multihash.digest, new Uint8Array(digest));
    // <version 1><raw 0x55><sha2-256 0x12><32 bytes>
    assert.deepEqual(cid.bytes, new Uint8Array(Buffer.concat([Uint8Array.of(0x01, 0x55, 0x12, 0x20), digest])));
    assert.match(cid.toString(), /^bafkrei[a-z2-7]{52}$/);
  });

  it('is deterministic', async () => {
    await fc.assert(
      fc.asyncProperty(results, async (r) => {
        const a = await resultCid(encodeResults(r.contract, r.from, r.inputs, r.outputs));
        const b = await resultCid(
          encodeResults(r.contract, r.from, structuredClone(r.inputs), structuredClone(r.outputs)),
        );
        assert.ok(a.equals(b));
        assert.equal(a.toString(), b.toString());
      }),
      { numRuns: 100 },
    );
  });

  it('differs when any output, input, start or contract changes', async () => {
    await fc.assert(
      fc.asyncProperty(results, fc.nat(), json, async (r, at, other) => {
        const k = at % r.outputs.length;
        fc.pre(JSON.stringify(other) !== JSON.stringify(r.outputs[k]));
        const base = await resultCid(encodeResults(r.contract, r.from, r.inputs, r.outputs));
        const outputs = r.outputs.with(k, other);
        const inputs = r.inputs.with(k, other);
        const changed = [
          encodeResults(r.contract, r.from, r.inputs, outputs),
          encodeResults(r.contract, r.from === 0 ? 1 : r.from - 1, r.inputs, r.outputs),
          encodeResults(
            r.contract.map((b, i) => (i === 31 ? b ^ 1 : b)),
            r.from,
            r.inputs,
            r.outputs,
          ),
        ];
        if (JSON.stringify(other) !== JSON.stringify(r.inputs[k])) {
          changed.push(encodeResults(r.contract, r.from, inputs, r.outputs));
        }
        for (const bytes of changed) assert.equal((await resultCid(bytes)).equals(base), false);
      }),
      { numRuns: 150 },
    );
  });
});
