/**
 * libsecp256k1 (Bitcoin Core's library) through the `secp256k1` package's
 * prebuilt N-API binding: several times OpenSSL's verification rate
 * (DESIGN.md §1, §8). When the binding cannot load, keys.ts verifies through
 * OpenSSL (node:crypto) instead, and the node says so once at start.
 * `ZI_SECP=openssl` ignores the binding as if it had not loaded (tests, benchmarks).
 */
import { createRequire } from 'node:module';

export type SigBackend = 'libsecp256k1' | 'openssl';

interface Binding {
  /** 64-byte compact r ‖ s, 32-byte digest, 33- or 65-byte point; throws on a signature or point that does not parse. */
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, pub: Uint8Array): boolean;
}

function load(): { binding: Binding | null; error: string | null } {
  if (process.env.ZI_SECP === 'openssl') return { binding: null, error: 'disabled by ZI_SECP=openssl' };
  try {
    // Not the package's index.js: that falls back to elliptic (pure JS, slower than OpenSSL) without a word.
    const require = createRequire(import.meta.url);
    return { binding: require('secp256k1/bindings.js') as Binding, error: null };
  } catch (err) {
    return { binding: null, error: (err as Error).message.split('\n')[0]! };
  }
}

const loaded = load();

/** The binding, or null when signatures go through OpenSSL. */
export const libsecp: Binding | null = loaded.binding;

export const sigBackend: SigBackend = libsecp ? 'libsecp256k1' : 'openssl';

/** Why this process verifies slower than it could, or undefined; the verifier warns once when a chain opens. */
export const sigBackendWarning: string | undefined = libsecp
  ? undefined
  : `libsecp256k1 (the secp256k1 package's binding) does not load (${loaded.error}); verifying signatures through OpenSSL, several times slower.${process.env.ZI_SECP === 'openssl' ? '' : " Reinstall with 'npm install'."}`;
