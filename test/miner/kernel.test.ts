import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  availableKernels,
  getKernel,
  headerWithNonce,
  type KernelName,
  kernelName,
  NonceSearchError,
  POW_PREFIX_SIZE,
  powHash,
  searchNonces,
} from '../../src/miner/kernel.ts';

const MAX_NONCE = (1n << 64n) - 1n;
const IMPOSSIBLE = new Uint8Array(32); // nothing is below zero

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

function header(prefix: Uint8Array, nonce: bigint): Uint8Array {
  const h = Buffer.alloc(112);
  h.set(prefix);
  h.writeBigUInt64BE(nonce, 104);
  return h;
}

/** uint256 big-endian bytes <-> bigint, to build targets right at a hash's value. */
const toBig = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex')}`);
const toBytes = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'));

/** The reference answer: the first nonce whose node:crypto hash is below target. */
function firstHit(prefix: Uint8Array, target: Uint8Array, start: bigint, count: number): bigint | null {
  for (let i = 0; i < count; i++) {
    const nonce = start + BigInt(i);
    if (Buffer.compare(sha256(header(prefix, nonce)), target) < 0) return nonce;
  }
  return null;
}

/** An easy target: one hash in 2^bits is below it. */
function easyTarget(bits: number): Uint8Array {
  return toBytes(1n << BigInt(256 - bits));
}

const prefixArb = fc.uint8Array({ minLength: POW_PREFIX_SIZE, maxLength: POW_PREFIX_SIZE });
// Ranges that cross the high nonce word (2^32) and end at the last nonce, besides random ones.
const startArb = fc.oneof(
  fc.bigInt({ min: 0n, max: MAX_NONCE - 64n }),
  fc.bigInt({ min: 0xffffffffn - 40n, max: 0xffffffffn }),
  fc.constant(MAX_NONCE - 63n),
);

describe('kernel', () => {
  it('offers the fastest kernel first and always the JS one', () => {
    const kernels = availableKernels();
    assert.equal(kernelName, kernels[0]);
    assert.equal(kernels.at(-1), 'js');
    const target = easyTarget(6);
    const prefix = new Uint8Array(POW_PREFIX_SIZE).fill(5);
    assert.deepEqual(
      searchNonces(prefix, target, 0n, 500),
      getKernel(kernelName).searchNonces(prefix, target, 0n, 500),
    );
    assert.notEqual(searchNonces(prefix, target, 0n, 500).nonce, null);
    // When the install step built the addon, it must load (unless deliberately switched off).
    if (
      process.env.ZI_MINER_NATIVE !== '0' &&
      existsSync(new URL('../../build/Release/zi_pow.node', import.meta.url))
    ) {
      assert.ok(kernels.includes('native-scalar'), `addon built but not loaded: ${kernels}`);
    }
  });

  it('powHash is SHA-256 of the 112-byte header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 112, maxLength: 112 }), (h) => {
        assert.deepEqual(Buffer.from(powHash(h)), sha256(h));
      }),
    );
    assert.throws(() => powHash(new Uint8Array(111)), { code: 'BAD_HEADER' });
  });

  for (const name of availableKernels()) {
    describe(`the ${name} kernel`, () => {
      const kernel = getKernel(name);

      it('computes exactly the SHA-256 of each header (a target at the best hash of a range)', () => {
        fc.assert(
          fc.property(prefixArb, startArb, fc.integer({ min: 1, max: 64 }), (prefix, start, count) => {
            const hashes = Array.from({ length: count }, (_, i) => toBig(sha256(header(prefix, start + BigInt(i)))));
            let bestIndex = 0;
            for (let i = 1; i < count; i++) if (hashes[i]! < hashes[bestIndex]!) bestIndex = i;
            const best = hashes[bestIndex]!;
            const bestNonce = start + BigInt(bestIndex);
            // A target one above the best hash is met by that header alone.
            const hit = kernel.searchNonces(prefix, toBytes(best + 1n), start, count);
            assert.equal(hit.nonce, bestNonce);
            assert.equal(hit.attempts, Number(bestNonce - start) + 1);
            assert.deepEqual(Buffer.from(hit.hash!), sha256(header(prefix, bestNonce)));
            // A target equal to it is met by no header: equal is not below.
            const miss = kernel.searchNonces(prefix, toBytes(best), start, count);
            assert.deepEqual(miss, { nonce: null, attempts: count });
          }),
          { numRuns: name === 'js' ? 60 : 150 },
        );
      });

      it('returns the first hit of a range, like node:crypto', () => {
        fc.assert(
          fc.property(prefixArb, startArb, (prefix, start) => {
            const target = easyTarget(4);
            const r = kernel.searchNonces(prefix, target, start, 64);
            assert.equal(r.nonce, firstHit(prefix, target, start, 64));
          }),
          { numRuns: 60 },
        );
      });

      it('finds a nonce for an easy target whose hash really is below it', () => {
        const prefix = Uint8Array.from({ length: POW_PREFIX_SIZE }, (_, i) => i * 7);
        const target = easyTarget(12);
        const r = kernel.searchNonces(prefix, target, 1000n, 1 << 20);
        assert.notEqual(r.nonce, null);
        const hash = sha256(header(prefix, r.nonce!));
        assert.ok(Buffer.compare(hash, target) < 0);
        assert.deepEqual(Buffer.from(r.hash!), hash);
        assert.equal(r.attempts, Number(r.nonce! - 1000n) + 1);
      });

      it('returns null after the whole range for an impossible target', () => {
        const prefix = new Uint8Array(POW_PREFIX_SIZE).fill(0xab);
        assert.deepEqual(kernel.searchNonces(prefix, IMPOSSIBLE, 5n, 20_001), { nonce: null, attempts: 20_001 });
        assert.deepEqual(kernel.searchNonces(prefix, IMPOSSIBLE, 5n, 0), { nonce: null, attempts: 0 });
      });

      it('rejects malformed input with typed errors', () => {
        const prefix = new Uint8Array(POW_PREFIX_SIZE);
        const target = easyTarget(1);
        const code = (c: string) => (err: unknown) => err instanceof NonceSearchError && err.code === c;
        assert.throws(() => kernel.searchNonces(new Uint8Array(103), target, 0n, 1), code('BAD_PREFIX'));
        assert.throws(() => kernel.searchNonces(prefix, new Uint8Array(31), 0n, 1), code('BAD_TARGET'));
        assert.throws(() => kernel.searchNonces(prefix, target, -1n, 1), code('BAD_NONCE'));
        assert.throws(() => kernel.searchNonces(prefix, target, 1n << 64n, 1), code('BAD_NONCE'));
        assert.throws(() => kernel.searchNonces(prefix, target, 0n, 1.5), code('BAD_COUNT'));
        assert.throws(() => kernel.searchNonces(prefix, target, 0n, -1), code('BAD_COUNT'));
        assert.throws(() => kernel.searchNonces(prefix, target, MAX_NONCE, 2), code('NONCE_OVERFLOW'));
        // The very last nonce is searchable.
        assert.equal(kernel.searchNonces(prefix, toBytes((1n << 256n) - 1n), MAX_NONCE, 1).nonce, MAX_NONCE);
      });
    });
  }

  it('every kernel here returns the same nonces', () => {
    const names = availableKernels();
    fc.assert(
      fc.property(prefixArb, startArb, (prefix, start) => {
        const target = easyTarget(7);
        const answers = names.map((n) => getKernel(n).searchNonces(prefix, target, start, 63).nonce);
        assert.deepEqual(new Set(answers).size, 1, `${names.join('/')} disagree: ${answers.join('/')}`);
      }),
      { numRuns: 40 },
    );
  });

  it('headerWithNonce puts the nonce big-endian in the last 8 bytes', () => {
    const prefix = new Uint8Array(POW_PREFIX_SIZE).fill(1);
    const h = headerWithNonce(prefix, 0x0102030405060708n);
    assert.deepEqual([...h.subarray(104)], [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(h.subarray(0, 104), prefix);
  });

  it('an unavailable kernel is a typed error', () => {
    assert.throws(() => getKernel('no-such' as KernelName), { code: 'KERNEL_UNAVAILABLE' });
  });

  it('without the addon, mining falls back to the JS kernel and warns when the miner starts', () => {
    const src = (f: string) => new URL(`../../src/miner/${f}`, import.meta.url).href;
    const script = `
      import { kernelName, availableKernels, searchNonces } from '${src('kernel.ts')}';
      import { NonceSearch } from '${src('nonce-search.ts')}';
      const ns = new NonceSearch({ threads: 1 });
      const target = new Uint8Array(32); target[0] = 0x10;
      const found = await ns.search(new Uint8Array(104), target);
      await ns.close();
      console.log(JSON.stringify({ kernelName, availableKernels: availableKernels(), ns: ns.kernel, nonce: String(found?.nonce),
        direct: String(searchNonces(new Uint8Array(104), target, 0n, 1000).nonce) }));`;
    const dir = mkdtempSync(join(tmpdir(), 'zi-kernel-'));
    const file = join(dir, 'fallback.mjs');
    writeFileSync(file, script);
    const child = spawnSync(process.execPath, [file], {
      env: { ...process.env, ZI_MINER_NATIVE: '0', ZI_MINER_KERNEL: '' },
      encoding: 'utf8',
    });
    rmSync(dir, { recursive: true });
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stderr, /native mining kernel is not built or does not load/);
    const r = JSON.parse(child.stdout);
    assert.equal(r.kernelName, 'js');
    assert.deepEqual(r.availableKernels, ['js']);
    assert.equal(r.ns, 'js');
    const expected = firstHit(new Uint8Array(104), Uint8Array.from([0x10, ...new Uint8Array(31)]), 0n, 1000);
    assert.equal(r.direct, String(expected));
    assert.equal(r.nonce, String(expected));
  });
});
