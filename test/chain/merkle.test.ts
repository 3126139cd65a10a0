import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { toHex } from '../../src/chain/encoding.ts';
import { type Hash, sha256 } from '../../src/chain/hash.ts';
import { merkleRoot } from '../../src/chain/merkle.ts';

const id = (n: number): Hash => sha256(new Uint8Array([n >> 8, n & 0xff]));
const ids = (n: number): Hash[] => Array.from({ length: n }, (_, i) => id(i));
const root = (list: readonly Hash[]) => toHex(merkleRoot(list));

const idArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const listArb = fc.array(idArb, { maxLength: 12 });

test('the root of no transactions is the zero hash', () => {
  assert.deepEqual(merkleRoot([]), new Uint8Array(32));
});

test('the root of one transaction is not the txid itself', () => {
  const a = id(1);
  assert.equal(merkleRoot([a]).length, 32);
  assert.notEqual(root([a]), toHex(a));
});

test('different transaction lists give different roots', () => {
  fc.assert(
    fc.property(listArb, listArb, (a, b) => {
      fc.pre(a.map(toHex).join() !== b.map(toHex).join());
      assert.notEqual(root(a), root(b));
    }),
    { numRuns: 300 },
  );
  // Every list of the first 40 ids, each prefix length: all distinct.
  const seen = new Set<string>();
  for (let n = 0; n <= 40; n++) seen.add(root(ids(n)));
  assert.equal(seen.size, 41);
});

test('order matters: swapping two transactions changes the root', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(idArb, { minLength: 2, maxLength: 12, selector: toHex }),
      fc.nat(),
      fc.nat(),
      (l, i, j) => {
        const a = i % l.length;
        const b = j % l.length;
        fc.pre(a !== b);
        const swapped = [...l];
        [swapped[a], swapped[b]] = [swapped[b]!, swapped[a]!];
        assert.notEqual(root(swapped), root(l));
      },
    ),
  );
});

test("duplicating the odd last leaf (or a trailing pair) gives a different root (Bitcoin's CVE-2012-2459)", () => {
  const [a, b, c, d, e, f] = ids(6) as [Hash, Hash, Hash, Hash, Hash, Hash];
  assert.notEqual(root([a, b, c]), root([a, b, c, c]));
  assert.notEqual(root([a, b, c, d, e]), root([a, b, c, d, e, e]));
  assert.notEqual(root([a, b, c, d, e, f]), root([a, b, c, d, e, f, e, f]));
  for (let n = 1; n <= 33; n += 2) {
    const l = ids(n);
    assert.notEqual(root(l), root([...l, l[n - 1]!]), `n = ${n}`);
  }
});

test('an inner node cannot pose as a transaction: [root(a, b)] differs from [a, b]', () => {
  const [a, b] = ids(2) as [Hash, Hash];
  assert.notEqual(root([merkleRoot([a, b])]), root([a, b]));
  // Nor can the two children's concatenated leaf hashes be passed off as one id.
  assert.notEqual(root([sha256(a, b)]), root([a, b]));
});

test('the root is a pure function of the ids', () => {
  const l = ids(7);
  assert.equal(root(l), root(l.map((h) => h.slice())));
  assert.deepEqual(l, ids(7), 'computing a root leaves the ids untouched');
});

/** DESIGN.md §7 written out one hash at a time: what the batched levels of merkle.ts must compute. */
function definitionRoot(txids: readonly Hash[], voteIds: readonly Hash[]): Hash {
  if (txids.length + voteIds.length === 0) return new Uint8Array(32);
  let level = [
    ...txids.map((t) => sha256(new Uint8Array([0x00]), t)),
    ...voteIds.map((v) => sha256(new Uint8Array([0x02]), v)),
  ];
  while (level.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? sha256(new Uint8Array([0x01]), level[i]!, level[i + 1]!) : level[i]!);
    }
    level = next;
  }
  return level[0]!;
}

test('the root is the definition, one hash at a time, for every count of leaves up to 70 and with votes', () => {
  for (let n = 0; n <= 70; n++) {
    const l = ids(n);
    assert.equal(root(l), toHex(definitionRoot(l, [])), `n = ${n}`);
    const votes = ids(n % 5).map((v) => sha256(v));
    assert.equal(toHex(merkleRoot(l, votes)), toHex(definitionRoot(l, votes)), `n = ${n} with ${votes.length} votes`);
  }
});
