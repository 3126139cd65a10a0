import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cidOf, cidToString } from '../../src/content/cid.ts';
import {
  CollectError,
  collectResults,
  MAX_UNION_ROWS,
  outputReader,
  type PaidBatchRef,
  unionOf,
  writeOutputLines,
} from '../../src/market/collect.ts';
import { encodeResults } from '../../src/market/results.ts';
import { loadContract } from '../../src/sandbox/index.ts';
import { type Outputs, outputsOf } from '../../src/sandbox/outputs.ts';

const contract = new Uint8Array(32).fill(7);
const CODE = `const size = 100;
function input(i) { return i * 2; }
function mcu(x) { return x % 3 === 0; }
function union(a, b) { return a.concat(b); }`;

/** Batches stored by CID in memory: the content store's get, as collectResults sees it. */
function store(batches: { start: number; end: number; outputs: Outputs }[]) {
  const blocks = new Map<string, Uint8Array>();
  const refs: PaidBatchRef[] = batches.map((b) => {
    const bytes = encodeResults({ contract, ranges: [{ start: b.start, end: b.end }], outputs: b.outputs });
    const cid = cidToString(cidOf(bytes));
    blocks.set(cid, bytes);
    return { start: b.start, end: b.end, cid };
  });
  return { refs, blocks, fetch: async (cid: string) => blocks.get(cid)! };
}

const bools = (start: number, end: number) =>
  outputsOf(Array.from({ length: end - start }, (_, k) => ((start + k) * 2) % 3 === 0));

describe('collecting paid results', () => {
  test('reads outputs by index across batches fetched in any order, and folds them with union', async () => {
    // Paid out of order, with a gap at 30..40.
    const s = store([
      { start: 40, end: 100, outputs: bools(40, 100) },
      { start: 0, end: 10, outputs: bools(0, 10) },
      { start: 10, end: 30, outputs: bools(10, 30) },
    ]);
    const progress: number[] = [];
    const got = await collectResults(contract, s.refs, s.fetch, (done) => progress.push(done));
    assert.deepEqual(progress, [1, 2, 3]);
    assert.equal(got.mcus, 90);
    assert.deepEqual(
      got.batches.map((b) => b.start),
      [0, 10, 40],
    );
    const at = outputReader(got);
    for (const i of [0, 3, 9, 10, 29, 40, 99, 45, 1]) assert.equal(at(i), (i * 2) % 3 === 0, `index ${i}`);
    for (const i of [30, 39, 100, -1]) assert.equal(at(i), undefined, `index ${i}`);

    const rt = await loadContract(CODE);
    try {
      const union = (await unionOf(got, rt)) as [number, number, boolean][];
      assert.equal(union.length, 90);
      assert.deepEqual(union[0], [0, 0, true]);
      assert.deepEqual(union[10], [10, 20, false]);
      assert.deepEqual(union.at(-1), [99, 198, true]);
    } finally {
      rt.dispose();
    }
  });

  test('holds more outputs than a Map can (2^24): the example contract has 50 million', async () => {
    const BATCH = 1 << 20;
    const batches = Array.from({ length: 17 }, (_, j) => ({
      start: j * BATCH,
      end: (j + 1) * BATCH,
      outputs: { kind: 'bool' as const, values: new Uint8Array(BATCH).fill(j % 2) },
    }));
    const s = store(batches);
    const got = await collectResults(contract, s.refs, s.fetch);
    assert.equal(got.mcus, 17 * BATCH);
    const at = outputReader(got);
    assert.equal(at(0), false);
    assert.equal(at(BATCH), true);
    assert.equal(at(17 * BATCH - 1), false);
    assert.equal(at(17 * BATCH), undefined);
  });

  test('writes every output as a JSON line, lowest index first', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'zi-collect-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const s = store([
      { start: 5, end: 7, outputs: outputsOf([{ a: 1 }, [1, 'x']]) },
      { start: 0, end: 2, outputs: outputsOf([1.5, 2]) },
    ]);
    const got = await collectResults(contract, s.refs, s.fetch);
    const file = join(dir, 'out.jsonl');
    await writeOutputLines(file, got);
    assert.equal(await readFile(file, 'utf8'), '[0,1.5]\n[1,2]\n[5,{"a":1}]\n[6,[1,"x"]]\n');
    await assert.rejects(writeOutputLines(join(dir, 'missing', 'out.jsonl'), got), /ENOENT/);
  });

  test('trusts no batch that does not hash to its CID or holds another range', async () => {
    const s = store([{ start: 0, end: 10, outputs: bools(0, 10) }]);
    const [ref] = s.refs;
    const tampered = new Uint8Array(s.blocks.get(ref!.cid)!);
    tampered[tampered.length - 1]! ^= 1;
    await assert.rejects(
      collectResults(contract, s.refs, async () => tampered),
      (err) => err instanceof CollectError && err.code === 'CID_MISMATCH',
    );
    await assert.rejects(
      collectResults(contract, [{ ...ref!, start: 0, end: 9 }], s.fetch),
      (err) => err instanceof CollectError && err.code === 'WRONG_BATCH',
    );
    await assert.rejects(
      collectResults(new Uint8Array(32), s.refs, s.fetch),
      (err) => err instanceof CollectError && err.code === 'WRONG_BATCH',
    );
  });

  test('refuses to fold a union past MAX_UNION_ROWS instead of running out of memory', async () => {
    const big = { batches: [{ start: 0, end: MAX_UNION_ROWS + 1, outputs: bools(0, 1) }], mcus: MAX_UNION_ROWS + 1 };
    const rt = await loadContract(CODE);
    try {
      await assert.rejects(unionOf(big, rt), (err) => err instanceof CollectError && err.code === 'UNION_TOO_LARGE');
    } finally {
      rt.dispose();
    }
  });
});
