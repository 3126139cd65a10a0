import assert from 'node:assert/strict';
import { test } from 'node:test';
import { claim, layoutJob } from '../../src/chain/sig-jobs.ts';

const item = { sig: new Uint8Array(64), msg: new Uint8Array(32), pub: new Uint8Array(33) };

test('claims cover a job once, in order, in chunks that shrink to one signature at the end', () => {
  for (const n of [1, 7, 16, 17, 200, 2000]) {
    const job = layoutJob(
      1,
      Array.from({ length: n }, () => item),
      new Uint8Array(32),
    )!;
    const sizes: number[] = [];
    let next = 0;
    for (let c = claim(job); c !== undefined; c = claim(job)) {
      assert.equal(c.from, next, `n = ${n}`);
      assert.ok(c.to > c.from && c.to - c.from <= 16);
      sizes.push(c.to - c.from);
      next = c.to;
    }
    assert.equal(next, n);
    assert.equal(claim(job), undefined);
    // The last claims are single signatures, so no thread is left with a whole chunk while the others wait.
    assert.deepEqual(sizes.slice(-Math.min(n, 8)), Array(Math.min(n, 8)).fill(1), `n = ${n}`);
    if (n >= 200) assert.equal(sizes[0], 16);
  }
});
