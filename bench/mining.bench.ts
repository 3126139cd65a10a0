// Mining speed against the machine's physical limit. A midstate miner spends
// one SHA-256 compression per attempt, so the reference is the native
// compression rate measured in the same run: OpenSSL's SHA-256 over 16 KiB
// blocks (bytes/s ÷ 64), or node:crypto's when openssl is missing.
// Prints attempts/s of each kernel on this thread, of the pool on 1 thread and
// on every core, the ratio per core to the native rate, and the scaling.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { availableKernels, getKernel, type KernelName, kernelName } from '../src/miner/kernel.ts';
import { NonceSearch } from '../src/miner/nonce-search.ts';

const POOL_MS = 3000;
const WARMUP_MS = 300;
const KERNEL_MS = 700;
const IMPOSSIBLE = new Uint8Array(32); // no hash is below zero: the search never stops by itself
const prefix = Uint8Array.from({ length: 104 }, (_, i) => (i * 37) & 0xff);

function nativeCompressionRate(): { blocksPerSecond: number; source: string } {
  const r = spawnSync('openssl', ['speed', '-seconds', '2', '-bytes', '16384', '-evp', 'sha256'], {
    encoding: 'utf8',
  });
  // The result line reads e.g. "sha256   1759264.77k": thousands of bytes per second.
  const m = r.status === 0 ? /^sha256\s+([\d.]+)k\s*$/m.exec(r.stdout) : null;
  if (m) return { blocksPerSecond: (Number(m[1]) * 1000) / 64, source: 'openssl speed -evp sha256, 16 KiB' };
  const buf = Buffer.alloc(16384, 1);
  let bytes = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    for (let i = 0; i < 64; i++) createHash('sha256').update(buf).digest();
    bytes += 64 * buf.length;
  }
  return { blocksPerSecond: bytes / 64 / ((performance.now() - t0) / 1000), source: 'node:crypto sha256, 16 KiB' };
}

function kernelRate(name: KernelName): number {
  const kernel = getKernel(name);
  let count = 1 << 12;
  let attempts = 0;
  let t0 = performance.now();
  let warm = false;
  for (;;) {
    const t = performance.now();
    attempts += kernel.searchNonces(prefix, IMPOSSIBLE, BigInt(attempts), count).attempts;
    const dt = performance.now() - t;
    if (dt < 20) count *= 2;
    if (!warm && performance.now() - t0 > 100) {
      // Leave JIT and cache warm-up out of the figure.
      warm = true;
      attempts = 0;
      t0 = performance.now();
    } else if (warm && performance.now() - t0 > KERNEL_MS) {
      return attempts / ((performance.now() - t0) / 1000);
    }
  }
}

async function poolRate(threads: number): Promise<number> {
  const ns = new NonceSearch({ threads });
  try {
    const samples: { t: number; attempts: number }[] = [];
    const start = performance.now();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), POOL_MS);
    await ns.search(prefix, IMPOSSIBLE, {
      signal: ac.signal,
      onProgress: (attempts) => samples.push({ t: performance.now(), attempts }),
    });
    clearTimeout(timer);
    // From progress reports after thread start-up, so chunks in flight at the abort do not blur the rate.
    const steady = samples.filter((s) => s.t - start >= WARMUP_MS);
    const first = steady[0]!;
    const last = steady.at(-1)!;
    return (last.attempts - first.attempts) / ((last.t - first.t) / 1000);
  } finally {
    await ns.close();
  }
}

const M = (n: number) => `${(n / 1e6).toFixed(2)} M/s`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

const native = nativeCompressionRate();
console.log(`native SHA-256 compression (${native.source}): ${M(native.blocksPerSecond)} per core`);
console.log(`miner kernel: ${kernelName}`);
for (const name of availableKernels()) {
  const r = kernelRate(name);
  console.log(`  kernel ${name.padEnd(13)} on this thread: ${M(r)}  (${pct(r / native.blocksPerSecond)} of native)`);
}
const cores = availableParallelism();
const one = await poolRate(1);
console.log(
  `NonceSearch, 1 thread:   ${M(one)}  per core ${pct(one / native.blocksPerSecond)} of native (target ≥ 25%)`,
);
if (cores > 1) {
  const all = await poolRate(cores);
  console.log(
    `NonceSearch, ${cores} threads:  ${M(all)}  per core ${pct(all / cores / native.blocksPerSecond)} of native`,
  );
  console.log(
    `scaling ${cores} threads ÷ 1 thread: ${(all / one).toFixed(2)}× (target ≥ ${(0.9 * cores).toFixed(1)}×)`,
  );
}
