import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Level } from 'level';
import { addressOf } from '../../src/chain/address.ts';
import { sha256 } from '../../src/chain/hash.ts';
import { publicKeyOf } from '../../src/chain/keys.ts';
import { mine, openChain, tempDir, transfer } from '../support/chain.ts';
import { rng, seedOf } from './reference.ts';

const CASES = Number(process.env.ZI_ADV_TABLE_FLIPS ?? 0);
const CHILD = join(import.meta.dirname, 'table-child.ts');

interface Result {
  ok: boolean;
  height?: number;
  code?: string;
  message?: string;
  signal?: string;
}

async function child(path: string, mode?: 'reindex'): Promise<Result> {
  const proc = spawn(process.execPath, [CHILD, path, ...(mode ? [mode] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => {
    out += d;
  });
  const [code, signal] = (await once(proc, 'exit')) as [number | null, string | null];
  if (signal) return { ok: false, signal };
  const line = out.trim().split('\n').at(-1);
  if (code !== 0 || !line) return { ok: false, signal: `exit ${code}` };
  return JSON.parse(line) as Result;
}

/**
 * Opt-in (ZI_ADV_TABLE_FLIPS=cases; docs/RELIABILITY.md has a 300-case run):
 * a 12-block chain in one table, each copy with 1–3 random bytes flipped in
 * it, opened and then reindexed in child processes. Every open must end in a
 * typed error or the full chain, every reindex must complete, and nothing may
 * abort.
 */
test(`${CASES} flipped chain tables: a typed error at start, and --reindex completes`, {
  skip: CASES === 0,
}, async (t) => {
  const seed = seedOf(2);
  const random = rng(seed);
  t.diagnostic(`seed ${seed}`);
  const home = await tempDir(t, 'zi-flips-');
  const golden = join(home, 'golden');
  // Fixed keys and the manual clock: the same bytes on every run, so a seed picks the same flips.
  const key = (n: number) => {
    const priv = sha256(new Uint8Array([n]));
    return { priv, pub: publicKeyOf(priv), address: addressOf(publicKeyOf(priv)) };
  };
  const [alice, bob] = [key(1), key(2)];
  const tc = await openChain(t, { dir: golden });
  for (let i = 0; i < 12; i++) {
    const txs =
      i < 2
        ? []
        : [0, 1, 2].map((k) => transfer(alice, bob.address, 1_000_000n, BigInt((i - 2) * 3 + k), tc.chain.genesisHash));
    await mine(tc, { miner: alice.address, txs });
  }
  await tc.chain.close();
  const chainDir = join(golden, 'chain');
  const flush = new Level(chainDir);
  await flush.open();
  await flush.close();
  const tables = (await readdir(chainDir)).filter((f) => f.endsWith('.ldb'));

  const tally = new Map<string, number>();
  const count = (k: string) => tally.set(k, (tally.get(k) ?? 0) + 1);
  let kept = 0;
  const bad: string[] = [];
  for (let i = 0; i < CASES; i++) {
    const dir = join(home, `case-${i}`);
    await cp(chainDir, dir, { recursive: true });
    const file = join(dir, tables[Math.floor(random() * tables.length)]!);
    const bytes = await readFile(file);
    for (let k = 1 + Math.floor(random() * 3); k > 0; k--)
      bytes[Math.floor(random() * bytes.length)]! ^= 1 + Math.floor(random() * 255);
    await writeFile(file, bytes);
    const opened = await child(dir);
    count(
      opened.signal ? `start: ${opened.signal}` : opened.ok ? 'start: opened' : `start: ${opened.code ?? 'untyped'}`,
    );
    if (opened.signal || (!opened.ok && !opened.code))
      bad.push(`case ${i} at start: ${opened.signal ?? opened.message}`);
    if (!opened.ok && opened.code === 'DB_CORRUPT') {
      const re = await child(dir, 'reindex');
      count(re.ok ? 'reindex: completed' : `reindex: ${re.signal ?? re.code ?? 'untyped'}`);
      if (re.ok) kept += re.height!;
      else bad.push(`case ${i} reindex: ${re.signal ?? re.message}`);
    }
    await rm(dir, { recursive: true, force: true });
  }
  t.diagnostic(`${[...tally].map(([k, v]) => `${k} ${v}`).join(', ')}; blocks kept by reindex: ${kept}`);
  assert.deepEqual(bad, []);
});
