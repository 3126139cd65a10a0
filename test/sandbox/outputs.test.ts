import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { JsonValue } from '../../src/sandbox/limits.ts';
import { concatOutputs, outputAt, outputCount, outputList, outputsOf } from '../../src/sandbox/outputs.ts';

const json: fc.Arbitrary<JsonValue> = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)));

describe('output columns', () => {
  it('take their kind from the values alone', () => {
    assert.deepEqual(outputsOf([true, false]), { kind: 'bool', values: Uint8Array.of(1, 0) });
    assert.deepEqual(outputsOf([1.5, -0, 3]), { kind: 'f64', values: Float64Array.of(1.5, 0, 3) });
    assert.deepEqual(
      outputsOf([
        [1, 2],
        [3, -0],
      ]),
      { kind: 'vec', width: 2, values: Float64Array.of(1, 2, 3, 0) },
    );
    // Anything mixed or not simple stays JSON.
    for (const values of [[true, 1], [1, '1'], [[1, 2], [3]], [[]], [new Array(17).fill(0)], [null], [], [[1, true]]]) {
      assert.equal(outputsOf(values as JsonValue[]).kind, 'json', JSON.stringify(values));
    }
    assert.ok(Object.is(outputAt(outputsOf([-0]), 0), 0), '-0 reads back as 0, as through JSON');
  });

  it('read back the values they were made of', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(json),
          fc.array(fc.boolean()),
          fc.array(fc.double({ noNaN: true, noDefaultInfinity: true })),
          fc.array(fc.array(fc.integer(), { minLength: 3, maxLength: 3 })),
        ),
        (values) => {
          const o = outputsOf(values);
          const expected = JSON.parse(JSON.stringify(values));
          assert.equal(outputCount(o), values.length);
          assert.deepEqual(outputList(o), expected);
          for (let k = 0; k < values.length; k++) assert.deepEqual(outputAt(o, k), expected[k]);
        },
      ),
    );
  });

  it('join consecutive parts, typed when every part has the same typed kind', () => {
    const joined = concatOutputs([outputsOf([true]), outputsOf([false, true])]);
    assert.deepEqual(joined, { kind: 'bool', values: Uint8Array.of(1, 0, 1) });
    const vecs = concatOutputs([outputsOf([[1, 2]]), outputsOf([[3, 4]])]);
    assert.deepEqual(vecs, { kind: 'vec', width: 2, values: Float64Array.of(1, 2, 3, 4) });
    // Parts of different kinds or widths: the joined list takes its own kind.
    assert.deepEqual(concatOutputs([outputsOf([[1, 2]]), outputsOf([[3]])]), outputsOf([[1, 2], [3]]));
    assert.deepEqual(concatOutputs([outputsOf([1]), outputsOf([true])]), outputsOf([1, true]));
    assert.deepEqual(concatOutputs([outputsOf(['a']), outputsOf([true])]), outputsOf(['a', true]));
    assert.deepEqual(concatOutputs([outputsOf([1]), outputsOf(['x']), outputsOf([2])]).kind, 'json');
    assert.deepEqual(concatOutputs([outputsOf([1]), outputsOf([2])]), outputsOf([1, 2]));
    assert.deepEqual(concatOutputs([outputsOf([true]), outputsOf([])]), outputsOf([true]));
    assert.deepEqual(concatOutputs([]), outputsOf([]));
  });
});
