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
import { decodeResults, encodeResults, type ResultBatch } from '../src/market/results.ts';
import type { JsonValue } from '../src/sandbox/limits.ts';
import { outputList, outputsOf } from '../src/sandbox/outputs.ts';

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

// Rows of 640 iteration counts (≈ 0.8 MiB of canonical JSON, near the block limit).
function rowBatch(seed: number): ResultBatch {
  const outputs: JsonValue[] = [];
  for (let r = 0; r < 256; r++) outputs.push(Array.from({ length: 640 }, (_, c) => (r * 7 + c * 13 + seed) % 10000));
  return { contract: new Uint8Array(32).fill(seed), ranges: [{ start: 0, end: 256 }], outputs: outputsOf(outputs) };
}

// A batch of small objects, the slower general path (key sorting, no numeric fast path).
function objectBatch(): ResultBatch {
  const outputs: JsonValue[] = Array.from({ length: 8192 }, (_, i) => ({
    z: i,
    re: i / 7,
    im: -i / 3,
    ok: i % 2 === 0,
  }));
  return { contract: new Uint8Array(32), ranges: [{ start: 0, end: 8192 }], outputs: outputsOf(outputs) };
}

// The Mandelbrot example's batch: a boolean per MCU, as the sandbox hands it over (a typed column).
function memberBatch(n: number): ResultBatch {
  const values = new Uint8Array(n).map((_, i) => (i % 7 < 3 ? 1 : 0));
  return { contract: new Uint8Array(32), ranges: [{ start: 0, end: n }], outputs: { kind: 'bool', values } };
}

// Reference: the same outputs as plain JSON text (what the first results format wrote).
for (const [name, batch] of [
  ['rows of 640 numbers', rowBatch(1)],
  ['small objects', objectBatch()],
  ['Mandelbrot booleans', memberBatch(1 << 20)],
] as const) {
  const bytes = encodeResults(batch);
  const values = outputList(batch.outputs);
  const n = values.length;
  console.log(
    `${name}: ${n.toLocaleString()} outputs, ${bytes.length.toLocaleString()} bytes (${batch.outputs.kind} column)`,
  );
  const enc = rate(() => encodeResults(batch));
  const encRef = rate(() => new TextEncoder().encode(JSON.stringify(values)));
  const plain = new TextEncoder().encode(JSON.stringify(values));
  console.log(
    `  encode: ${fmt((enc * n) / 1e6, 2)} M outputs/s (${fmt(1000 / enc, 2)} ms a batch); JSON.stringify ${fmt((encRef * n) / 1e6, 2)} M/s (${plain.length.toLocaleString()} bytes); ratio ${fmt(enc / encRef, 2)}`,
  );
  const dec = rate(() => decodeResults(bytes));
  const decRef = rate(() => JSON.parse(new TextDecoder().decode(plain)));
  console.log(
    `  decode (strict, canonical form checked): ${fmt((dec * n) / 1e6, 2)} M outputs/s (${fmt(1000 / dec, 2)} ms a batch); JSON.parse ${fmt((decRef * n) / 1e6, 2)} M/s; ratio ${fmt(dec / decRef, 2)}`,
  );
}

const bytes = encodeResults(rowBatch(1));
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
  const batches = Array.from({ length: N }, (_, i) => encodeResults(rowBatch(i + 2)));
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
