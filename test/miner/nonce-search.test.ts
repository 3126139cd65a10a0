import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { availableKernels, POW_PREFIX_SIZE } from '../../src/miner/kernel.ts';
import { NonceSearch, NonceSearchError } from '../../src/miner/nonce-search.ts';

const MAX_NONCE = (1n << 64n) - 1n;
const IMPOSSIBLE = new Uint8Array(32);

function targetBits(bits: number): Uint8Array {
  return Uint8Array.from(Buffer.from((1n << BigInt(256 - bits)).toString(16).padStart(64, '0'), 'hex'));
}

function prefixOf(seed: number): Uint8Array {
  return Uint8Array.from({ length: POW_PREFIX_SIZE }, (_, i) => (seed * 31 + i * 17) & 0xff);
}

function powHashOf(prefix: Uint8Array, nonce: bigint): Buffer {
  const h = Buffer.alloc(112);
  h.set(prefix);
  h.writeBigUInt64BE(nonce, 104);
  return createHash('sha256').update(h).digest();
}

/** The ids of this process's nonce-search threads (Node names the OS thread after the Worker), where /proc shows them. */
function searchThreads(): string[] | undefined {
  if (!existsSync('/proc/self/task')) return undefined;
  return readdirSync('/proc/self/task').filter((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').startsWith('zi-nonce-search');
    } catch {
      return false; // the thread ended while listing
    }
  });
}

describe('NonceSearch', { timeout: 10_000 }, () => {
  const pool = new NonceSearch({ threads: 2 });
  after(() => pool.close());

  it('finds valid nonces on 2 threads, template after template on the same threads', async () => {
    let threads: string[] | undefined;
    for (let seed = 0; seed < 6; seed++) {
      const prefix = prefixOf(seed);
      const target = targetBits(18);
      const start = BigInt(seed) * 1_000_000_007n;
      const found = await pool.search(prefix, target, { startNonce: start });
      assert.ok(found, 'a 2^-18 target is met within the nonce space');
      assert.ok(found.nonce >= start);
      const hash = powHashOf(prefix, found.nonce);
      assert.deepEqual(Buffer.from(found.hash), hash);
      assert.ok(Buffer.compare(hash, target) < 0, 'the hash is below the target');
      assert.ok(found.attempts >= 1);
      // The same two threads serve every template: none is started or ended per search.
      const now = searchThreads();
      if (now) assert.equal(now.length, 2);
      threads ??= now;
      assert.deepEqual(now, threads);
    }
  });

  it('splits the nonce space into disjoint chunks that cover it exactly', async () => {
    // The last 8M nonces, several chunks per thread: each nonce is tried exactly once, then the search reports exhaustion.
    const space = 8_000_000;
    let reported = 0;
    const r = await pool.search(prefixOf(9), IMPOSSIBLE, {
      startNonce: MAX_NONCE - BigInt(space - 1),
      onProgress: (attempts) => {
        assert.ok(attempts > reported, 'progress only grows');
        reported = attempts;
      },
    });
    assert.equal(r, null);
    assert.equal(reported, space);
  });

  it('an abort resolves null and frees the threads for the next template', async () => {
    const ac = new AbortController();
    let progress = 0;
    let rate = 0;
    const pending = pool.search(prefixOf(1), IMPOSSIBLE, {
      signal: ac.signal,
      onProgress: (a) => {
        progress = a;
        rate = Math.max(rate, pool.hashrate);
      },
    });
    setTimeout(() => ac.abort(), 150);
    assert.equal(await pending, null);
    assert.ok(progress > 0, 'the threads were searching');
    assert.ok(rate > 0, 'hashrate reflects the running search');
    // Threads still looping on the aborted job would never take this one.
    const found = await pool.search(prefixOf(2), targetBits(10));
    assert.ok(found);
  });

  it('an already aborted signal resolves null at once', async () => {
    assert.equal(await pool.search(prefixOf(3), targetBits(1), { signal: AbortSignal.abort() }), null);
  });

  it('a new search supersedes the running one, which resolves null', async () => {
    const first = pool.search(prefixOf(4), IMPOSSIBLE);
    const second = pool.search(prefixOf(5), targetBits(12));
    assert.equal(await first, null);
    const found = await second;
    assert.ok(found && Buffer.compare(powHashOf(prefixOf(5), found.nonce), targetBits(12)) < 0);
  });

  it('rejects bad arguments with typed errors', async () => {
    await assert.rejects(pool.search(new Uint8Array(100), targetBits(1)), { code: 'BAD_PREFIX' });
    await assert.rejects(pool.search(prefixOf(0), new Uint8Array(33)), { code: 'BAD_TARGET' });
    await assert.rejects(pool.search(prefixOf(0), targetBits(1), { startNonce: 1n << 64n }), { code: 'BAD_NONCE' });
    assert.throws(() => new NonceSearch({ threads: 0 }), { code: 'BAD_THREADS' });
    assert.throws(() => new NonceSearch({ threads: 1.5 }), NonceSearchError);
  });

  for (const kernel of availableKernels()) {
    it(`runs the ${kernel} kernel on its threads when asked to`, async () => {
      const ns = new NonceSearch({ threads: 2, kernel });
      try {
        assert.equal(ns.kernel, kernel);
        const found = await ns.search(prefixOf(7), targetBits(14));
        assert.ok(found && Buffer.compare(powHashOf(prefixOf(7), found.nonce), targetBits(14)) < 0);
      } finally {
        await ns.close();
      }
    });
  }

  it('close() stops a running search and ends the threads', async () => {
    const before = searchThreads();
    const ns = new NonceSearch({ threads: 2 });
    const running = ns.search(prefixOf(8), IMPOSSIBLE);
    await new Promise((r) => setTimeout(r, 50));
    if (before) assert.equal(searchThreads()!.length, before.length + 2);
    await ns.close();
    assert.equal(await running, null);
    await assert.rejects(ns.search(prefixOf(8), targetBits(1)), { code: 'CLOSED' });
    await ns.close(); // idempotent
    if (before) assert.deepEqual(searchThreads(), before, 'no thread is left behind');
  });
});
