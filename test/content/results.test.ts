import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DecodeError } from '../../src/chain/errors.ts';
import { cidOf } from '../../src/content/cid.ts';
import {
  canonicalJson,
  decodeResults,
  encodeResults,
  indexedOutputs,
  type JsonValue,
  MAX_RESULTS_BYTES,
  type ResultBatch,
  ResultsError,
  resultCid,
} from '../../src/content/results.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);
const contract = new Uint8Array(32).map((_, i) => i);
const contractHex = Buffer.from(contract).toString('hex');
const decodeCode = (err: unknown) => (err instanceof DecodeError ? err.code : undefined);

// JSON values as contract code returns them (what survives JSON.parse).
const json: fc.Arbitrary<JsonValue> = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.parse(JSON.stringify(v)));

// Canonical ranges: sorted, apart, non-empty.
const ranges = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })), { minLength: 1, maxLength: 5 })
  .map((steps) => {
    let at = 0;
    return steps.map(([gap, len]) => {
      const start = at + gap;
      at = start + len;
      return { start, end: at };
    });
  });

const batch: fc.Arbitrary<ResultBatch> = ranges.chain((rs) => {
  const n = rs.reduce((s, r) => s + r.end - r.start, 0);
  return fc.array(json, { minLength: n, maxLength: n }).map((outputs) => ({ contract, ranges: rs, outputs }));
});

describe('result batch encoding', () => {
  it('has one fixed byte form', () => {
    const bytes = encodeResults({
      contract,
      ranges: [
        { start: 0, end: 2 },
        { start: 5, end: 6 },
      ],
      outputs: [{ z: 1, a: [true, null] }, 'é\u2028', -0],
    });
    assert.equal(
      new TextDecoder().decode(bytes),
      `{"contract":"${contractHex}","outputs":[{"a":[true,null],"z":1},"é\u2028",0],"ranges":[[0,2],[5,6]]}`,
    );
    assert.equal(resultCid(bytes).toString(), cidOf(bytes).toString());
  });

  it('round-trips any batch, and decoding then re-encoding gives the same bytes', () => {
    fc.assert(
      fc.property(batch, (b) => {
        const bytes = encodeResults(b);
        const back = decodeResults(bytes);
        assert.deepEqual(back.contract, b.contract);
        assert.deepEqual(back.ranges, b.ranges);
        assert.deepEqual(back.outputs, b.outputs);
        assert.deepEqual(encodeResults(back), bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('gives equal batches equal bytes whatever the key order of their objects', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.integer()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        const one = encodeResults({ contract, ranges: [{ start: 0, end: 1 }], outputs: [obj] });
        const two = encodeResults({ contract, ranges: [{ start: 0, end: 1 }], outputs: [reversed] });
        assert.deepEqual(one, two);
      }),
    );
  });

  it('refuses every non-canonical spelling of a valid batch', () => {
    const good = `{"contract":"${contractHex}","outputs":[{"a":1,"b":2.5}],"ranges":[[3,4]]}`;
    assert.deepEqual(decodeResults(utf8(good)).outputs, [{ a: 1, b: 2.5 }]);
    const spellings = [
      good.replace('{"a":1,"b":2.5}', '{"b":2.5,"a":1}'), // key order
      good.replace('"outputs":', '"outputs" :'), // whitespace
      `${good}\n`, // trailing newline
      good.replace('"a":1', '"a":1.0'), // number spelling
      good.replace('"a":1', '"a":1e0'),
      good.replace('2.5', '25e-1'),
      good.replace('"a":1', '"a":-0'),
      good.replace('"a"', '"\\u0061"'), // escaped letter
      good.replace('{"a":1,', '{"a":0,"a":1,'), // duplicate key
      `{"outputs":[{"a":1,"b":2.5}],"contract":"${contractHex}","ranges":[[3,4]]}`, // top-level key order
    ];
    for (const s of spellings) {
      assert.throws(
        () => decodeResults(utf8(s)),
        (err) => decodeCode(err) === 'NON_CANONICAL',
        s,
      );
    }
    // A byte-order mark in front.
    assert.throws(
      () => decodeResults(Uint8Array.of(0xef, 0xbb, 0xbf, ...utf8(good))),
      (err) => decodeCode(err) === 'BAD_VALUE',
    );
  });

  it('refuses malformed batches with a typed error', () => {
    const doc = (fields: Record<string, string>) =>
      utf8(
        `{${Object.entries({ contract: `"${contractHex}"`, outputs: '[1]', ranges: '[[0,1]]', ...fields })
          .map(([k, v]) => `"${k}":${v}`)
          .join(',')}}`,
      );
    const bad: Array<[Uint8Array, string]> = [
      [utf8('not json'), 'BAD_VALUE'],
      [Uint8Array.of(0x22, 0xff, 0x22), 'BAD_VALUE'], // invalid UTF-8
      [utf8('[]'), 'BAD_VALUE'],
      [doc({ contract: `"${contractHex.toUpperCase()}"` }), 'BAD_VALUE'],
      [doc({ contract: '"00"' }), 'BAD_VALUE'],
      [doc({ outputs: '[1,2]' }), 'BAD_VALUE'], // more outputs than indices
      [doc({ outputs: '[]' }), 'BAD_VALUE'],
      [doc({ ranges: '[]' }), 'BAD_VALUE'],
      [doc({ ranges: '[[1,1]]' }), 'NON_CANONICAL'], // empty range
      [doc({ ranges: '[[0,1],[1,2]]', outputs: '[1,2]' }), 'NON_CANONICAL'], // touching ranges
      [doc({ ranges: '[[2,3],[0,1]]', outputs: '[1,2]' }), 'NON_CANONICAL'], // unsorted
      [doc({ ranges: '[[0.5,1]]' }), 'BAD_VALUE'],
      [doc({ ranges: '[[-1,0]]' }), 'NON_CANONICAL'],
      [doc({ extra: '1' }), 'BAD_VALUE'],
      [doc({ outputs: `[${'['.repeat(70)}${']'.repeat(70)}]` }), 'BAD_VALUE'], // nested too deep
      [utf8(`${'['.repeat(200_000)}${']'.repeat(200_000)}`), 'BAD_VALUE'],
      [new Uint8Array(MAX_RESULTS_BYTES + 1).fill(0x20), 'TOO_LARGE'],
    ];
    for (const [bytes, code] of bad) {
      assert.throws(
        () => decodeResults(bytes),
        (err) => decodeCode(err) === code,
        new TextDecoder().decode(bytes.subarray(0, 80)),
      );
    }
  });

  it('refuses to encode what JSON cannot carry exactly', () => {
    const one = [{ start: 0, end: 1 }];
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const holey: unknown[] = new Array(3);
    holey[0] = 1;
    for (const output of [Number.NaN, Infinity, undefined, 1n, () => 1, new Date(0), cyclic, holey]) {
      assert.throws(
        () => encodeResults({ contract, ranges: one, outputs: [output as JsonValue] }),
        (err) => err instanceof ResultsError && err.code === 'BAD_VALUE',
      );
    }
    assert.throws(() => encodeResults({ contract, ranges: one, outputs: [] }), ResultsError);
    assert.throws(() => encodeResults({ contract: new Uint8Array(31), ranges: one, outputs: [1] }), ResultsError);
    assert.throws(
      () => encodeResults({ contract, ranges: one, outputs: ['x'.repeat(MAX_RESULTS_BYTES)] }),
      (err) => err instanceof ResultsError && err.code === 'TOO_LARGE',
    );
  });

  it('pairs outputs with their indices across ranges', () => {
    const b: ResultBatch = {
      contract,
      ranges: [
        { start: 2, end: 4 },
        { start: 9, end: 10 },
      ],
      outputs: ['a', 'b', 'c'],
    };
    assert.deepEqual(indexedOutputs(b), [
      [2, 'a'],
      [3, 'b'],
      [9, 'c'],
    ]);
  });

  it('writes JSON as RFC 8785 does for the cases it shares with ECMAScript', () => {
    assert.equal(
      canonicalJson({ b: [1e21, 1e-7, 0.1], a: '\u0000"\\' }),
      '{"a":"\\u0000\\"\\\\","b":[1e+21,1e-7,0.1]}',
    );
    // Keys sort by UTF-16 code units, as RFC 8785 requires.
    assert.equal(canonicalJson({ '\u{1F600}': 1, '\uFB33': 2 }), '{"\u{1F600}":1,"\uFB33":2}');
    // A lone surrogate is escaped, so the UTF-8 bytes are well formed.
    assert.equal(canonicalJson('\uD800'), '"\\ud800"');
  });
});
