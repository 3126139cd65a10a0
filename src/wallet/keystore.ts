/**
 * Encrypted keystore: one secp256k1 private key per file, sealed with a
 * passphrase (scrypt → XChaCha20-Poly1305). The address is kept in clear so
 * `zi wallet address` needs no passphrase; it is also bound into the AEAD's
 * associated data, so an edited label makes decryption fail instead of
 * silently showing somebody else's address.
 */
import { randomBytes, scrypt } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import * as secp from '@noble/secp256k1';
import { makeDirs } from '../chain/dirs.ts';
import { ZiError } from '../chain/errors.ts';

export type KeystoreErrorCode =
  | 'BAD_FILE'
  | 'BAD_KEY'
  | 'BAD_OPTIONS'
  | 'WRONG_PASSPHRASE'
  | 'EMPTY_PASSPHRASE'
  | 'EXISTS'
  | 'NOT_FOUND'
  | 'IO';

export class KeystoreError extends ZiError<KeystoreErrorCode> {}

export const KEYSTORE_VERSION = 1;
export const KDF = 'scrypt';
export const CIPHER = 'xchacha20-poly1305';
/** N = 2^15, r = 8: ≈ 32 MiB and a fraction of a second per unlock. */
export const DEFAULT_SCRYPT_N = 2 ** 15;
export const DEFAULT_SCRYPT_R = 8;
export const DEFAULT_SCRYPT_P = 1;

const KEY_BYTES = 32;
const SALT_BYTES = 32;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;
const DK_LEN = 32;
/** A keystore is < 1 KiB; anything much larger is not one, so refuse before reading it all. */
const MAX_FILE_BYTES = 64 * 1024;
const MAX_ADDRESS_LENGTH = 128;
/**
 * Bounds on parameters read from a file: a crafted file must not make the
 * node allocate gigabytes or spin for minutes before saying "bad file".
 * 128·N·r ≤ 256 MiB.
 */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;
const MAX_SCRYPT_P = 16;

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
  dkLen: number;
  /** hex, 32 bytes */
  salt: string;
}

export interface KeystoreFile {
  version: 1;
  /** Label in clear, authenticated by the AEAD. */
  address: string;
  kdf: 'scrypt';
  kdfparams: ScryptParams;
  cipher: 'xchacha20-poly1305';
  cipherparams: { /** hex, 24 bytes */ nonce: string };
  /** hex: 32-byte key ‖ 16-byte Poly1305 tag */
  ciphertext: string;
  /** ISO-8601 */
  createdAt: string;
}

export interface EncryptOptions {
  /** scrypt cost; a power of two. Tests pass a low value to stay fast. */
  N?: number;
  r?: number;
  p?: number;
  /** Fixed clock for reproducible files. */
  now?: Date;
}

export async function encryptKey(
  privateKey: Uint8Array,
  passphrase: string,
  address: string,
  opts: EncryptOptions = {},
): Promise<KeystoreFile> {
  if (
    !(privateKey instanceof Uint8Array) ||
    privateKey.length !== KEY_BYTES ||
    !secp.utils.isValidSecretKey(privateKey)
  ) {
    throw new KeystoreError('BAD_KEY', 'not a valid secp256k1 private key (32 bytes, 1 ≤ k < n)');
  }
  checkAddress(address, 'BAD_OPTIONS');
  const passBytes = passphraseBytes(passphrase);
  const N = opts.N ?? DEFAULT_SCRYPT_N;
  const r = opts.r ?? DEFAULT_SCRYPT_R;
  const p = opts.p ?? DEFAULT_SCRYPT_P;
  const bad = scryptParamProblem(N, r, p);
  if (bad) throw new KeystoreError('BAD_OPTIONS', `scrypt parameters: ${bad}`, { N, r, p });

  const kdfparams: ScryptParams = { N, r, p, dkLen: DK_LEN, salt: toHex(randomBytes(SALT_BYTES)) };
  const nonce = randomBytes(NONCE_BYTES);
  const key = await deriveKey(passBytes, kdfparams);
  try {
    const sealed = xchacha20poly1305(key, nonce, associatedData(address, kdfparams)).encrypt(privateKey);
    return {
      version: KEYSTORE_VERSION,
      address,
      kdf: KDF,
      kdfparams,
      cipher: CIPHER,
      cipherparams: { nonce: toHex(nonce) },
      ciphertext: toHex(sealed),
      createdAt: (opts.now ?? new Date()).toISOString(),
    };
  } finally {
    key.fill(0);
    passBytes.fill(0);
  }
}

export async function decryptKey(file: KeystoreFile, passphrase: string): Promise<Uint8Array> {
  // Callers may hand in an object they built themselves: re-check it so a
  // malformed one fails as BAD_FILE, not as a crash inside the cipher.
  const checked = validateKeystore(file);
  const passBytes = passphraseBytes(passphrase);
  const key = await deriveKey(passBytes, checked.kdfparams);
  try {
    const cipher = xchacha20poly1305(
      key,
      fromHex(checked.cipherparams.nonce),
      associatedData(checked.address, checked.kdfparams),
    );
    let plain: Uint8Array;
    try {
      plain = cipher.decrypt(fromHex(checked.ciphertext));
    } catch {
      throw new KeystoreError(
        'WRONG_PASSPHRASE',
        `wrong passphrase for the keystore of ${checked.address} (or the file was altered)`,
        { address: checked.address },
      );
    }
    if (!secp.utils.isValidSecretKey(plain)) {
      plain.fill(0);
      throw new KeystoreError('BAD_FILE', 'keystore decrypts to an invalid private key');
    }
    return plain;
  } finally {
    key.fill(0);
    passBytes.fill(0);
  }
}

/** Strict: exact key set, exact types, exact hex lengths; anything else is BAD_FILE. */
export function parseKeystore(text: string): KeystoreFile {
  if (typeof text !== 'string') throw badFile('keystore text must be a string');
  if (text.length > MAX_FILE_BYTES) throw badFile(`keystore is larger than ${MAX_FILE_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badFile('keystore is not valid JSON');
  }
  return validateKeystore(value);
}

export function serializeKeystore(file: KeystoreFile): string {
  const f = validateKeystore(file);
  // Fixed member order so files diff cleanly and look alike.
  const ordered: KeystoreFile = {
    version: f.version,
    address: f.address,
    kdf: f.kdf,
    kdfparams: {
      N: f.kdfparams.N,
      r: f.kdfparams.r,
      p: f.kdfparams.p,
      dkLen: f.kdfparams.dkLen,
      salt: f.kdfparams.salt,
    },
    cipher: f.cipher,
    cipherparams: { nonce: f.cipherparams.nonce },
    ciphertext: f.ciphertext,
    createdAt: f.createdAt,
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/**
 * Atomic: the file appears complete or not at all, even across a crash.
 * Without `overwrite`, an existing file is never replaced — link(2) fails
 * with EEXIST, so two concurrent `zi wallet create` cannot both win.
 */
export async function writeKeystore(
  path: string,
  file: KeystoreFile,
  opts: { overwrite?: boolean } = {},
): Promise<void> {
  const text = serializeKeystore(file);
  const dir = dirname(path);
  await makeDirs(dir, 0o700);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (opts.overwrite) {
      await rename(tmp, path);
    } else {
      await linkNoClobber(tmp, path);
    }
    await syncDir(dir);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    if (err instanceof KeystoreError) throw err;
    throw new KeystoreError('IO', `cannot write keystore ${path}: ${ioReason(err)}`, { path }, { cause: err });
  }
}

export async function readKeystore(path: string): Promise<KeystoreFile> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new KeystoreError('BAD_FILE', `${path} is not a file`, { path });
    if (info.size > MAX_FILE_BYTES) {
      throw new KeystoreError('BAD_FILE', `${path} is larger than ${MAX_FILE_BYTES} bytes: not a keystore`, { path });
    }
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof KeystoreError) throw err;
    if (errno(err) === 'ENOENT') {
      throw new KeystoreError(
        'NOT_FOUND',
        `no keystore at ${path} (create one with \`zi wallet create --wallet ${path}\`)`,
        { path },
      );
    }
    throw new KeystoreError('IO', `cannot read keystore ${path}: ${ioReason(err)}`, { path }, { cause: err });
  }
  try {
    return parseKeystore(text);
  } catch (err) {
    if (err instanceof KeystoreError) {
      throw new KeystoreError(err.code, `${path}: ${err.message}`, { ...err.meta, path });
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------

/** OpenSSL's scrypt on libuv's thread pool: about twice as fast as a JavaScript one, and off the event loop. */
function deriveKey(passBytes: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    scrypt(
      passBytes,
      fromHex(params.salt),
      params.dkLen,
      { N: params.N, r: params.r, p: params.p, maxmem: MAX_SCRYPT_MEMORY + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(new Uint8Array(key.buffer, key.byteOffset, key.length))),
    ),
  );
}

/**
 * NFKC so the same passphrase typed on two systems (composed vs decomposed
 * accents) unlocks the same file.
 */
function passphraseBytes(passphrase: string): Uint8Array {
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new KeystoreError('EMPTY_PASSPHRASE', 'an empty passphrase is not allowed');
  }
  return new TextEncoder().encode(passphrase.normalize('NFKC'));
}

/** Binds the clear-text label and KDF parameters to the ciphertext. */
function associatedData(address: string, p: ScryptParams): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify(['zi-keystore', KEYSTORE_VERSION, address, KDF, p.N, p.r, p.p, p.dkLen, p.salt, CIPHER]),
  );
}

function scryptParamProblem(N: unknown, r: unknown, p: unknown): string | undefined {
  if (!Number.isSafeInteger(N) || (N as number) < 2 || ((N as number) & ((N as number) - 1)) !== 0) {
    return 'N must be a power of two ≥ 2';
  }
  if (!Number.isSafeInteger(r) || (r as number) < 1) return 'r must be a positive integer';
  if (!Number.isSafeInteger(p) || (p as number) < 1 || (p as number) > MAX_SCRYPT_P) {
    return `p must be an integer in 1..${MAX_SCRYPT_P}`;
  }
  if (128 * (N as number) * (r as number) > MAX_SCRYPT_MEMORY) {
    return `128·N·r exceeds ${MAX_SCRYPT_MEMORY} bytes`;
  }
  return undefined;
}

function validateKeystore(value: unknown): KeystoreFile {
  const o = expectObject(value, 'keystore');
  exactKeys(
    o,
    ['version', 'address', 'kdf', 'kdfparams', 'cipher', 'cipherparams', 'ciphertext', 'createdAt'],
    'keystore',
  );
  if (o.version !== KEYSTORE_VERSION) {
    throw badFile(`unsupported keystore version ${JSON.stringify(o.version)} (this node reads version 1)`);
  }
  checkAddress(o.address, 'BAD_FILE');
  if (o.kdf !== KDF) throw badFile(`unsupported kdf ${JSON.stringify(o.kdf)}`);
  if (o.cipher !== CIPHER) throw badFile(`unsupported cipher ${JSON.stringify(o.cipher)}`);

  const kp = expectObject(o.kdfparams, 'kdfparams');
  exactKeys(kp, ['N', 'r', 'p', 'dkLen', 'salt'], 'kdfparams');
  const bad = scryptParamProblem(kp.N, kp.r, kp.p);
  if (bad) throw badFile(`kdfparams: ${bad}`);
  if (kp.dkLen !== DK_LEN) throw badFile(`kdfparams.dkLen must be ${DK_LEN}`);
  checkHex(kp.salt, SALT_BYTES, 'kdfparams.salt');

  const cp = expectObject(o.cipherparams, 'cipherparams');
  exactKeys(cp, ['nonce'], 'cipherparams');
  checkHex(cp.nonce, NONCE_BYTES, 'cipherparams.nonce');
  checkHex(o.ciphertext, KEY_BYTES + TAG_BYTES, 'ciphertext');

  if (typeof o.createdAt !== 'string' || o.createdAt.length > 64 || Number.isNaN(Date.parse(o.createdAt))) {
    throw badFile('createdAt must be an ISO-8601 date');
  }
  return o as unknown as KeystoreFile;
}

function expectObject(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badFile(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

function exactKeys(o: Record<string, unknown>, keys: readonly string[], what: string): void {
  for (const k of keys) if (!Object.hasOwn(o, k)) throw badFile(`${what} lacks "${k}"`);
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw badFile(`${what} has unknown member "${k}"`);
}

function checkHex(v: unknown, bytes: number, what: string): void {
  if (typeof v !== 'string' || v.length !== bytes * 2 || !/^[0-9a-f]*$/.test(v)) {
    throw badFile(`${what} must be ${bytes * 2} lowercase hex digits`);
  }
}

function checkAddress(v: unknown, code: 'BAD_FILE' | 'BAD_OPTIONS'): asserts v is string {
  // Printable ASCII only: the label is shown on terminals, so no control codes.
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_ADDRESS_LENGTH || !/^[\x21-\x7e]+$/.test(v)) {
    throw new KeystoreError(code, `address must be 1..${MAX_ADDRESS_LENGTH} printable ASCII characters`);
  }
}

function badFile(message: string): KeystoreError {
  return new KeystoreError('BAD_FILE', message);
}

async function linkNoClobber(tmp: string, path: string): Promise<void> {
  try {
    await link(tmp, path);
  } catch (err) {
    const code = errno(err);
    if (code === 'EEXIST') {
      throw new KeystoreError('EXISTS', `a keystore already exists at ${path}; refusing to overwrite it`, { path });
    }
    // Filesystems without hard links: check-then-rename (racy, but still never
    // clobbers a file that existed before we started).
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP') {
      const exists = await stat(path).then(
        () => true,
        () => false,
      );
      if (exists) {
        throw new KeystoreError('EXISTS', `a keystore already exists at ${path}; refusing to overwrite it`, { path });
      }
      await rename(tmp, path);
      return;
    }
    throw err;
  }
  await unlink(tmp);
}

/** Makes the rename itself durable; not every platform can fsync a directory. */
async function syncDir(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => {});
  }
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function ioReason(err: unknown): string {
  return errno(err) ?? (err instanceof Error ? err.message : 'unknown error');
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function fromHex(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h, 'hex'));
}
