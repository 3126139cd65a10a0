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
  MAX_RESULTS_BYTES,
  type ResultBatch,
  ResultsError,
  resultCid,
} from '../../src/market/results.ts';
import type { JsonValue } from '../../src/sandbox/limits.ts';
import { outputList as listOf, outputAt, outputsOf } from '../../src/sandbox/outputs.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);
const contract = new Uint8Array(32).map((_, i) => i);
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

// Outputs of every column kind: any JSON, or all booleans, numbers, or same-width number arrays.
const outputList = (n: number): fc.Arbitrary<JsonValue[]> =>
  fc.oneof(
    fc.array(json, { minLength: n, maxLength: n }),
    fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n }),
    fc
      .integer({ min: 1, max: 16 })
      .chain((w) => fc.array(fc.array(fc.integer(), { minLength: w, maxLength: w }), { minLength: n, maxLength: n })),
  );

const batch: fc.Arbitrary<ResultBatch> = ranges.chain((rs) => {
  const n = rs.reduce((s, r) => s + r.end - r.start, 0);
  return outputList(n).map((values) => ({ contract, ranges: rs, outputs: outputsOf(values) }));
});

const header = (kind: number, ranges: [number, number][] = [[3, 4]]) => {
  const out = [1, ...contract, 0, ranges.length];
  for (const [s, e] of ranges) out.push(...u64(s), ...u64(e));
  return [...out, kind];
};
const u64 = (v: number) => [...Buffer.from(BigInt(v).toString(16).padStart(16, '0'), 'hex')];
const json1 = (text: string, ranges?: [number, number][]) =>
  new Uint8Array(Buffer.concat([Uint8Array.from(header(4, ranges)), utf8(text)]));

describe('result batch encoding', () => {
  it('has one fixed byte form', () => {
    const ranges = [
      { start: 0, end: 2 },
      { start: 5, end: 6 },
    ];
    const mixed = encodeResults({ contract, ranges, outputs: outputsOf([{ z: 1, a: [true, null] }, 'é\u2028', -0]) });
    assert.deepEqual(
      mixed,
      Uint8Array.of(
        ...header(4, [
          [0, 2],
          [5, 6],
        ]),
        ...utf8('[{"a":[true,null],"z":1},"é\u2028",0]'),
      ),
    );
    // Booleans: a bit each, lowest bit first.
    const bits = encodeResults({ contract, ranges, outputs: outputsOf([true, false, true]) });
    assert.deepEqual(bits.subarray(-2), Uint8Array.of(1, 0b101));
    // Numbers: eight bytes each, little-endian IEEE 754; -0 is written 0.
    const nums = encodeResults({ contract, ranges, outputs: outputsOf([1, -0, 0.5]) });
    assert.deepEqual(
      nums.subarray(-25),
      Uint8Array.of(2, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, ...new Array(8).fill(0), 0, 0, 0, 0, 0, 0, 0xe0, 0x3f),
    );
    // Arrays of the same few numbers: a width byte, then the numbers row by row.
    const vecs = encodeResults({
      contract,
      ranges,
      outputs: outputsOf([
        [1, 2],
        [3, 4],
        [5, 6],
      ]),
    });
    assert.deepEqual(vecs.subarray(-50, -48), Uint8Array.of(3, 2));
    assert.deepEqual([...new Float64Array(vecs.slice(-48).buffer)], [1, 2, 3, 4, 5, 6]);
    assert.equal(resultCid(mixed).toString(), cidOf(mixed).toString());
  });

  it('holds a million boolean outputs in one IPFS block', () => {
    const values = new Uint8Array(1 << 20).map((_, i) => ((i * 7919) % 3 === 0 ? 1 : 0));
    const bytes = encodeResults({
      contract,
      ranges: [{ start: 0, end: values.length }],
      outputs: { kind: 'bool', values },
    });
    assert.ok(bytes.length < 132 * 1024, `${bytes.length} bytes`);
    assert.deepEqual(decodeResults(bytes).outputs, { kind: 'bool', values });
  });

  it('round-trips any batch, and decoding then re-encoding gives the same bytes', () => {
    fc.assert(
      fc.property(batch, (b) => {
        const bytes = encodeResults(b);
        const back = decodeResults(bytes);
        assert.deepEqual(back.contract, b.contract);
        assert.deepEqual(back.ranges, b.ranges);
        assert.deepEqual(listOf(back.outputs), JSON.parse(JSON.stringify(listOf(b.outputs))));
        assert.deepEqual(encodeResults(back), bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('gives equal outputs equal bytes, whatever form they were handed over in', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.integer()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        const one = encodeResults({ contract, ranges: [{ start: 0, end: 1 }], outputs: outputsOf([obj]) });
        const two = encodeResults({ contract, ranges: [{ start: 0, end: 1 }], outputs: outputsOf([reversed]) });
        assert.deepEqual(one, two);
      }),
    );
    const one = [{ start: 0, end: 3 }];
    // Booleans handed over as JSON values are written as the typed column.
    assert.deepEqual(
      encodeResults({ contract, ranges: one, outputs: { kind: 'json', values: [true, false, true] } }),
      encodeResults({ contract, ranges: one, outputs: { kind: 'bool', values: Uint8Array.of(1, 0, 1) } }),
    );
    assert.deepEqual(
      encodeResults({ contract, ranges: one, outputs: { kind: 'json', values: [[1], [-0], [2]] } }),
      encodeResults({ contract, ranges: one, outputs: { kind: 'vec', width: 1, values: Float64Array.of(1, 0, 2) } }),
    );
  });

  it('refuses every non-canonical spelling of a valid batch', () => {
    const good = '[{"a":1,"b":2.5}]';
    assert.deepEqual(listOf(decodeResults(json1(good)).outputs), [{ a: 1, b: 2.5 }]);
    const spellings = [
      good.replace('{"a":1,"b":2.5}', '{"b":2.5,"a":1}'), // key order
      good.replace('"a":1', '"a" :1'), // whitespace
      `${good}\n`, // trailing newline
      good.replace('"a":1', '"a":1.0'), // number spelling
      good.replace('"a":1', '"a":1e0'),
      good.replace('2.5', '25e-1'),
      good.replace('"a":1', '"a":-0'),
      good.replace('"a"', '"\\u0061"'), // escaped letter
      good.replace('{"a":1,', '{"a":0,"a":1,'), // duplicate key
      '[true]', // booleans have their own column
      '[7]', // so have numbers
      '[[1,2]]', // and short arrays of numbers
    ];
    for (const s of spellings) {
      assert.throws(
        () => decodeResults(json1(s)),
        (err) => decodeCode(err) === 'NON_CANONICAL',
        s,
      );
    }
    // -0 in a number column, and set bits past the last boolean.
    assert.throws(
      () => decodeResults(Uint8Array.of(...header(2), 0, 0, 0, 0, 0, 0, 0, 0x80)),
      (err) => decodeCode(err) === 'NON_CANONICAL',
    );
    assert.throws(
      () => decodeResults(Uint8Array.of(...header(1), 0b11)),
      (err) => decodeCode(err) === 'NON_CANONICAL',
    );
    assert.equal(outputAt(decodeResults(Uint8Array.of(...header(1), 0b1)).outputs, 0), true);
    // A byte-order mark in front of the JSON.
    assert.throws(
      () => decodeResults(Uint8Array.of(...header(4), 0xef, 0xbb, 0xbf, ...utf8(good))),
      (err) => decodeCode(err) === 'BAD_VALUE',
    );
  });

  it('refuses malformed batches with a typed error', () => {
    const bad: Array<[Uint8Array, string]> = [
      [new Uint8Array(0), 'TRUNCATED'],
      [Uint8Array.of(2, ...header(4).slice(1), ...utf8('[1]')), 'BAD_VALUE'], // unknown format
      [Uint8Array.of(...header(4).slice(0, 40)), 'TRUNCATED'],
      [json1('not json'), 'BAD_VALUE'],
      [Uint8Array.of(...header(4), 0x22, 0xff, 0x22), 'BAD_VALUE'], // invalid UTF-8
      [json1('{"a":1}'), 'BAD_VALUE'], // not an array
      [json1('["a","b"]'), 'BAD_VALUE'], // more outputs than indices
      [json1('[]'), 'BAD_VALUE'],
      [Uint8Array.of(1, ...contract, 0, 0, 4, ...utf8('[]')), 'BAD_VALUE'], // no range
      [json1('["a"]', [[1, 1]]), 'NON_CANONICAL'], // empty range
      [
        json1('["a","b"]', [
          [0, 1],
          [1, 2],
        ]),
        'NON_CANONICAL',
      ], // touching ranges
      [
        json1('["a","b"]', [
          [2, 3],
          [0, 1],
        ]),
        'NON_CANONICAL',
      ], // unsorted
      [Uint8Array.of(...header(9), 0), 'BAD_VALUE'], // unknown column kind
      [Uint8Array.of(...header(3), 0), 'BAD_VALUE'], // vec of width 0
      [Uint8Array.of(...header(3), 17, ...new Array(17 * 8).fill(0)), 'BAD_VALUE'],
      [Uint8Array.of(...header(2), 0, 0, 0, 0, 0, 0, 0xf0, 0x7f), 'BAD_VALUE'], // Infinity
      [Uint8Array.of(...header(2), 0, 0, 0, 0, 0, 0, 0xf8, 0x7f), 'BAD_VALUE'], // NaN
      [Uint8Array.of(...header(2), 0, 0, 0, 0), 'BAD_VALUE'], // too few bytes for the range
      [Uint8Array.of(...header(1), 1, 0), 'BAD_VALUE'], // too many
      // A range claiming 2^50 outputs is refused before anything is allocated for them.
      [Uint8Array.of(...header(1, [[0, 2 ** 50]]), 1), 'BAD_VALUE'],
      [json1(`[${'['.repeat(70)}${']'.repeat(70)}]`), 'BAD_VALUE'], // nested too deep
      [json1(`${'['.repeat(200_000)}${']'.repeat(200_000)}`), 'BAD_VALUE'],
      [new Uint8Array(MAX_RESULTS_BYTES + 1).fill(1), 'TOO_LARGE'],
    ];
    for (const [bytes, code] of bad) {
      assert.throws(
        () => decodeResults(bytes),
        (err) => decodeCode(err) === code,
        `${code}: ${Buffer.from(bytes.subarray(0, 80)).toString('hex')}`,
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
        () => encodeResults({ contract, ranges: one, outputs: outputsOf([output as JsonValue]) }),
        (err) => err instanceof ResultsError && err.code === 'BAD_VALUE',
      );
    }
    for (const outputs of [
      { kind: 'f64', values: Float64Array.of(Number.NaN) },
      { kind: 'bool', values: Uint8Array.of(2) },
      { kind: 'vec', width: 17, values: new Float64Array(17) },
    ] as const) {
      assert.throws(
        () => encodeResults({ contract, ranges: one, outputs }),
        (err) => err instanceof ResultsError && err.code === 'BAD_VALUE',
      );
    }
    assert.throws(() => encodeResults({ contract, ranges: one, outputs: outputsOf([]) }), ResultsError);
    assert.throws(
      () => encodeResults({ contract: new Uint8Array(31), ranges: one, outputs: outputsOf([1]) }),
      ResultsError,
    );
    assert.throws(
      () => encodeResults({ contract, ranges: one, outputs: outputsOf(['x'.repeat(MAX_RESULTS_BYTES)]) }),
      (err) => err instanceof ResultsError && err.code === 'TOO_LARGE',
    );
    assert.throws(
      () =>
        encodeResults({
          contract,
          ranges: [{ start: 0, end: 1 << 17 }],
          outputs: { kind: 'f64', values: new Float64Array(1 << 17) },
        }),
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
      outputs: outputsOf(['a', 'b', 'c']),
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
