import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { hashBackend, sha256, sha256Ranges } from '../../src/chain/hash.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('sha256Ranges gives each (start, length) range its own SHA-256, empty ranges and no ranges too', () => {
  const arb = fc.uint8Array({ maxLength: 600 }).chain((data) =>
    fc.tuple(
      fc.constant(data),
      fc.array(
        fc.nat(data.length).chain((start) => fc.tuple(fc.constant(start), fc.nat(data.length - start))),
        { maxLength: 30 },
      ),
    ),
  );
  fc.assert(
    fc.property(arb, ([data, ranges]) => {
      const out = sha256Ranges(data, Uint32Array.from(ranges.flat()));
      assert.equal(out.length, 32 * ranges.length);
      ranges.forEach(([start, length], i) => {
        assert.equal(hex(out.subarray(32 * i, 32 * i + 32)), hex(sha256(data.slice(start, start + length))));
      });
    }),
    { numRuns: 200 },
  );
  // The empty string's digest, as published.
  assert.equal(
    hex(sha256Ranges(new Uint8Array(), new Uint32Array([0, 0]))),
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  );
});

test('sha256Ranges hashes overlapping ranges of shared memory, and refuses a range past the end', () => {
  const data = new Uint8Array(new SharedArrayBuffer(100)).map((_, i) => i);
  const out = sha256Ranges(data, new Uint32Array([0, 100, 10, 20, 99, 1, 100, 0]));
  assert.deepEqual(out.subarray(0, 32), sha256(data.slice()));
  assert.deepEqual(out.subarray(32, 64), sha256(data.slice(10, 30)));
  assert.deepEqual(out.subarray(64, 96), sha256(data.slice(99)));
  assert.deepEqual(out.subarray(96, 128), sha256(new Uint8Array()));
  assert.throws(() => sha256Ranges(data, new Uint32Array([95, 6])), RangeError);
  assert.throws(() => sha256Ranges(data, new Uint32Array([0xffffffff, 2])), RangeError);
  assert.throws(() => sha256Ranges(data, new Uint32Array([1])), RangeError);
});

test('where the install built the native hasher it loads; without it the same digests come from node:crypto, with a warning', () => {
  if (process.env.ZI_NATIVE_HASH !== '0' && existsSync(new URL('../../build/Release/zi_hash.node', import.meta.url))) {
    assert.equal(hashBackend, 'native');
  }
  const script = `
    import { hashBackend, sha256Ranges, warnIfSlowHashing } from ${JSON.stringify(new URL('../../src/chain/hash.ts', import.meta.url).href)};
    warnIfSlowHashing();
    const h = sha256Ranges(new TextEncoder().encode('xabcx'), new Uint32Array([1, 3]));
    console.log(JSON.stringify({ hashBackend, h: Buffer.from(h).toString('hex') }));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ZI_NATIVE_HASH: '0' },
    encoding: 'utf8',
  });
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stderr, /native hasher .* is not built or does not load/);
  assert.deepEqual(JSON.parse(child.stdout), {
    hashBackend: 'node:crypto',
    h: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  });
});
