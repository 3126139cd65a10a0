import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as secp from '@noble/secp256k1';
import {
  decryptKey,
  encryptKey,
  KeystoreError,
  type KeystoreFile,
  parseKeystore,
  readKeystore,
  serializeKeystore,
  writeKeystore,
} from '../../src/wallet/keystore.ts';

// Low scrypt cost keeps the suite fast; the default (2^15) is exercised once.
const N = 2 ** 10;
const ADDRESS = 'zi1qexampleaddressxyz';

function isKeystoreError(code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof KeystoreError, `expected KeystoreError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zi-keystore-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('encrypt/decrypt', () => {
  test('round trip returns the same private key', async () => {
    const key = secp.utils.randomSecretKey();
    const file = await encryptKey(key, 'correct horse', ADDRESS, { N });
    assert.equal(file.version, 1);
    assert.equal(file.address, ADDRESS);
    assert.equal(file.kdfparams.N, N);
    assert.deepEqual(await decryptKey(file, 'correct horse'), key);
  });

  test('default parameters are N=2^15 r=8 p=1 and are stored in the file', async () => {
    const key = secp.utils.randomSecretKey();
    const file = await encryptKey(key, 'pw', ADDRESS);
    assert.deepEqual([file.kdfparams.N, file.kdfparams.r, file.kdfparams.p], [2 ** 15, 8, 1]);
    assert.deepEqual(await decryptKey(file, 'pw'), key);
  });

  test('a wallet file written by zi 0.1 (scrypt in JavaScript) opens with the same key', async () => {
    const fixture = JSON.parse(await readFile(new URL('../fixtures/keystore-v1.json', import.meta.url), 'utf8'));
    const file = parseKeystore(JSON.stringify(fixture.file));
    assert.equal(Buffer.from(await decryptKey(file, 'correct horse')).toString('hex'), fixture.key);
  });

  test('the ciphertext does not contain the key, and two encryptions differ (random salt and nonce)', async () => {
    const key = secp.utils.randomSecretKey();
    const a = await encryptKey(key, 'pw', ADDRESS, { N });
    const b = await encryptKey(key, 'pw', ADDRESS, { N });
    const keyHex = Buffer.from(key).toString('hex');
    assert.ok(!serializeKeystore(a).includes(keyHex));
    assert.notEqual(a.kdfparams.salt, b.kdfparams.salt);
    assert.notEqual(a.cipherparams.nonce, b.cipherparams.nonce);
    assert.notEqual(a.ciphertext, b.ciphertext);
  });

  test('wrong passphrase → WRONG_PASSPHRASE, and the message holds neither key nor passphrase', async () => {
    const key = secp.utils.randomSecretKey();
    const file = await encryptKey(key, 'right-one', ADDRESS, { N });
    await assert.rejects(decryptKey(file, 'wrong-one'), (err: unknown) => {
      isKeystoreError('WRONG_PASSPHRASE')(err);
      const text = `${(err as Error).message} ${JSON.stringify(err)}`;
      assert.ok(!text.includes('right-one') && !text.includes('wrong-one'));
      assert.ok(!text.includes(Buffer.from(key).toString('hex')));
      return true;
    });
  });

  test('an edited address label makes decryption fail instead of passing silently', async () => {
    const file = await encryptKey(secp.utils.randomSecretKey(), 'pw', ADDRESS, { N });
    const forged: KeystoreFile = { ...file, address: 'zi1attackeraddress' };
    await assert.rejects(decryptKey(forged, 'pw'), isKeystoreError('WRONG_PASSPHRASE'));
  });

  test('a flipped ciphertext bit is detected', async () => {
    const file = await encryptKey(secp.utils.randomSecretKey(), 'pw', ADDRESS, { N });
    const c = file.ciphertext;
    const flipped = `${c.slice(0, 10)}${((Number.parseInt(c[10]!, 16) ^ 1) & 15).toString(16)}${c.slice(11)}`;
    await assert.rejects(decryptKey({ ...file, ciphertext: flipped }, 'pw'), isKeystoreError('WRONG_PASSPHRASE'));
  });

  test('an empty passphrase is refused on both sides', async () => {
    const key = secp.utils.randomSecretKey();
    await assert.rejects(encryptKey(key, '', ADDRESS, { N }), isKeystoreError('EMPTY_PASSPHRASE'));
    const file = await encryptKey(key, 'pw', ADDRESS, { N });
    await assert.rejects(decryptKey(file, ''), isKeystoreError('EMPTY_PASSPHRASE'));
  });

  test('composed and decomposed forms of the same passphrase unlock the same file', async () => {
    const key = secp.utils.randomSecretKey();
    const file = await encryptKey(key, 'caf\u00e9', ADDRESS, { N });
    assert.deepEqual(await decryptKey(file, 'cafe\u0301'), key);
  });

  test('invalid private keys and options are refused', async () => {
    await assert.rejects(encryptKey(new Uint8Array(31).fill(1), 'pw', ADDRESS, { N }), isKeystoreError('BAD_KEY'));
    await assert.rejects(encryptKey(new Uint8Array(32), 'pw', ADDRESS, { N }), isKeystoreError('BAD_KEY'));
    const overN = new Uint8Array(32).fill(0xff);
    await assert.rejects(encryptKey(overN, 'pw', ADDRESS, { N }), isKeystoreError('BAD_KEY'));
    const key = secp.utils.randomSecretKey();
    await assert.rejects(encryptKey(key, 'pw', ADDRESS, { N: 1000 }), isKeystoreError('BAD_OPTIONS'));
    await assert.rejects(encryptKey(key, 'pw', '', { N }), isKeystoreError('BAD_OPTIONS'));
    await assert.rejects(encryptKey(key, 'pw', 'zi1\nevil', { N }), isKeystoreError('BAD_OPTIONS'));
  });
});

describe('parseKeystore', () => {
  let good: KeystoreFile;
  before(async () => {
    good = await encryptKey(secp.utils.randomSecretKey(), 'pw', ADDRESS, { N });
  });

  test('parses what serializeKeystore writes', () => {
    assert.deepEqual(parseKeystore(serializeKeystore(good)), good);
  });

  const mutations: [string, (f: Record<string, unknown>) => unknown][] = [
    ['not JSON', () => '{"version":'],
    ['an array', () => [1]],
    ['version 2', (f) => ({ ...f, version: 2 })],
    ['version as string', (f) => ({ ...f, version: '1' })],
    ['missing ciphertext', (f) => ({ ...f, ciphertext: undefined })],
    ['unknown member', (f) => ({ ...f, extra: 1 })],
    ['other kdf', (f) => ({ ...f, kdf: 'pbkdf2' })],
    ['other cipher', (f) => ({ ...f, cipher: 'aes-128-ctr' })],
    ['N not a power of two', (f) => ({ ...f, kdfparams: { ...(f.kdfparams as object), N: 1000 } })],
    ['N that would need gigabytes', (f) => ({ ...f, kdfparams: { ...(f.kdfparams as object), N: 2 ** 24 } })],
    ['dkLen 16', (f) => ({ ...f, kdfparams: { ...(f.kdfparams as object), dkLen: 16 } })],
    ['short salt', (f) => ({ ...f, kdfparams: { ...(f.kdfparams as object), salt: 'abcd' } })],
    ['uppercase hex', (f) => ({ ...f, ciphertext: (f.ciphertext as string).toUpperCase() })],
    ['short ciphertext', (f) => ({ ...f, ciphertext: (f.ciphertext as string).slice(2) })],
    ['short nonce', (f) => ({ ...f, cipherparams: { nonce: '00' } })],
    ['bad date', (f) => ({ ...f, createdAt: 'yesterday' })],
    ['empty address', (f) => ({ ...f, address: '' })],
  ];
  for (const [name, mutate] of mutations) {
    test(`rejects ${name} with BAD_FILE`, () => {
      const mutated = mutate({ ...good } as unknown as Record<string, unknown>);
      const text = typeof mutated === 'string' ? mutated : JSON.stringify(mutated);
      assert.throws(() => parseKeystore(text), isKeystoreError('BAD_FILE'));
    });
  }

  test('decryptKey rejects a malformed object with BAD_FILE, not a crash', async () => {
    const broken = { ...good, cipherparams: { nonce: 'zz' } } as KeystoreFile;
    await assert.rejects(decryptKey(broken, 'pw'), isKeystoreError('BAD_FILE'));
  });
});

describe('files', () => {
  test('write then read round trips, with mode 0600 and no temp file left', async () => {
    const key = secp.utils.randomSecretKey();
    const file = await encryptKey(key, 'pw', ADDRESS, { N });
    const path = join(dir, 'sub', 'wallet.json');
    await writeKeystore(path, file);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(join(dir, 'sub')), ['wallet.json']);
    const back = await readKeystore(path);
    assert.equal(back.address, ADDRESS);
    assert.deepEqual(await decryptKey(back, 'pw'), key);
  });

  test('refuses to overwrite an existing keystore unless asked', async () => {
    const path = join(dir, 'exists.json');
    const first = await encryptKey(secp.utils.randomSecretKey(), 'pw', ADDRESS, { N });
    const second = await encryptKey(secp.utils.randomSecretKey(), 'pw', 'zi1second', { N });
    await writeKeystore(path, first);
    await assert.rejects(writeKeystore(path, second), isKeystoreError('EXISTS'));
    assert.equal((await readKeystore(path)).address, ADDRESS);
    assert.deepEqual(await readdir(dir).then((names) => names.filter((n) => n.endsWith('.tmp'))), []);
    await writeKeystore(path, second, { overwrite: true });
    assert.equal((await readKeystore(path)).address, 'zi1second');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  test('two concurrent creations: exactly one wins', async () => {
    const path = join(dir, 'race.json');
    const a = await encryptKey(secp.utils.randomSecretKey(), 'pw', 'zi1a', { N });
    const b = await encryptKey(secp.utils.randomSecretKey(), 'pw', 'zi1b', { N });
    const results = await Promise.allSettled([writeKeystore(path, a), writeKeystore(path, b)]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    isKeystoreError('EXISTS')(rejected.reason);
  });

  test('missing file → NOT_FOUND; garbage file → BAD_FILE naming the path', async () => {
    await assert.rejects(readKeystore(join(dir, 'nope.json')), isKeystoreError('NOT_FOUND'));
    const garbage = join(dir, 'garbage.json');
    await writeFile(garbage, 'not a keystore');
    await assert.rejects(readKeystore(garbage), (err: unknown) => {
      isKeystoreError('BAD_FILE')(err);
      assert.match((err as Error).message, /garbage\.json/);
      return true;
    });
  });

  test('a huge file is refused before it is parsed', async () => {
    const big = join(dir, 'big.json');
    await writeFile(big, `{"pad":"${'x'.repeat(200_000)}"}`);
    await assert.rejects(readKeystore(big), isKeystoreError('BAD_FILE'));
  });

  test('the file on disk is the documented JSON format', async () => {
    const path = join(dir, 'format.json');
    await writeKeystore(path, await encryptKey(secp.utils.randomSecretKey(), 'pw', ADDRESS, { N }));
    const json = JSON.parse(await readFile(path, 'utf8'));
    assert.deepEqual(Object.keys(json), [
      'version',
      'address',
      'kdf',
      'kdfparams',
      'cipher',
      'cipherparams',
      'ciphertext',
      'createdAt',
    ]);
    assert.equal(json.kdf, 'scrypt');
    assert.equal(json.cipher, 'xchacha20-poly1305');
    assert.equal(json.ciphertext.length, 96);
  });
});
