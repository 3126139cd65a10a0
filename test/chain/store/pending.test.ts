import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyId } from '../../../src/chain/encoding.ts';
import { type DeferredOps, type PendingOp, PendingWrites } from '../../../src/chain/store/pending.ts';

const key = (prefix: number, n: number) => new Uint8Array([prefix, n]);
const op = (prefix: number, n: number, v: number): PendingOp => ({ key: key(prefix, n), value: new Uint8Array([v]) });
const pendingValue = (p: PendingWrites, prefix: number, n: number) => p.lookup(keyId(key(prefix, n)))?.value?.[0];

/** A deferred set under prefix 0x74 that counts how often it was laid out. */
function deferred(ops: PendingOp[]): DeferredOps & { expanded: number } {
  const d = {
    prefixes: [0x74],
    count: ops.length,
    expanded: 0,
    expand: () => {
      d.expanded++;
      return ops;
    },
  };
  return d;
}

test('a deferred write is read back as if it had been staged, and laid out once', () => {
  const p = new PendingWrites();
  const d = deferred([op(0x74, 1, 10), op(0x74, 2, 20)]);
  p.defer(d);
  assert.equal(p.size, 2);
  assert.equal(pendingValue(p, 0x74, 2), 20);
  assert.equal(pendingValue(p, 0x74, 1), 10);
  assert.equal(d.expanded, 1);
});

test('reads and writes under other prefixes leave deferred writes unexpanded (the block path never pays for them)', () => {
  const p = new PendingWrites();
  const d = deferred([op(0x74, 1, 10)]);
  p.defer(d);
  p.stage(op(0x73, 1, 1));
  assert.equal(pendingValue(p, 0x73, 1), 1);
  assert.equal(pendingValue(p, 0x73, 9), undefined);
  assert.equal(p.has(keyId(key(0x65, 1))), false);
  assert.equal(d.expanded, 0);
});

test('a write staged after a deferred one of the same key wins, in lookup and in the flushed batch', () => {
  const p = new PendingWrites();
  p.defer(deferred([op(0x74, 1, 10), op(0x74, 2, 20)]));
  p.stage({ key: key(0x74, 1) }); // a disconnect deleting what the connect deferred
  assert.equal(p.lookup(keyId(key(0x74, 1)))?.value, undefined);
  assert.notEqual(p.lookup(keyId(key(0x74, 1))), undefined, 'the delete is pending');
  p.defer(deferred([op(0x74, 2, 21)])); // connected again
  const batch = p.take();
  const byKey = new Map(batch.map((o) => [keyId(o.key), o.value?.[0]]));
  assert.equal(byKey.get(keyId(key(0x74, 1))), undefined);
  assert.equal(byKey.get(keyId(key(0x74, 2))), 21);
  assert.equal(batch.length, 2);
  assert.equal(p.size, 0);
});

test('the flush takes deferred writes with the staged ones, and ranges see them', () => {
  const p = new PendingWrites();
  p.stage(op(0x73, 1, 1));
  p.defer(deferred([op(0x74, 5, 50)]));
  const range = p.inRange({ gte: key(0x74, 0), lt: key(0x74, 9) });
  assert.deepEqual(
    range.map(([, o]) => o.value?.[0]),
    [50],
  );
  assert.equal(p.take().length, 2);
});

test('a batch staged at once reads as staged op by op, over or under what is already pending', () => {
  const batch = () => new Map([op(0x73, 1, 1), op(0x73, 2, 2)].map((o) => [keyId(o.key), o] as [string, PendingOp]));
  const empty = new PendingWrites();
  empty.stageAll(batch());
  empty.stage(op(0x73, 2, 22));
  assert.deepEqual([pendingValue(empty, 0x73, 1), pendingValue(empty, 0x73, 2)], [1, 22]);

  const busy = new PendingWrites();
  busy.stage(op(0x73, 1, 9));
  busy.stage(op(0x73, 3, 3));
  busy.defer(deferred([op(0x74, 1, 10)]));
  busy.stageAll(batch());
  assert.deepEqual([pendingValue(busy, 0x73, 1), pendingValue(busy, 0x73, 2), pendingValue(busy, 0x73, 3)], [1, 2, 3]);
  assert.equal(pendingValue(busy, 0x74, 1), 10);
  assert.equal(busy.take().length, 4);
});
