// The content layer's costs on the market's path. Each figure comes with a
// reference measured in the same run:
// - result encoding/decoding of a full (≈1 MiB) batch vs plain JSON.stringify
//   / JSON.parse of the same values (canonical form and strict checks on top);
// - the CID of a batch vs one node:crypto sha256 of the bytes;
// - fetching a batch from a peer over bitswap (two Helia stores on two libp2p
//   hosts on 127.0.0.1) vs reading it from the node's own store.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import type { CID } from 'multiformats/cid';
import { cidOf } from '../src/content/cid.ts';
import { openHeliaStore } from '../src/content/helia.ts';
import { decodeResults, encodeResults, type JsonValue, type ResultBatch } from '../src/content/results.ts';

function rate(fn: () => void, ms = 800): number {
  for (let i = 0; i < 3; i++) fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    fn();
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

async function asyncRate(fn: (i: number) => Promise<void>, count: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await fn(i);
  return count / ((performance.now() - t0) / 1000);
}

const fmt = (x: number, digits = 1) => x.toFixed(digits);

// A Mandelbrot-like batch: 256 rows of 640 iteration counts (≈ 0.8 MiB, near the block limit).
function mandelbrotBatch(seed: number): ResultBatch {
  const outputs: JsonValue[] = [];
  for (let r = 0; r < 256; r++) outputs.push(Array.from({ length: 640 }, (_, c) => (r * 7 + c * 13 + seed) % 10000));
  return { contract: new Uint8Array(32).fill(seed), ranges: [{ start: 0, end: 256 }], outputs };
}

// A batch of small objects, the slower general path (key sorting, no numeric fast path).
function objectBatch(): ResultBatch {
  const outputs: JsonValue[] = Array.from({ length: 8192 }, (_, i) => ({
    z: i,
    re: i / 7,
    im: -i / 3,
    ok: i % 2 === 0,
  }));
  return { contract: new Uint8Array(32), ranges: [{ start: 0, end: 8192 }], outputs };
}

for (const [name, batch] of [
  ['Mandelbrot rows', mandelbrotBatch(1)],
  ['small objects', objectBatch()],
] as const) {
  const bytes = encodeResults(batch);
  const mib = bytes.length / (1024 * 1024);
  const plain = new TextEncoder().encode(
    JSON.stringify({ contract: 'x'.repeat(64), outputs: batch.outputs, ranges: [[0, batch.outputs.length]] }),
  );
  console.log(`${name}: ${batch.outputs.length} outputs, ${bytes.length} bytes`);
  const enc = rate(() => encodeResults(batch));
  const encRef = rate(() => new TextEncoder().encode(JSON.stringify(batch.outputs)));
  console.log(
    `  encode: ${fmt(enc * mib)} MiB/s (${fmt(1000 / enc, 2)} ms a batch); JSON.stringify ${fmt(encRef * mib)} MiB/s; ratio ${fmt(enc / encRef, 2)}`,
  );
  const dec = rate(() => decodeResults(bytes));
  const decRef = rate(() => JSON.parse(new TextDecoder().decode(plain)));
  console.log(
    `  decode (parse, check, re-encode, compare): ${fmt(dec * mib)} MiB/s (${fmt(1000 / dec, 2)} ms a batch); JSON.parse ${fmt(decRef * mib)} MiB/s; ratio ${fmt(dec / decRef, 2)}`,
  );
}

const bytes = encodeResults(mandelbrotBatch(1));
const mib = bytes.length / (1024 * 1024);
const cid = rate(() => cidOf(bytes));
const cidRef = rate(() => createHash('sha256').update(bytes).digest());
console.log(
  `CID: ${fmt(cid * mib)} MiB/s; node:crypto sha256 ${fmt(cidRef * mib)} MiB/s; ratio ${fmt(cid / cidRef, 2)}`,
);

async function host() {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  });
}

const dirs = [await mkdtemp(join(tmpdir(), 'zi-bench-')), await mkdtemp(join(tmpdir(), 'zi-bench-'))];
const [ha, hb] = [await host(), await host()];
const a = await openHeliaStore({ datadir: dirs[0]!, libp2p: ha });
const b = await openHeliaStore({ datadir: dirs[1]!, libp2p: hb });
try {
  await hb.dial(ha.getMultiaddrs()[0]!);
  const N = 20;
  const batches = Array.from({ length: N }, (_, i) => encodeResults(mandelbrotBatch(i + 2)));
  const cids: CID[] = [];
  for (const x of batches) cids.push(await a.put(x));
  const small = Array.from({ length: N }, (_, i) => new TextEncoder().encode(`small result ${i}`));
  const smallCids: CID[] = [];
  for (const x of small) smallCids.push(await a.put(x));

  await b.get(smallCids[0]!); // connection and bitswap streams warm
  const fetchSmall = await asyncRate(async (i) => void (await b.get(smallCids[(i % (N - 1)) + 1]!)), N - 1);
  const local = await asyncRate(async (i) => void (await a.get(cids[i]!)), N);
  const fetch = await asyncRate(async (i) => void (await b.get(cids[i]!)), N);
  console.log(
    `bitswap fetch of a small block: ${fmt(1000 / fetchSmall, 2)} ms each (${fmt(fetchSmall, 0)}/s, one at a time)`,
  );
  console.log(
    `bitswap fetch of ${fmt(mib, 2)} MiB batches: ${fmt(fetch * mib)} MiB/s (${fmt(1000 / fetch, 1)} ms each); ` +
      `own-store read ${fmt(local * mib)} MiB/s; ratio ${fmt(fetch / local, 2)}`,
  );
} finally {
  await a.close();
  await b.close();
  await ha.stop();
  await hb.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}
