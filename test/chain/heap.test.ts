import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Heap } from '../../src/chain/heap.ts';

test('a heap gives back what it holds in order, ties first in first out when the order says so (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 8 }), { maxLength: 40 }), (rounds) => {
      // Pushes and pops interleaved: each round pushes its values, then pops one.
      const heap = new Heap<{ v: number; seq: number }>((a, b) => (a.v !== b.v ? a.v > b.v : a.seq < b.seq));
      const model: { v: number; seq: number }[] = [];
      let seq = 0;
      const byOrder = (a: { v: number; seq: number }, b: { v: number; seq: number }) => b.v - a.v || a.seq - b.seq;
      for (const values of rounds) {
        for (const v of values) {
          const item = { v, seq: seq++ };
          heap.push(item);
          model.push(item);
        }
        model.sort(byOrder);
        assert.deepEqual(heap.pop(), model.shift());
        assert.equal(heap.size, model.length);
      }
      model.sort(byOrder);
      const rest = [];
      for (let x = heap.pop(); x !== undefined; x = heap.pop()) rest.push(x);
      assert.deepEqual(rest, model);
    }),
  );
});
