import assert from 'node:assert/strict';
import { cp, readdir, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Level } from 'level';
import { addressOf, formatAddress } from '../../src/chain/address.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { ZiError } from '../../src/chain/errors.ts';
import { sha256 } from '../../src/chain/hash.ts';
import { publicKeyOf } from '../../src/chain/keys.ts';
import { ipfsDir } from '../../src/content/helia.ts';
import { cookiePath, mempoolPath, resolveConfig, walletPath } from '../../src/node/config.ts';
import { ZiNode } from '../../src/node/node.ts';
import { encryptKey, writeKeystore } from '../../src/wallet/keystore.ts';
import { devnet, type Keypair, mine, openChain, tempDir, transfer } from '../support/chain.ts';
import { runZi, startNode } from '../support/cli.ts';
import { quietLogger } from '../support/node.ts';
import { dump, rng, seedOf } from './reference.ts';

/**
 * 'known gap': a flipped byte in the IPFS datastore (Helia's pins, stored by
 * datastore-level without checksums) can drop a pin without a word. It is
 * counted and reported in docs/RELIABILITY.md, not hidden: the chain's own
 * store has no such gap.
 */
type Outcome = 'typed error' | 'recovered' | 'known gap' | 'wrong state' | 'crash';

function config(datadir: string, mine = false) {
  return resolveConfig({
    network: 'devnet',
    datadir,
    rpcPort: 0,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mine,
    threads: 1,
  });
}

/** Reopening a level store writes its log out as a table, so every store has .ldb files to damage. */
async function flush(path: string): Promise<void> {
  const db = new Level(path);
  await db.open();
  await db.close();
}

function fixedKey(n: number): Keypair {
  const priv = sha256(new Uint8Array([n]));
  const pub = publicKeyOf(priv);
  return { priv, pub, address: addressOf(pub) };
}

async function only(dir: string, pred: (f: string) => boolean): Promise<string> {
  const f = (await readdir(dir)).filter(pred).sort();
  assert.ok(f.length > 0, `no such file in ${dir}`);
  return join(dir, f[0]!);
}

test('corrupt every kind of file in the data dir: a typed one-line error or a clean recovery, never a wrong state or a stack', async (t) => {
  const seed = seedOf(14);
  const random = rng(seed);
  const home = await tempDir(t, 'zi-corrupt-');
  const golden = join(home, 'golden');

  // A data dir with every kind of file: blocks with transfers, a wallet, a pinned IPFS object, a pending tx.
  const tc = await openChain(t, { dir: golden });
  // Fixed keys: with them every byte of the data dir's chain files is the same on each run, so a seed picks the same flips.
  const alice = fixedKey(1);
  const bob = fixedKey(2);
  for (let i = 0; i < 6; i++) {
    const txs = i > 1 ? [transfer(alice, bob.address, 1_000_000n, BigInt(i - 2), tc.chain.genesisHash)] : [];
    await mine(tc, { miner: alice.address, txs });
  }
  await tc.chain.close();
  const address = formatAddress(alice.address, devnet.hrp);
  await writeKeystore(walletPath(golden), await encryptKey(alice.priv, 'pass', address, { N: 2 ** 4 }));
  const node = await ZiNode.start(config(golden), { logger: quietLogger });
  const object = new TextEncoder().encode('results of a contract, pinned');
  const cid = await node.content!.put(object, { pin: true });
  const pending = transfer(alice, bob.address, 7n, 4n, node.chain.genesisHash);
  await node.mempool.accept(pending);
  const reference = await dump(node.chain);
  await node.stop();
  for (const dir of [join(golden, 'chain'), ipfsDir(golden).blocks, ipfsDir(golden).datastore]) await flush(dir);
  await writeFile(cookiePath(golden), '__cookie__:left-by-a-node-that-died');

  const flip = (count: number) => async (file: string) => {
    const bytes = await readFile(file);
    for (let i = 0; i < count; i++) bytes[Math.floor(random() * bytes.length)]! ^= 1 + Math.floor(random() * 255);
    await writeFile(file, bytes);
  };
  const garbage = (file: string) => writeFile(file, 'garbage\n');
  const cases: { name: string; file: (d: string) => Promise<string>; damage: (file: string) => Promise<unknown> }[] =
    [];
  const stores: [string, (d: string) => string][] = [
    ['chain', (d) => join(d, 'chain')],
    ['ipfs/blocks', (d) => ipfsDir(d).blocks],
    ['ipfs/datastore', (d) => ipfsDir(d).datastore],
  ];
  for (const [store, dirOf] of stores) {
    const in_ = (pred: (f: string) => boolean) => (d: string) => only(dirOf(d), pred);
    const ldb = in_((f) => f.endsWith('.ldb'));
    cases.push(
      { name: `${store}: CURRENT deleted`, file: in_((f) => f === 'CURRENT'), damage: unlink },
      { name: `${store}: CURRENT garbage`, file: in_((f) => f === 'CURRENT'), damage: garbage },
      { name: `${store}: MANIFEST deleted`, file: in_((f) => f.startsWith('MANIFEST')), damage: unlink },
      { name: `${store}: MANIFEST garbage`, file: in_((f) => f.startsWith('MANIFEST')), damage: garbage },
      { name: `${store}: .ldb deleted`, file: ldb, damage: unlink },
      { name: `${store}: .ldb truncated`, file: ldb, damage: (f) => truncate(f, 100) },
      { name: `${store}: .log garbage`, file: in_((f) => f.endsWith('.log')), damage: garbage },
      { name: `${store}: LOG garbage`, file: in_((f) => f === 'LOG'), damage: garbage },
      { name: `${store}: LOG deleted`, file: in_((f) => f === 'LOG'), damage: unlink },
      {
        name: `${store}: a plain file`,
        file: async (d) => dirOf(d),
        damage: async (f) => {
          await rm(f, { recursive: true });
          await writeFile(f, 'x');
        },
      },
    );
    for (let i = 0; i < (store === 'chain' ? Number(process.env.ZI_ADV_FLIPS ?? 8) : 3); i++) {
      cases.push({ name: `${store}: .ldb bytes flipped (#${i})`, file: ldb, damage: flip(1 + (i % 3)) });
    }
  }
  cases.push(
    { name: 'wallet.json garbage', file: async (d) => walletPath(d), damage: garbage },
    { name: 'wallet.json truncated', file: async (d) => walletPath(d), damage: (f) => truncate(f, 40) },
    { name: 'wallet.json bytes flipped', file: async (d) => walletPath(d), damage: flip(3) },
    { name: 'peer.key garbage', file: async (d) => join(d, 'peer.key'), damage: garbage },
    { name: 'peer.key truncated', file: async (d) => join(d, 'peer.key'), damage: (f) => truncate(f, 10) },
    { name: '.cookie garbage', file: async (d) => cookiePath(d), damage: garbage },
    { name: 'mempool.dat garbage', file: async (d) => mempoolPath(d), damage: garbage },
    { name: 'mempool.dat truncated', file: async (d) => mempoolPath(d), damage: (f) => truncate(f, 60) },
    { name: 'mempool.dat bytes flipped', file: async (d) => mempoolPath(d), damage: flip(1) },
    { name: 'mempool.dat deleted', file: async (d) => mempoolPath(d), damage: unlink },
  );

  const tally = new Map<Outcome, number>();
  const lines: string[] = [];
  for (const [i, c] of cases.entries()) {
    const datadir = join(home, `case-${i}`);
    await cp(golden, datadir, { recursive: true });
    await c.damage(await c.file(datadir));
    const outcome = await attempt(datadir, c.name.startsWith('wallet'));
    tally.set(outcome.kind, (tally.get(outcome.kind) ?? 0) + 1);
    lines.push(`${c.name}: ${outcome.kind}${outcome.detail ? ` (${outcome.detail})` : ''}`);
    await rm(datadir, { recursive: true, force: true });
  }

  /** Starts a node on the damaged dir and reads everything back. */
  async function attempt(datadir: string, needsWallet: boolean): Promise<{ kind: Outcome; detail?: string }> {
    let n: ZiNode | undefined;
    try {
      n = await ZiNode.start(config(datadir, needsWallet), { logger: quietLogger });
      if (needsWallet) await n.miner?.stop();
      const got = await dump(n.chain);
      if (needsWallet) return { kind: 'wrong state', detail: 'a damaged wallet was used' };
      for (const part of ['tip', 'state', 'index'] as const) {
        if (JSON.stringify(got[part]) !== JSON.stringify(reference[part])) {
          const missing = (reference[part] as string[]).filter?.((x) => !(got[part] as string[]).includes(x));
          return {
            kind: 'wrong state',
            detail: `chain ${part} differs${missing ? `: lost ${missing.join(' ')}` : ''}`,
          };
        }
      }
      const bytes = await n.content!.get(cid, { timeoutMs: 500 });
      if (toHex(bytes) !== toHex(object)) return { kind: 'wrong state', detail: 'IPFS object differs' };
      if (!(await n.content!.isPinned(cid))) return { kind: 'known gap', detail: 'IPFS pin lost' };
      const kept = n.mempool.has(pending.hash());
      return { kind: 'recovered', detail: kept ? undefined : 'mempool started empty' };
    } catch (err) {
      if (!(err instanceof ZiError)) return { kind: 'crash', detail: String((err as Error)?.stack ?? err) };
      if (err.message.includes('\n')) return { kind: 'crash', detail: `two-line message: ${err.message}` };
      return { kind: 'typed error', detail: `${err.code}: ${err.message.replaceAll(datadir, '<datadir>')}` };
    } finally {
      await n?.stop();
    }
  }

  t.diagnostic(`seed ${seed}, ${cases.length} cases: ${[...tally].map(([k, v]) => `${v} ${k}`).join(', ')}`);
  for (const l of lines) t.diagnostic(l);
  const bad = lines.filter((l) => /: (wrong state|crash)/.test(l));
  assert.deepEqual(bad, [], 'every case ends in a typed error or a clean recovery');

  // Through the real binary: one line on stderr, no stack, exit code 1.
  const datadir = join(home, 'cli');
  await cp(golden, datadir, { recursive: true });
  await unlink(join(datadir, 'chain', 'CURRENT'));
  const r = await runZi(['node', '--datadir', datadir, '--rpc-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^error \[DB_MISSING\]: chain database file .*CURRENT is missing: .*zi node --reindex/);
  const fixed = await startNode(['--datadir', datadir, '--reindex']);
  assert.equal(await fixed.stop(), 0);
  assert.ok(fixed.logs.some((l) => l.msg === 'reindex progress' && l.done === 6 && l.total === 6));
  assert.ok(fixed.logs.some((l) => l.msg === 'reindex done' && l.height === 6 && l.repaired === true));
  assert.ok(fixed.logs.some((l) => l.msg === 'node started' && l.height === 6 && l.tip === reference.tip));
});
