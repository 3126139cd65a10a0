import assert from 'node:assert/strict';
import { writeSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { BULK_MIN_BYTES, closeBulkFile, openBulkFile, stash, unstash } from '../../src/sandbox/bulk.ts';
import { SandboxError } from '../../src/sandbox/errors.ts';
import { loadContract, SandboxProcesses } from '../../src/sandbox/index.ts';

const fd = openBulkFile();
after(() => closeBulkFile(fd));

const big = (n: number) => Float64Array.from({ length: n }, (_, k) => k / 3);

describe('bulk columns (sandbox/bulk.ts)', () => {
  it('moves large typed arrays through the shared file and back, leaving small ones and the caller’s arrays alone', () => {
    const f64 = big(BULK_MIN_BYTES / 8);
    const u8 = new Uint8Array(BULK_MIN_BYTES + 1).fill(1);
    const small = new Float64Array([1, 2]);
    const a = [f64, 1, small];
    const b = ['text', u8];
    const { parts, bulk } = stash(fd, [a, b]);
    assert.deepEqual(a, [f64, 1, small], 'the caller’s array is not changed');
    assert.deepEqual(parts, [
      [null, 1, small],
      ['text', null],
    ]);
    assert.equal(bulk?.length, 2);
    unstash(fd, parts, bulk, 10 * BULK_MIN_BYTES, 'test');
    assert.deepEqual(parts, [a, b]);
    assert.ok((parts[0] as unknown[])[0] instanceof Float64Array);
  });

  it('refuses a total over the limit before reading anything (RESULT_TOO_LARGE)', () => {
    const { parts, bulk } = stash(fd, [[big(BULK_MIN_BYTES / 8)]]);
    assert.throws(
      () => unstash(fd, parts, bulk, BULK_MIN_BYTES - 1, 'outputRange'),
      (e: unknown) => e instanceof SandboxError && e.code === 'RESULT_TOO_LARGE' && e.meta.actual === BULK_MIN_BYTES,
    );
    // A lying descriptor asking for 2^50 bytes is refused the same way, without allocating.
    assert.throws(
      () => unstash(fd, [[null]], [[0, 0, 2, 2 ** 50]], 16 * 2 ** 20, 'outputRange'),
      (e: unknown) => e instanceof SandboxError && e.code === 'RESULT_TOO_LARGE',
    );
  });

  it('refuses descriptors that do not fit the message (BAD_RESULT)', () => {
    const bad: unknown[] = [
      'nope',
      [[0, 0, 1]],
      [[1, 0, 1, 8]], // no part 1
      [[0, 1, 1, 8]], // no element 1
      [[0, 0, 9, 8]], // unknown kind
      [[0, 0, 1, 7]], // not whole float64s
      [[0, 0, 1, -8]],
    ];
    for (const b of bad) {
      assert.throws(
        () => unstash(fd, [[null]], b, 2 ** 30, 'op'),
        (e: unknown) => e instanceof SandboxError && e.code === 'BAD_RESULT',
        JSON.stringify(b),
      );
    }
    // An element that was sent in the message is not overwritten.
    assert.throws(
      () => unstash(fd, [[new Float64Array(1)]], [[0, 0, 1, 8]], 2 ** 30, 'op'),
      (e: unknown) => e instanceof SandboxError && e.code === 'BAD_RESULT',
    );
  });

  it('refuses a descriptor longer than what the file holds (BAD_RESULT)', () => {
    const own = openBulkFile();
    try {
      writeSync(own as number, new Uint8Array(100), 0, 100, 0);
      assert.throws(
        () => unstash(own, [[null]], [[0, 0, 2, 200]], 2 ** 30, 'op'),
        (e: unknown) => e instanceof SandboxError && e.code === 'BAD_RESULT',
      );
    } finally {
      closeBulkFile(own);
    }
  });

  it('carries large replies and arguments of a sandbox process exactly', async () => {
    const processes = new SandboxProcesses({ max: 1 });
    try {
      const rt = await loadContract(
        'const size = null;\nfunction input(i) { return i; }\nfunction mcu(x) { return x % 7 === 0 ? -0 : x / 3; }\n',
        {},
        { processes },
      );
      const n = 100_000; // 800 KB per column: through the file
      const r = await rt.runRange(5, n);
      assert.equal(r.inputs.length, n);
      for (let k = 0; k < n; k++) {
        const x = 5 + k;
        assert.equal(r.inputs[k], x);
        assert.ok(Object.is(r.outputs[k], x % 7 === 0 ? 0 : x / 3));
      }
      const rows = r.inputs.map((x, k) => [5 + k, x, r.outputs[k]!] as [number, number, number]);
      assert.equal(await rt.validate(rows, new Uint8Array(32).fill(3), 1000), true);
      rows[n - 1]![2] = 1;
      assert.equal(await rt.validate(rows, new Uint8Array(32).fill(3), 1000), false);
      rt.dispose();
    } finally {
      processes.close();
    }
  });
});
