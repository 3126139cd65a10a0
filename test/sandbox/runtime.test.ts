import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { CONTRACT_ECMA_VERSION } from '../../src/sandbox/code.ts';
import type { SandboxErrorCode } from '../../src/sandbox/errors.ts';
import {
  type ContractRuntime,
  checkContractCode,
  loadContract,
  MAX_CONTRACT_CODE_BYTES,
  rangeRows,
  resolveLimits,
  SANDBOX_POLICY,
  SandboxError,
  SandboxPool,
  SandboxProcesses,
} from '../../src/sandbox/index.ts';
import { outputAt, outputList, outputsOf } from '../../src/sandbox/outputs.ts';
import { sampleIndices } from '../../src/sandbox/sampling.ts';

const COUNTER = 'const size = 1000;\nfunction input(i) { return i; }\n';
/** A fixed seed and the default rate: these tests are about the runtime, not the draw. */
const SEED = new Uint8Array(32).fill(3);
const RATE = 10;

/** Asserts that `fn` rejects with a SandboxError of `code`, and returns it. */
async function refused(fn: () => Promise<unknown> | unknown, code: SandboxErrorCode): Promise<SandboxError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof SandboxError, `expected SandboxError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected SandboxError ${code}, got a result`);
}

/** Loads `mcuBody` as the body of mcu(x) and runs `use` on the runtime, always disposing it. */
async function withMcu<T>(
  mcuSource: string,
  use: (rt: ContractRuntime) => Promise<T>,
  // Generous: on a loaded machine a call's wall time stretches, and only
  // the tests about time limits should ever hit one.
  limits = { timeoutMs: 3000, memoryLimitMiB: 32 },
): Promise<T> {
  const rt = await loadContract(`${COUNTER}${mcuSource}\n`, limits);
  try {
    return await use(rt);
  } finally {
    rt.dispose();
  }
}

describe('checkContractCode (admission)', () => {
  test('accepts a minimal contract and reports what it declares', () => {
    const info = checkContractCode('function input(i) { return i; }\nconst mcu = (x) => x * 2;\nlet size = 10;');
    assert.deepEqual([...info.declares].sort(), ['input', 'mcu', 'size']);
    assert.ok(info.bytes > 0);
  });

  test('finds declarations in var, let and destructuring patterns', () => {
    const info = checkContractCode(
      'var { input, deep: [mcu] } = { input: (i) => i, deep: [(x) => x] };\nvar validate;',
    );
    assert.deepEqual([...info.declares].sort(), ['input', 'mcu', 'validate']);
  });

  test('refuses code over 64 KiB counted in UTF-8 bytes, not characters', async () => {
    const base = 'function input(i) { return i; }\nfunction mcu(x) { return x; }\n';
    const fits = `${base}//${'a'.repeat(MAX_CONTRACT_CODE_BYTES - base.length - 2)}`;
    assert.equal(Buffer.byteLength(fits), MAX_CONTRACT_CODE_BYTES);
    checkContractCode(fits);
    // 'é' is one UTF-16 unit but two UTF-8 bytes: under the limit in
    // characters, over it in bytes.
    const multibyte = `${base}//${'é'.repeat(MAX_CONTRACT_CODE_BYTES / 2)}`;
    assert.ok(multibyte.length < MAX_CONTRACT_CODE_BYTES);
    const err = await refused(() => checkContractCode(multibyte), 'CODE_TOO_LARGE');
    assert.equal(err.meta.limit, MAX_CONTRACT_CODE_BYTES);
    await refused(() => checkContractCode(`${fits} `), 'CODE_TOO_LARGE');
    await refused(() => loadContract(`${fits}\n`), 'CODE_TOO_LARGE');
  });

  test('a syntax error is refused with its line and column', async () => {
    const err = await refused(
      () => checkContractCode('function input(i) { return i; }\nfunction mcu(x) {\n  return x +;\n}\n'),
      'COMPILE_ERROR',
    );
    assert.equal(err.meta.line, 3);
    assert.equal(err.meta.column, 13);
    assert.match(err.message, /line 3/);
  });

  test('contract code is strict: sloppy-only syntax does not compile', async () => {
    const err = await refused(
      () => checkContractCode('function input(i) { with (Math) return i; }\nfunction mcu(x) { return x; }'),
      'COMPILE_ERROR',
    );
    assert.equal(err.meta.line, 1);
    await refused(() => checkContractCode('const input = 010;\nfunction mcu(x) { return x; }'), 'COMPILE_ERROR');
  });

  test('modules, top-level return and hashbangs are not plain scripts', async () => {
    const tail = '\nfunction input(i) { return i; }\nfunction mcu(x) { return x; }';
    await refused(() => checkContractCode(`export const size = 1;${tail}`), 'COMPILE_ERROR');
    await refused(() => checkContractCode(`import x from 'y';${tail}`), 'COMPILE_ERROR');
    await refused(() => checkContractCode(`return 1;${tail}`), 'COMPILE_ERROR');
    await refused(() => checkContractCode(`#!/usr/bin/env node${tail}`), 'COMPILE_ERROR');
  });

  test('a missing input or mcu is refused by name', async () => {
    const noMcu = await refused(() => checkContractCode('function input(i) { return i; }'), 'MISSING_EXPORT');
    assert.equal(noMcu.meta.name, 'mcu');
    // Declared only inside a block is not a top-level declaration.
    const blocked = await refused(
      () => checkContractCode('function mcu(x) { return x; }\n{ function input(i) { return i; } }'),
      'MISSING_EXPORT',
    );
    assert.equal(blocked.meta.name, 'input');
  });

  test('async, generator or class mcu is refused before it costs anyone', async () => {
    const input = 'function input(i) { return i; }\n';
    const err = await refused(() => checkContractCode(`${input}async function mcu(x) { return x; }`), 'BAD_EXPORT');
    assert.equal(err.meta.name, 'mcu');
    assert.equal(err.meta.line, 2);
    await refused(() => checkContractCode(`${input}function* mcu(x) { yield x; }`), 'BAD_EXPORT');
    await refused(() => checkContractCode(`${input}class mcu {}`), 'BAD_EXPORT');
  });

  test('redeclaring undefined, NaN or Infinity lexically is refused (V8 would refuse the script)', async () => {
    const tail = '\nfunction input(i) { return i; }\nfunction mcu(x) { return x; }';
    const err = await refused(() => checkContractCode(`let undefined = 1;${tail}`), 'COMPILE_ERROR');
    assert.equal(err.meta.line, 1);
    await refused(() => checkContractCode(`function NaN() {}${tail}`), 'COMPILE_ERROR');
  });

  test('a lone surrogate has no UTF-8 form and is refused', async () => {
    await refused(
      () => checkContractCode("const s = '\uD800';\nfunction input(i) { return i; }\nfunction mcu(x) { return x; }"),
      'COMPILE_ERROR',
    );
  });

  test('deep nesting is a compile error, not a host crash', async () => {
    const deep = `const x = ${'['.repeat(30_000)}${']'.repeat(30_000)};\nfunction input(i) { return i; }\nfunction mcu(x) { return x; }`;
    await refused(() => checkContractCode(deep), 'COMPILE_ERROR');
  });

  test('the admitted language level is pinned', () => {
    assert.equal(CONTRACT_ECMA_VERSION, 2025);
  });
});

describe('ContractRuntime', () => {
  test('runs size, input, mcu, runRange and the default union and validate', async () => {
    await withMcu('function mcu(x) { return { n: x, square: x * x }; }', async (rt) => {
      assert.equal(rt.size, 1000);
      assert.equal(rt.hasUnion, false);
      assert.equal(rt.hasValidate, false);
      assert.equal(await rt.input(7), 7);
      assert.deepEqual(await rt.mcu(12), { n: 12, square: 144 });
      const range = await rt.runRange(95, 10);
      assert.equal(range.from, 95);
      assert.deepEqual(range.inputs, [95, 96, 97, 98, 99, 100, 101, 102, 103, 104]);
      assert.deepEqual(range.outputs[5], { n: 100, square: 10000 });
      const rows = rangeRows(range);
      assert.deepEqual(rows[0], [95, 95, { n: 95, square: 9025 }]);
      assert.equal(await rt.validate(rows, SEED, RATE), true);
      assert.deepEqual(await rt.union([1, 2], [3]), [1, 2, 3]);
      await refused(() => rt.union({ a: 1 }, [3]), 'BAD_ARGUMENT');
    });
  });

  test('the default validate recomputes the seeded sample, input and output', async () => {
    await withMcu('function mcu(x) { return x * 3; }', async (rt) => {
      const rows = rangeRows(await rt.runRange(0, 250));
      assert.equal(await rt.validate(rows, SEED, RATE), true);
      // 250 rows at 10 per mille: 3 sampled indices, the ones sampling.ts draws from the seed.
      const picked = sampleIndices(SEED, 0, 250, RATE);
      assert.equal(picked.length, 3);
      const unsampledIndex = [...Array(250).keys()].find((i) => !picked.includes(i))!;
      const unsampled = rows.map((r) => [...r]) as typeof rows;
      unsampled[unsampledIndex]![2] = -1;
      assert.equal(await rt.validate(unsampled, SEED, RATE), true, 'a sample, not every row');
      const wrongOutput = rows.map((r) => [...r]) as typeof rows;
      wrongOutput[picked[1]!]![2] = -1;
      assert.equal(await rt.validate(wrongOutput, SEED, RATE), false);
      // At 1000 per mille every row is recomputed.
      assert.equal(await rt.validate(unsampled, SEED, 1000), false);
      // The right answer to the wrong question is caught too.
      const wrongInput = rows.map((r) => [...r]) as typeof rows;
      const j = picked[0]!;
      wrongInput[j] = [j, j + 1, 3 * (j + 1)];
      assert.equal(await rt.validate(wrongInput, SEED, RATE), false);
      // The paper's fixed sample (index % 100 == 0) is no defence: faking the
      // rest is caught under almost every seed.
      const faked = rows.map(([i, x, y]) => [i, x, i % 100 === 0 ? y : 0]) as typeof rows;
      let caught = 0;
      for (let s = 0; s < 20; s++) {
        if (!(await rt.validate(faked, new Uint8Array(32).fill(s + 10), RATE))) caught++;
      }
      assert.equal(caught, 20);
      assert.equal(await rt.validate([[0, 0] as never], SEED, RATE), false);
      assert.equal(await rt.validate([[-100, -100, -300]], SEED, RATE), false);
      assert.equal(await rt.validate([['0', 0, 0] as never], SEED, RATE), false);
      // Rows that are not one contiguous batch are refused.
      assert.equal(
        await rt.validate(
          [
            [0, 0, 0],
            [2, 2, 6],
          ],
          SEED,
          1000,
        ),
        false,
      );
      // Mixed columns travel as JSON text; the sampled row is still checked.
      assert.equal(
        await rt.validate(
          [
            [0, 0, 0],
            [1, 'one', { x: 1 }],
          ] as never,
          SEED,
          1,
        ),
        sampleIndices(SEED, 0, 2, 1)[0] === 0,
      );
      assert.equal(
        await rt.validate(
          [
            [0, 'zero', 0],
            [1, 1, 3],
          ] as never,
          SEED,
          1000,
        ),
        false,
      );
      assert.equal(await rt.validate([], SEED, RATE), true);
      await refused(() => rt.validate(rows, new Uint8Array(31), RATE), 'BAD_ARGUMENT');
      await refused(() => rt.validate(rows, SEED, 0), 'BAD_ARGUMENT');
    });
  });

  test('a declared validate gets the seed, and zi.sample draws the same indices as the host', async () => {
    const source = `${COUNTER}function mcu(x) { return x + 1; }
function validate(rows, seed) {
  return zi.sample(rows, seed).every(([i, x, y]) => y === mcu(x)) && zi.sampleIndices(seed, 5, 100).length === 1;
}`;
    const rt = await loadContract(source);
    try {
      const rows = rangeRows(await rt.runRange(0, 500));
      assert.equal(await rt.validate(rows, SEED, RATE), true);
      const bad = rows.map((r) => [...r]) as typeof rows;
      for (const i of sampleIndices(SEED, 0, 500, RATE)) bad[i]![2] = 0;
      assert.equal(await rt.validate(bad, SEED, RATE), false);
      // The indices seen inside equal the host's.
      const probe = await loadContract(`${COUNTER}function mcu(x) { return x; }
function validate(rows, seed) { throw new Error(JSON.stringify(zi.sampleIndices(seed, 7, 10000, 3))); }`);
      try {
        const err = await refused(() => probe.validate([[0, 0, 0]], SEED, RATE), 'THROWN');
        assert.ok(err.message.includes(JSON.stringify(sampleIndices(SEED, 7, 10000, 3))), err.message);
      } finally {
        probe.dispose();
      }
    } finally {
      rt.dispose();
    }
  });

  test("the contract's own union and validate are used, and validate must answer a boolean", async () => {
    const source = `${COUNTER}function mcu(x) { return [x]; }
function union(a, b) { return { merged: a.concat(b) }; }
function validate(rs) { return rs.length === 2 ? true : rs.length === 3 ? 'yes' : false; }`;
    const rt = await loadContract(source);
    try {
      assert.equal(rt.hasUnion, true);
      assert.equal(rt.hasValidate, true);
      assert.deepEqual(await rt.union([1], [2]), { merged: [1, 2] });
      assert.equal(await rt.validate([[0, 0, [0]]], SEED, RATE), false);
      assert.equal(await rt.validate(rangeRows(await rt.runRange(0, 2)), SEED, RATE), true);
      const three = rangeRows(await rt.runRange(0, 3));
      await refused(() => rt.validate(three, SEED, RATE), 'BAD_RESULT');
    } finally {
      rt.dispose();
    }
  });

  test('every call starts from a fresh top level: no state leaks between calls', async () => {
    const source = `const size = null;
let calls = 0;
function input(i) { return i; }
function mcu(x) {
  calls++;
  globalThis.seen = (globalThis.seen ?? 0) + 1;
  Array.prototype.extra = calls;
  return [calls, globalThis.seen, [].extra];
}`;
    const rt = await loadContract(source);
    try {
      assert.deepEqual(await rt.mcu(0), [1, 1, 1]);
      assert.deepEqual(await rt.mcu(0), [1, 1, 1]);
      const range = await rt.runRange(0, 3);
      assert.deepEqual(range.outputs, [
        [1, 1, 1],
        [2, 2, 2],
        [3, 3, 3],
      ]);
      assert.deepEqual((await rt.runRange(0, 1)).outputs, [[1, 1, 1]]);
      assert.equal(rt.size, null);
    } finally {
      rt.dispose();
    }
  });

  test('index and range arguments are checked against size', async () => {
    await withMcu('function mcu(x) { return x; }', async (rt) => {
      await refused(() => rt.input(1000), 'BAD_ARGUMENT');
      await refused(() => rt.input(-1), 'BAD_ARGUMENT');
      await refused(() => rt.input(1.5), 'BAD_ARGUMENT');
      await refused(() => rt.runRange(990, 11), 'BAD_ARGUMENT');
      await refused(() => rt.runRange(0, -1), 'BAD_ARGUMENT');
      assert.deepEqual(await rt.runRange(1000, 0), { from: 1000, inputs: [], outputs: [] });
      assert.deepEqual((await rt.runRange(990, 10)).inputs.at(-1), 999);
      const cyclic: unknown[] = [];
      cyclic.push(cyclic);
      await refused(() => rt.mcu(cyclic as never), 'BAD_ARGUMENT');
      await refused(() => rt.mcu(undefined as never), 'BAD_ARGUMENT');
    });
  });

  test('limits outside the node policy are refused', async () => {
    assert.deepEqual(resolveLimits(), {
      memoryLimitMiB: SANDBOX_POLICY.memoryLimitMiB.default,
      timeoutMs: SANDBOX_POLICY.timeoutMs.default,
      maxResultBytes: SANDBOX_POLICY.maxResultBytes.default,
    });
    await refused(() => resolveLimits({ memoryLimitMiB: 4 }), 'BAD_ARGUMENT');
    await refused(() => resolveLimits({ memoryLimitMiB: 4096 }), 'BAD_ARGUMENT');
    await refused(() => resolveLimits({ timeoutMs: 0.5 }), 'BAD_ARGUMENT');
    await refused(() => loadContract(`${COUNTER}function mcu(x) { return x; }`, { timeoutMs: -1 }), 'BAD_ARGUMENT');
  });

  test('declarations of the wrong type are refused at load', async () => {
    const fn = 'function input(i) { return i; }\nfunction mcu(x) { return x; }\n';
    const size = await refused(() => loadContract(`${fn}const size = -1;`), 'BAD_EXPORT');
    assert.equal(size.meta.name, 'size');
    await refused(() => loadContract(`${fn}const size = 2.5;`), 'BAD_EXPORT');
    await refused(() => loadContract(`${fn}const size = '10';`), 'BAD_EXPORT');
    const mcu = await refused(() => loadContract('function input(i) { return i; }\nconst mcu = 5;'), 'BAD_EXPORT');
    assert.equal(mcu.meta.name, 'mcu');
    await refused(() => loadContract(`${fn}const validate = true;`), 'BAD_EXPORT');
    // No size at all: unbounded.
    const rt = await loadContract(fn);
    assert.equal(rt.size, null);
    rt.dispose();
  });

  test('a top-level exception is THROWN with its line', async () => {
    const err = await refused(
      () => loadContract(`${COUNTER}function mcu(x) { return x; }\nconst table = JSON.parse('{oops');\n`),
      'THROWN',
    );
    assert.equal(err.meta.line, 4);
    assert.equal(err.meta.name, 'SyntaxError');
  });

  test('results keep their JSON types through every column encoding', async () => {
    // Columns travel as typed arrays while their values allow it and switch
    // to JSON text at the first value that does not: every switch point.
    const source = `const size = 40;
function input(i) { return i < 10 ? i * 0.5 : i < 20 ? [i, -i] : i < 30 ? (i % 2 === 0) : 'i' + i; }
function mcu(x) {
  if (typeof x === 'number') return x === 0 ? -0 : x * 1e300;
  if (Array.isArray(x)) return x[0] === 15 ? [1] : x;
  if (typeof x === 'boolean') return x ? true : 0;
  return { s: x, n: null };
}`;
    const rt = await loadContract(source);
    try {
      const all = await rt.runRange(0, 40);
      const plain = new Function(`${source}\nreturn [input, mcu];`)() as [
        (i: number) => unknown,
        (x: unknown) => unknown,
      ];
      for (let i = 0; i < 40; i++) {
        const x = plain[0](i);
        assert.deepEqual(all.inputs[i], x, `input ${i}`);
        assert.deepEqual(all.outputs[i], JSON.parse(JSON.stringify(plain[1](x))), `output ${i}`);
      }
      assert.ok(Object.is(all.outputs[0], 0), '-0 comes back as 0, as through JSON');
      // The same values in sub-ranges that start in each region.
      for (const [from, count] of [
        [10, 10],
        [12, 5],
        [20, 10],
        [25, 10],
        [35, 5],
      ]) {
        const part = await rt.runRange(from, count);
        assert.deepEqual(part.inputs, all.inputs.slice(from, from + count));
        assert.deepEqual(part.outputs, all.outputs.slice(from, from + count));
        // What a Solver sends: the outputs alone, as one column.
        const column = await rt.outputRange(from, count);
        assert.deepEqual(outputList(column), part.outputs);
        assert.deepEqual(column, outputsOf(part.outputs));
      }
      // Typed while the outputs allow it, and -0 is 0 there too.
      const numbers = await rt.outputRange(0, 10);
      assert.equal(numbers.kind, 'f64');
      assert.ok(Object.is(outputAt(numbers, 0), 0));
      assert.equal((await rt.outputRange(10, 5)).kind, 'vec');
      assert.equal((await rt.outputRange(20, 10)).kind, 'json');
    } finally {
      rt.dispose();
    }
  });

  test('any JSON value an mcu returns comes back equal to its JSON round trip', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.jsonValue({ maxDepth: 4 }), { minLength: 1, maxLength: 30 }), async (values) => {
        const table = JSON.stringify(JSON.stringify(values));
        const source = `const T = JSON.parse(${table});\nconst size = T.length;\nfunction input(i) { return i; }\nfunction mcu(i) { return T[i]; }`;
        const rt = await loadContract(source);
        try {
          const range = await rt.runRange(0, values.length);
          assert.deepEqual(range.outputs, JSON.parse(JSON.stringify(values)));
          assert.deepEqual(outputList(await rt.outputRange(0, values.length)), range.outputs);
        } finally {
          rt.dispose();
        }
      }),
      { numRuns: 25 },
    );
  });
});

describe('hostile contract code', () => {
  test('an infinite loop times out, and the runtime keeps working', async () => {
    const source = `${COUNTER}function mcu(x) { if (x === 13) { while (true) {} } return x + 1; }`;
    const rt = await loadContract(source, { timeoutMs: 200 });
    try {
      const err = await refused(() => rt.mcu(13), 'TIMEOUT');
      assert.equal(err.meta.limit, 200);
      await refused(() => rt.runRange(10, 5), 'TIMEOUT');
      assert.equal(await rt.mcu(1), 2);
    } finally {
      rt.dispose();
    }
  });

  test('an infinite loop at top level times out at load', async () => {
    await refused(
      () => loadContract(`${COUNTER}function mcu(x) { return x; }\nfor (;;) {}`, { timeoutMs: 200 }),
      'TIMEOUT',
    );
  });

  test('a memory bomb kills only its own isolate; the runtime rebuilds it and others are unaffected', async () => {
    const bystander = await loadContract(`${COUNTER}function mcu(x) { return x * 2; }`);
    const source = `${COUNTER}function mcu(x) {
  if (x !== 666) return x;
  const hoard = [];
  for (;;) hoard.push(new Array(100000).fill(x + 0.5));
}`;
    const rt = await loadContract(source, { memoryLimitMiB: 16, timeoutMs: 10_000 });
    try {
      const err = await refused(() => rt.mcu(666), 'MEMORY_LIMIT');
      assert.equal(err.meta.limit, 16);
      assert.equal(rt.restarts, 1);
      assert.equal(await rt.mcu(5), 5);
      await refused(() => rt.runRange(660, 10), 'MEMORY_LIMIT');
      assert.deepEqual((await rt.runRange(0, 3)).outputs, [0, 1, 2]);
      assert.equal(rt.restarts, 2);
      assert.equal(await bystander.mcu(21), 42);
    } finally {
      rt.dispose();
      bystander.dispose();
    }
  });

  test('deep recursion is a STACK_OVERFLOW with the line', async () => {
    await withMcu('function mcu(x) {\n  return mcu(x + 1) + 1;\n}', async (rt) => {
      const err = await refused(() => rt.mcu(0), 'STACK_OVERFLOW');
      assert.equal(err.meta.line, 4);
      const inRange = await refused(() => rt.runRange(3, 2), 'STACK_OVERFLOW');
      assert.equal(inRange.meta.index, 3);
    });
  });

  test('escape attempts find no host objects', async () => {
    const attempts = [
      'this.constructor.constructor("return process")()',
      'globalThis.constructor.constructor("return process")()',
      'Function("return this")().process.mainModule',
      '(0, eval)("require")("fs")',
      'import("fs")',
      'Error.prepareStackTrace = (e, frames) => frames[0].getThis(); new Error().stack.process',
    ];
    for (const attempt of attempts) {
      await withMcu(`function mcu(x) { return ${attempt}; }`, async (rt) => {
        const err = await rt.mcu(0).then(
          (v) => assert.fail(`${attempt} returned ${JSON.stringify(v)}`),
          (e: unknown) => e,
        );
        assert.ok(err instanceof SandboxError, `${attempt}: ${String(err)}`);
        assert.ok(['THROWN', 'NON_JSON_RESULT'].includes(err.code), `${attempt}: ${err.code} ${err.message}`);
      });
    }
    await withMcu(
      'function mcu(x) { return [typeof process, typeof require, typeof module, typeof Buffer, typeof fetch, typeof $0, typeof ivm]; }',
      async (rt) => {
        assert.deepEqual(await rt.mcu(0), Array(7).fill('undefined'));
      },
    );
  });

  test('prototype and builtin tampering cannot subvert the harness', async () => {
    const source = `const size = 1000;
Object.defineProperty(Array.prototype, '0', { set() {}, get() { return 'forged'; }, configurable: true });
Object.prototype.toJSON = function () { return 'forged'; };
Array.prototype.toJSON = function () { return 'forged'; };
JSON.stringify = () => '"forged"';
JSON.parse = () => 'forged';
Array.isArray = () => false;
Object.keys = () => [];
Float64Array.prototype.set = () => {};
function input(i) { return i; }
function mcu(x) { return x % 2 === 0 ? { n: x } : [x, x]; }`;
    const rt = await loadContract(source);
    try {
      const range = await rt.runRange(0, 4);
      assert.deepEqual(range.inputs, [0, 1, 2, 3]);
      // The outputs are the contract's own values: it may change how its own
      // objects serialise, but not the harness's framing.
      assert.equal(range.outputs.length, 4);
      assert.equal(await rt.input(3), 3);
      assert.equal(typeof (await rt.validate([[1, 1, [1, 1]]], SEED, RATE)), 'boolean');
    } finally {
      rt.dispose();
    }
    // A contract that makes its own result unreadable gets a typed error.
    await withMcu(
      "function mcu(x) { Object.defineProperty(Array.prototype, '1', { get() { return undefined; }, configurable: true }); return [1, 2, 3]; }",
      async (rt) => {
        const outputs = (await rt.runRange(0, 2)).outputs;
        assert.deepEqual(outputs, [
          [1, 2, 3],
          [1, 2, 3],
        ]);
      },
    );
  });

  for (const [what, code, api] of [
    ['Date.now()', 'return Date.now();', 'Date'],
    ['new Date()', 'return new Date().getTime();', 'Date'],
    ['Math.random()', 'return Math.random();', 'Math.random'],
    ['a caught Date.now()', 'try { return Date.now(); } catch { return 0; }', 'Date'],
    ['a caught Math.random()', 'try { return Math.random(); } catch { return 0; }', 'Math.random'],
    ['performance', 'return performance.now();', 'performance'],
    ['setTimeout', 'setTimeout(() => {}, 1); return 1;', 'setTimeout'],
    ['WebAssembly', 'return typeof WebAssembly;', 'WebAssembly'],
    ['SharedArrayBuffer', 'return new SharedArrayBuffer(8).byteLength;', 'SharedArrayBuffer'],
    ['Atomics', 'return Atomics.wait(new Int32Array(4), 0, 0);', 'Atomics'],
    ['Intl', 'return new Intl.NumberFormat().format(x);', 'Intl'],
    ['toLocaleString', 'return (1234.5).toLocaleString();', 'Number.prototype.toLocaleString'],
    ['localeCompare', "return 'a'.localeCompare('b');", 'String.prototype.localeCompare'],
    ['WeakRef', 'return typeof new WeakRef({}).deref();', 'WeakRef'],
    ['FinalizationRegistry', 'new FinalizationRegistry(() => {}); return 1;', 'FinalizationRegistry'],
    ['crypto', 'return crypto.getRandomValues(new Uint8Array(4))[0];', 'crypto'],
  ] as const) {
    test(`${what} is NONDETERMINISTIC`, async () => {
      await withMcu(`function mcu(x) { ${code} }`, async (rt) => {
        const err = await refused(() => rt.mcu(1), 'NONDETERMINISTIC');
        assert.equal(err.meta.api, api);
        const inRange = await refused(() => rt.runRange(7, 3), 'NONDETERMINISTIC');
        assert.equal(inRange.meta.api, api);
      });
    });
  }

  test('a clock read at top level fails the load, even when caught', async () => {
    const err = await refused(
      () => loadContract(`${COUNTER}function mcu(x) { return x; }\nlet t = 0; try { t = Date.now(); } catch {}`),
      'NONDETERMINISTIC',
    );
    assert.equal(err.meta.api, 'Date');
  });

  test('a contract may bind the trapped names to its own deterministic values', async () => {
    await withMcu('const Date = { now: () => 42 };\nfunction mcu(x) { return Date.now() + x; }', async (rt) => {
      assert.equal(await rt.mcu(1), 43);
    });
  });

  test('a huge return value is RESULT_TOO_LARGE, per value and per range', async () => {
    const limits = { timeoutMs: 5000, memoryLimitMiB: 64, maxResultBytes: 1024 * 1024 };
    await withMcu(
      "function mcu(x) { return 'x'.repeat(2 * 1024 * 1024); }",
      async (rt) => {
        const err = await refused(() => rt.mcu(1), 'RESULT_TOO_LARGE');
        assert.equal(err.meta.limit, 1024 * 1024);
      },
      limits,
    );
    await withMcu(
      "function mcu(x) { return 'y'.repeat(100 * 1024); }",
      async (rt) => {
        assert.equal(((await rt.runRange(0, 5)).outputs[0] as string).length, 100 * 1024);
        const err = await refused(() => rt.runRange(0, 20), 'RESULT_TOO_LARGE');
        assert.ok(err.meta.index !== undefined && err.meta.index < 20, 'stops early');
      },
      limits,
    );
    const unbounded = await loadContract('function input(i) { return i; }\nfunction mcu(x) { return x; }', limits);
    try {
      // 8 bytes per number in each of two columns: 2 × 8 × 70,000 > 1 MiB.
      await refused(() => unbounded.runRange(0, 70_000), 'RESULT_TOO_LARGE');
      assert.equal((await unbounded.runRange(0, 60_000)).outputs.length, 60_000);
    } finally {
      unbounded.dispose();
    }
    await withMcu(
      'function mcu(x) { const a = [1]; let big = a; for (let k = 0; k < 40; k++) big = [big, big]; return big; }',
      async (rt) => {
        // Shared subtrees: small in memory, astronomically large as JSON.
        await refused(() => rt.mcu(1), 'RESULT_TOO_LARGE');
      },
      limits,
    );
  });

  for (const [what, code] of [
    ['a cyclic object', 'const o = {}; o.self = o; return o;'],
    ['a cyclic array', 'const a = []; a.push(a, a, a); return a;'],
    ['undefined', 'return undefined;'],
    ['nothing', 'x;'],
    ['a function', 'return [1, () => 2];'],
    ['a BigInt', 'return { n: 1n };'],
    ['a symbol', "return Symbol('s');"],
    ['NaN', 'return [0 / 0];'],
    ['Infinity', 'return { big: 1e308 * 10 };'],
    ['a Map', 'return new Map([[1, 2]]);'],
    ['a class instance', 'return new (class Point { constructor() { this.x = 1; } })();'],
    ['a promise', 'return Promise.resolve(1);'],
    ['an over-deep value', 'let v = 1; for (let k = 0; k < 100; k++) v = [v]; return v;'],
  ] as const) {
    test(`returning ${what} is NON_JSON_RESULT`, async () => {
      await withMcu(`function mcu(x) { ${code} }`, async (rt) => {
        await refused(() => rt.mcu(1), 'NON_JSON_RESULT');
        const err = await refused(() => rt.runRange(4, 2), 'NON_JSON_RESULT');
        assert.equal(err.meta.index, 4);
      });
    });
  }

  test('a non-JSON input is refused before mcu sees it', async () => {
    const rt = await loadContract(
      'const size = 10;\nfunction input(i) { return i === 3 ? undefined : i; }\nfunction mcu(x) { return x; }',
    );
    try {
      assert.deepEqual((await rt.runRange(0, 3)).outputs, [0, 1, 2]);
      const err = await refused(() => rt.runRange(0, 5), 'NON_JSON_RESULT');
      assert.equal(err.meta.index, 3);
      await refused(() => rt.input(3), 'NON_JSON_RESULT');
    } finally {
      rt.dispose();
    }
  });

  test('a thrown exception is THROWN with name, line and index', async () => {
    await withMcu(
      'function mcu(x) {\n  if (x > 5) throw new RangeError("too big: " + x);\n  return x;\n}',
      async (rt) => {
        const err = await refused(() => rt.runRange(2, 10), 'THROWN');
        assert.equal(err.meta.name, 'RangeError');
        assert.equal(err.meta.line, 4);
        assert.equal(err.meta.index, 6);
        assert.match(err.message, /too big: 6/);
      },
    );
    await withMcu('function mcu(x) { throw 42; }', async (rt) => {
      const err = await refused(() => rt.mcu(1), 'THROWN');
      assert.match(err.message, /42/);
    });
  });

  test('a thrown object with a hostile getter costs a timeout, never a hung host thread', async () => {
    await withMcu(
      'function mcu(x) { throw { get message() { for (;;) {} }, get name() { for (;;) {} } }; }',
      async (rt) => {
        await refused(() => rt.mcu(1), 'TIMEOUT');
      },
      { timeoutMs: 200, memoryLimitMiB: 32 },
    );
    await refused(
      () =>
        loadContract(`${COUNTER}function mcu(x) { return x; }\nthrow { get message() { for (;;) {} } };`, {
          timeoutMs: 200,
        }),
      'TIMEOUT',
    );
  });

  test('a promise rejected and left unhandled is THROWN; a hostile reason costs a timeout, not a hung thread', async () => {
    await withMcu('function mcu(x) { Promise.reject(new Error("late")); return x; }', async (rt) => {
      const err = await refused(() => rt.mcu(1), 'THROWN');
      assert.match(err.message, /late/);
      assert.equal(await rt.input(2), 2);
    });
    await withMcu(
      'async function helper() { throw { get message() { for (;;) {} } }; }\nfunction mcu(x) { helper(); return x; }',
      async (rt) => {
        await refused(() => rt.mcu(1), 'TIMEOUT');
        assert.equal(rt.restarts, 1);
        assert.equal(await rt.input(2), 2);
      },
      { timeoutMs: 300, memoryLimitMiB: 32 },
    );
  });

  test('a promise loop left behind by mcu cannot outlive the time limit', async () => {
    await withMcu(
      'function mcu(x) { Promise.resolve().then(function f() { Promise.resolve().then(f); }); return x; }',
      async (rt) => {
        await refused(() => rt.mcu(1), 'TIMEOUT');
      },
      { timeoutMs: 200, memoryLimitMiB: 32 },
    );
  });

  test('the process keeps working after all of the above', async () => {
    await withMcu('function mcu(x) { return x + 1; }', async (rt) => {
      assert.deepEqual((await rt.runRange(0, 3)).outputs, [1, 2, 3]);
    });
  });
});

describe('dispose and SandboxPool', () => {
  test('calls after dispose, and calls queued or running at dispose, fail with DISPOSED', async () => {
    const rt = await loadContract(
      `${COUNTER}function mcu(x) { const end = x * 1e7; let s = 0; for (let k = 0; k < end; k++) s += k; return s; }`,
    );
    const running = rt.mcu(50);
    const queued = rt.input(1);
    rt.dispose();
    await refused(() => running, 'DISPOSED');
    await refused(() => queued, 'DISPOSED');
    await refused(() => rt.mcu(1), 'DISPOSED');
    await refused(() => rt.union([1], [2]), 'DISPOSED');
    assert.equal(rt.disposed, true);
    rt.dispose();
  });

  test('the pool reuses one runtime per contract and disposes idle ones', async () => {
    const pool = new SandboxPool({ idleMs: 60_000 });
    try {
      const a = `${COUNTER}function mcu(x) { return x + 1; }`;
      const b = `${COUNTER}function mcu(x) { return x + 2; }`;
      const [ra1, ra2] = await Promise.all([pool.get('a', a), pool.get('a', a)]);
      assert.equal(ra1, ra2);
      const rb = await pool.get('b', b);
      assert.notEqual(rb, ra1);
      assert.equal(pool.size, 2);
      assert.equal(await ra1.mcu(1), 2);
      assert.equal(await rb.mcu(1), 3);
      await refused(() => pool.get('a', b), 'BAD_ARGUMENT');
      // Nothing is idle yet.
      assert.equal(pool.sweep(), 0);
      assert.equal(pool.sweep(performance.now() + 60_000), 2);
      assert.equal(ra1.disposed, true);
      assert.equal(pool.size, 0);
      const again = await pool.get('a', a);
      assert.notEqual(again, ra1);
      assert.equal(await again.mcu(1), 2);
    } finally {
      pool.dispose();
    }
  });

  test('a busy runtime is not swept, and the pool keeps at most maxRuntimes', async () => {
    const pool = new SandboxPool({ idleMs: 1, maxRuntimes: 2 });
    try {
      const slow = await pool.get(
        'slow',
        `${COUNTER}function mcu(x) { let s = 0; for (let k = 0; k < 3e7; k++) s += k; return s; }`,
      );
      const pending = slow.mcu(0);
      assert.equal(pool.sweep(performance.now() + 10_000), 0);
      await pending;
      const first = await pool.get('1', `${COUNTER}function mcu(x) { return 1; }`);
      await pool.get('2', `${COUNTER}function mcu(x) { return 2; }`);
      await pool.get('3', `${COUNTER}function mcu(x) { return 3; }`);
      assert.ok(pool.size <= 2, `size ${pool.size}`);
      assert.equal(slow.disposed || first.disposed, true);
    } finally {
      pool.dispose();
    }
  });

  test('a failed load is not kept, so the next get tries again', async () => {
    const pool = new SandboxPool();
    try {
      await refused(() => pool.get('x', 'function input(i) { return i; }'), 'MISSING_EXPORT');
      assert.equal(pool.size, 0);
      await refused(
        () => pool.get('y', `${COUNTER}function mcu(x) { return x; }\nfor (;;) {}`, { timeoutMs: 100 }),
        'TIMEOUT',
      );
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(pool.size, 0);
    } finally {
      pool.dispose();
    }
  });
});

test('unionRows folds the rows of paid batches with union, pairwise like a balanced tree, in one call', async () => {
  // A union that shows the order it was applied in.
  const tree = await loadContract(`const size = 100;
function input(i) { return 'x' + i; }
function mcu(x) { return x; }
function union(a, b) { return [{ l: a, r: b }]; }`);
  const concat = await loadContract(
    'const size = 100;\nfunction input(i) { return [i, -i]; }\nfunction mcu(x) { return x; }',
  );
  try {
    const batches = [0, 10, 20].map((start) => ({ start, outputs: outputsOf([start % 20 === 0, true]) }));
    const row = (i: number, o: boolean) => [i, `x${i}`, o];
    assert.deepEqual(await tree.unionRows(batches), [
      {
        l: [{ l: [row(0, true), row(1, true)], r: [row(10, false), row(11, true)] }],
        r: [row(20, true), row(21, true)],
      },
    ]);
    // No union declared: concatenation; typed and JSON columns alike.
    assert.deepEqual(
      await concat.unionRows([
        { start: 5, outputs: outputsOf([[1, 2]]) },
        { start: 7, outputs: outputsOf([{ a: 1 }, 'z']) },
      ]),
      [
        [5, [5, -5], [1, 2]],
        [7, [7, -7], { a: 1 }],
        [8, [8, -8], 'z'],
      ],
    );
    assert.deepEqual(await concat.unionRows([]), []);
    await refused(() => concat.unionRows([{ start: 99, outputs: outputsOf([1, 2]) }]), 'BAD_ARGUMENT');
  } finally {
    tree.dispose();
    concat.dispose();
  }
});

test('inputRange gives exactly the inputs runRange computes, without running mcu', async () => {
  const rt = await loadContract(
    'const size = 10;\nfunction input(i) { return { a: i, b: [i, -i] }; }\nfunction mcu(x) { throw new Error("not called"); }\n',
  );
  try {
    assert.deepEqual(await rt.inputRange(3, 3), [
      { a: 3, b: [3, -3] },
      { a: 4, b: [4, -4] },
      { a: 5, b: [5, -5] },
    ]);
    await refused(() => rt.inputRange(8, 5), 'BAD_ARGUMENT');
  } finally {
    rt.dispose();
  }
});

test('sampleAt gives mcu(input(i)) at the given indices, as the default validation compares them', async () => {
  const rt = await loadContract(
    'const size = 1000;\nfunction input(i) { return i * 2; }\nfunction mcu(x) { return [x, x + 1]; }\n',
  );
  try {
    assert.deepEqual(await rt.sampleAt([200, 300, 999]), [
      [400, 401],
      [600, 601],
      [1998, 1999],
    ]);
    assert.deepEqual(await rt.sampleAt([]), []);
    await refused(() => rt.sampleAt([5, 5]), 'BAD_ARGUMENT');
    await refused(() => rt.sampleAt([1000]), 'BAD_ARGUMENT');
  } finally {
    rt.dispose();
  }
});

test("a small contract's call after a big one in the same sandbox process is not charged the memory the big one left", async () => {
  const processes = new SandboxProcesses({ max: 1 });
  const big = await loadContract(
    'const size = 10;\nfunction input(i) { return i; }\nfunction mcu(x) { const a = []; for (let i = 0; i < 6e6; i++) a.push({ i }); return a.length; }\n',
    { memoryLimitMiB: 512, timeoutMs: 30_000 },
    { processes },
  );
  const small = await loadContract(
    'const size = 1000;\nfunction input(i) { return i; }\nfunction mcu(x) { return x + 1; }\n',
    { memoryLimitMiB: 64, maxResultBytes: 1024 * 1024 },
    { processes },
  );
  const bloat = await loadContract(
    'const size = 1;\nfunction input(i) { return i; }\nfunction mcu(x) { const a = []; for (;;) a.push({ x }); }\n',
    { memoryLimitMiB: 16, maxResultBytes: 1024 * 1024 },
    { processes },
  );
  try {
    assert.deepEqual(outputList(await big.outputRange(0, 1)), [6e6]);
    // It was killed as over its 64 MiB: the process still held what the big call had used.
    assert.deepEqual(outputList(await small.outputRange(0, 3)), [1, 2, 3]);
    // Its own growth still counts.
    await refused(() => bloat.outputRange(0, 1), 'MEMORY_LIMIT');
  } finally {
    for (const r of [big, small, bloat]) r.dispose();
    processes.close();
  }
});
