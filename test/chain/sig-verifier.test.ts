import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { generatePrivateKey, publicKeyOf, sign } from '../../src/chain/keys.ts';
import { sigBackend } from '../../src/chain/libsecp.ts';
import { type SigItem, SignatureVerifier } from '../../src/chain/sig-verifier.ts';

function signed(n: number): SigItem[] {
  return Array.from({ length: n }, (_, i) => {
    const key = generatePrivateKey();
    const msg = new Uint8Array(32).fill(i);
    return { sig: sign(msg, key), msg, pub: publicKeyOf(key) };
  });
}

function spoiled(items: readonly SigItem[], at: number): SigItem[] {
  const out = items.slice();
  const sig = out[at]!.sig.slice();
  sig[10]! ^= 1;
  out[at] = { ...out[at]!, sig };
  return out;
}

describe('SignatureVerifier', () => {
  // One worker thread and this one: a 40-item batch is split between them.
  const verifier = new SignatureVerifier(1);
  after(() => verifier.close());
  const items = signed(40);

  it('verifies with libsecp256k1 here', () => {
    assert.equal(verifier.backend, 'libsecp256k1');
  });

  it('finds the first bad signature wherever it is in the batch', async () => {
    assert.equal(await verifier.firstInvalid(items), -1);
    for (const at of [0, 19, 20, 39]) assert.equal(await verifier.firstInvalid(spoiled(items, at)), at, `at ${at}`);
    assert.equal(await verifier.firstInvalid(spoiled(spoiled(items, 33), 25)), 25);
    assert.equal(await verifier.firstInvalid(spoiled(items.slice(0, 5), 3)), 3, 'a small batch, inline');
  });

  it('a worker that dies holding claimed chunks leaves nothing unchecked: this thread verifies the whole batch again', async () => {
    const own = new SignatureVerifier(1);
    after(() => own.close());
    await own.firstInvalid(items); // the worker is up
    const worker = (own as unknown as { workers: Worker[] }).workers[0]!;
    // The job never reaches the worker, yet every chunk counts as claimed: as if it had taken them all and died.
    let job: { buffer: SharedArrayBuffer; n: number } | undefined;
    worker.postMessage = (j: typeof job) => {
      job = j;
    };
    const batch = own.begin(spoiled(items, 30), new Uint8Array(32));
    Atomics.store(new Int32Array(job!.buffer, 0, 1), 0, job!.n);
    worker.emit('error', new Error('worker died'));
    assert.equal(await batch.finish(), 30);
    assert.equal(await own.firstInvalid(spoiled(items, 5)), 5, 'later batches are checked on this thread');
  });

  it('an aborted batch is left alone: a worker that gets it afterwards verifies none of it', async () => {
    const own = new SignatureVerifier(1);
    after(() => own.close());
    await own.firstInvalid(items);
    const worker = (own as unknown as { workers: Worker[] }).workers[0]!;
    const deliver = worker.postMessage.bind(worker);
    let job: { id: number; buffer: SharedArrayBuffer; n: number } | undefined;
    worker.postMessage = (j: typeof job) => {
      job = j;
    };
    own.begin(spoiled(items, 3), new Uint8Array(32)).abort();
    delete (worker as { postMessage?: unknown }).postMessage;
    const answered = new Promise((resolve) => worker.once('message', resolve));
    deliver(job);
    await answered;
    // Slot 1 holds the first bad index found; n means none: the bad signature at 3 was never looked at.
    assert.equal(Atomics.load(new Int32Array(job!.buffer, 0, 2), 1), job!.n);
    assert.equal(await own.firstInvalid(spoiled(items, 7)), 7, 'the next batch is verified as usual');
  });

  it('warm starts the threads before the first batch, and they keep no process alive', async () => {
    const own = new SignatureVerifier(1);
    after(() => own.close());
    const workers = () => (own as unknown as { workers: Worker[] }).workers;
    assert.equal(workers().length, 0, 'threads start on demand');
    own.warm();
    assert.equal(workers().length, 1);
    own.warm();
    assert.equal(workers().length, 1, 'warming twice starts nothing more');
    assert.equal(await own.firstInvalid(spoiled(items, 12)), 12);

    const script = `
      const { SignatureVerifier } = await import('${new URL('../../src/chain/sig-verifier.ts', import.meta.url).href}');
      new SignatureVerifier(1).warm();
      console.log('warmed');`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(child.signal, null, 'the process ended by itself, never closing its verifier');
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), 'warmed');
  });

  it('with ZI_SECP=openssl it verifies through OpenSSL and says so once', () => {
    const src = (f: string) => new URL(`../../src/chain/${f}`, import.meta.url).href;
    const script = `
      const { generatePrivateKey, publicKeyOf, sign } = await import('${src('keys.ts')}');
      const { SignatureVerifier } = await import('${src('sig-verifier.ts')}');
      const items = Array.from({ length: 40 }, (_, i) => {
        const key = generatePrivateKey();
        const msg = new Uint8Array(32).fill(i);
        return { sig: sign(msg, key), msg, pub: publicKeyOf(key) };
      });
      const a = new SignatureVerifier(1);
      const b = new SignatureVerifier(1);
      const good = await a.firstInvalid(items);
      items[30] = { ...items[30], pub: items[31].pub };
      const bad = await b.firstInvalid(items);
      await a.close();
      await b.close();
      console.log(JSON.stringify({ backend: a.backend, good, bad }));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, ZI_SECP: 'openssl' },
      encoding: 'utf8',
    });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), { backend: 'openssl', good: -1, bad: 30 });
    const warnings = child.stderr.match(/verifying signatures through OpenSSL/g) ?? [];
    assert.equal(warnings.length, 1, child.stderr);
    assert.match(child.stderr, /does not load \(disabled by ZI_SECP=openssl\)/);
    assert.equal(sigBackend, 'libsecp256k1', 'the variable is read by the child only');
  });
});
