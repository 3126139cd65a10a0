import { bech32m } from '@scure/base';
import { DecodeError } from './errors.ts';
import { sha256 } from './hash.ts';

export const ADDRESS_SIZE = 20;

/** 20 raw bytes; shown to people only through {@link formatAddress}. */
export type Address = Uint8Array;

export function addressOf(publicKey: Uint8Array): Address {
  return sha256(publicKey).subarray(0, ADDRESS_SIZE);
}

/**
 * The reserved address the paper calls `000`: stakes and appeals are paid to
 * it. No key hashes to it, so what is sent there only moves by protocol rules.
 */
export const RESERVED_ADDRESS: Address = new Uint8Array(ADDRESS_SIZE);

/** bech32m with the network's prefix: a typo fails the checksum instead of losing money. */
export function formatAddress(address: Address, hrp: string): string {
  if (address.length !== ADDRESS_SIZE) throw new RangeError('address must be 20 bytes');
  return bech32m.encode(hrp, bech32m.toWords(address));
}

export function parseAddress(text: string, hrp: string): Address {
  if (typeof text !== 'string' || text.length > 90) {
    throw new DecodeError('BAD_ADDRESS', 'not an address', { input: String(text).slice(0, 100) });
  }
  if (text === '000') return RESERVED_ADDRESS.slice();
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32m.decode(text as `${string}1${string}`);
  } catch (err) {
    throw new DecodeError(
      'BAD_ADDRESS',
      `"${text}" is not a valid Zi address (checksum or characters are wrong; check for a typo)`,
      { input: text },
      { cause: err },
    );
  }
  if (decoded.prefix !== hrp) {
    throw new DecodeError(
      'BAD_ADDRESS',
      `"${text}" is an address for another network (prefix "${decoded.prefix}", this network uses "${hrp}")`,
      { input: text, prefix: decoded.prefix, expected: hrp },
    );
  }
  let bytes: Uint8Array | undefined;
  try {
    bytes = bech32m.fromWords(decoded.words);
  } catch {
    // Leftover padding bits: a well-formed string, but not bytes at all.
  }
  if (bytes?.length !== ADDRESS_SIZE) {
    throw new DecodeError('BAD_ADDRESS', `"${text}" does not hold 20 bytes`, { input: text });
  }
  return bytes;
}
