import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { checkContractCode, loadContract, rangeRows } from '../../src/sandbox/index.ts';

const examples = new URL('../../examples/', import.meta.url);
/** A fixed seed: which indices are sampled is sampling.ts's business, tested there. */
const SEED = new Uint8Array(32).fill(5);
const read = (name: string) => readFileSync(new URL(name, examples), 'utf8');

/** The example's top-level names, compiled as plain JS in this process. */
function plain<T extends unknown[]>(source: string, names: string[]): T {
  return new Function(`"use strict";\n${source}\nreturn [${names.join(', ')}];`)() as T;
}

describe('examples/mandelbrot.js', () => {
  const source = read('mandelbrot.js');
  type Point = [number, number];
  const [size, WIDTH, HEIGHT, SCALE, input, mcu] = plain<
    [number, number, number, number, (i: number) => Point, (c: Point) => boolean]
  >(source, ['size', 'WIDTH', 'HEIGHT', 'SCALE', 'input', 'mcu']);

  test("is admitted; the paper's validate is the default, so only union is declared besides the required names", () => {
    const info = checkContractCode(source);
    assert.deepEqual([...info.declares].sort(), ['input', 'mcu', 'size', 'union']);
  });

  test('covers real [-2, 2) × imaginary [-1, 1) on a WIDTH × HEIGHT grid, row by row', () => {
    assert.equal(size, WIDTH * HEIGHT);
    assert.equal(WIDTH, 2 * HEIGHT);
    assert.deepEqual(input(0), [-2, -1]);
    assert.deepEqual(input(WIDTH - 1), [2 - 1 / SCALE, -1]);
    assert.deepEqual(input(WIDTH), [-2, -1 + 1 / SCALE]);
    assert.deepEqual(input(size - 1), [2 - 1 / SCALE, 1 - 1 / SCALE]);
    // Grid values print as short decimals, the same on every machine.
    const [re, im] = input((HEIGHT / 2) * WIDTH + 1234);
    assert.ok(String(re).length <= 8 && im === 0, `${re} ${im}`);
  });

  test('mcu is the paper: members stay bounded, others escape past |z| = 1000', () => {
    assert.equal(mcu([0, 0]), true);
    assert.equal(mcu([-1, 0]), true);
    assert.equal(mcu([-2, 0]), true);
    assert.equal(mcu([0.25, 0]), true);
    assert.equal(mcu([0.26, 0]), false);
    assert.equal(mcu([1, 1]), false);
    assert.equal(mcu([-0.75, 0.1]), false);
  });

  test('gives the same inputs and outputs in the sandbox as plain JS', async () => {
    const rt = await loadContract(source);
    try {
      assert.equal(rt.size, size);
      // Stretches across the set at im = 0.1 and im = 0.5, and the bottom row
      // (im = -1), which holds no member.
      for (const from of [(HEIGHT / 2 + SCALE / 10) * WIDTH + WIDTH / 8, ((HEIGHT * 3) / 4) * WIDTH + WIDTH / 4, 0]) {
        const count = 3000;
        const range = await rt.runRange(from, count);
        let members = 0;
        for (let k = 0; k < count; k++) {
          const c = input(from + k);
          assert.deepEqual(range.inputs[k], c);
          assert.equal(range.outputs[k], mcu(c), `index ${from + k}`);
          if (range.outputs[k]) members++;
        }
        if (from === 0) assert.equal(members, 0);
        else assert.ok(members > 0 && members < count, `${members} members`);
      }
      assert.deepEqual(await rt.input(12345), input(12345));
      assert.equal(await rt.mcu([-0.5, 0.5]), mcu([-0.5, 0.5]));
    } finally {
      rt.dispose();
    }
  });

  test('validate accepts honest results and catches a wrong answer (every row sampled at 1000 per mille)', async () => {
    const rt = await loadContract(source);
    try {
      const from = (HEIGHT / 2) * WIDTH + WIDTH / 4;
      const rows = rangeRows(await rt.runRange(from, 1000));
      assert.equal(await rt.validate(rows, SEED, 1000), true);
      const sampled = 0;
      const flipped = rows.map((r) => [...r]) as typeof rows;
      flipped[sampled][2] = !flipped[sampled][2];
      assert.equal(await rt.validate(flipped, SEED, 1000), false);
      const moved = rows.map((r) => [...r]) as typeof rows;
      moved[sampled][1] = [0, 0];
      moved[sampled][2] = true;
      assert.equal(await rt.validate(moved, SEED, 1000), false);
      assert.deepEqual(await rt.union([[0, [-2, -1], false]], [[1, [-1.9996, -1], false]]), [
        [0, [-2, -1], false],
        [1, [-1.9996, -1], false],
      ]);
    } finally {
      rt.dispose();
    }
  });
});

describe('examples/subset-sum.js', () => {
  const source = read('subset-sum.js');
  const [size, WEIGHTS, TARGET, LOW_BITS, mcu] = plain<[number, number[], number, number, (i: number) => number[]]>(
    source,
    ['size', 'WEIGHTS', 'TARGET', 'LOW_BITS', 'mcu'],
  );
  const weightOf = (mask: number) => WEIGHTS.reduce((s, w, b) => (Math.floor(mask / 2 ** b) % 2 === 1 ? s + w : s), 0);

  test('is admitted and splits 2^32 subsets into 2^16 MCUs', () => {
    checkContractCode(source);
    assert.equal(WEIGHTS.length, 32);
    assert.equal(size, 2 ** (32 - LOW_BITS));
  });

  test('every subset the sandbox finds sums to the target, and plain JS finds the same', async () => {
    const rt = await loadContract(source);
    try {
      const range = await rt.runRange(0, 600);
      let found = 0;
      for (let i = 0; i < 600; i++) {
        const masks = range.outputs[i] as number[];
        assert.deepEqual(masks, mcu(i));
        for (const mask of masks) {
          assert.equal(weightOf(mask), TARGET);
          assert.equal(Math.floor(mask / 2 ** LOW_BITS), i);
        }
        found += masks.length;
      }
      assert.ok(found > 0, 'the first 600 MCUs hold solutions');
    } finally {
      rt.dispose();
    }
  });

  test('validate checks every claimed subset and redoes a seeded sample of MCUs', async () => {
    const rt = await loadContract(source);
    try {
      const rows = rangeRows(await rt.runRange(0, 300));
      assert.equal(await rt.validate(rows, SEED, 1000), true);
      const withAnswers = rows.findIndex(([, , out]) => (out as number[]).length > 0);
      assert.ok(withAnswers >= 0);
      // A claimed subset that does not sum to the target, wherever it is: every claim is checked.
      const forged = rows.map((r) => [...r]) as typeof rows;
      const masks = forged[withAnswers][2] as number[];
      forged[withAnswers][2] = [...masks.slice(0, -1), masks[masks.length - 1] + 1];
      assert.equal(await rt.validate(forged, SEED, 10), false);
      // Skipped work ("nothing found") is caught where it is sampled.
      const lazy = rows.map((r) => [...r]) as typeof rows;
      const sampled = rows.findIndex(([, , out]) => (out as number[]).length > 0);
      if (sampled >= 0) {
        lazy[sampled][2] = [];
        assert.equal(await rt.validate(lazy, SEED, 1000), false);
      }
    } finally {
      rt.dispose();
    }
  });
});
