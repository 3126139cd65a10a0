import { type Address, parseAddress } from '../chain/address.ts';
import { ZiError } from '../chain/errors.ts';

/** BAD_ID answers 400, NOT_FOUND 404, BUSY 503: each with a page or JSON saying why. */
export class ExplorerError extends ZiError<'BAD_ID' | 'NOT_FOUND' | 'BUSY' | 'NEEDS_REINDEX' | 'UNAVAILABLE'> {}

const HEX64 = /^[0-9a-f]{64}$/;

/** A block, transaction or contract id in a URL: exactly 64 lowercase or uppercase hex digits. */
export function parseHash(text: string, what: string): string {
  const s = text.toLowerCase();
  if (!HEX64.test(s)) {
    throw new ExplorerError('BAD_ID', `${what} id must be 64 hex digits, got ${quote(text)}`, { what });
  }
  return s;
}

/** A block in a URL: a height (decimal, no sign or leading zero) or a hash. */
export function parseBlockId(text: string): { height: number } | { hash: string } {
  if (/^(0|[1-9][0-9]{0,9})$/.test(text)) {
    const height = Number(text);
    if (height <= 0xffffffff) return { height };
  }
  if (/^[0-9]+$/.test(text) && text.length !== 64)
    throw new ExplorerError('BAD_ID', `block height ${quote(text)} is not a height`);
  return { hash: parseHash(text, 'block') };
}

export function parseAddressId(text: string, hrp: string): Address {
  try {
    return parseAddress(text, hrp);
  } catch (err) {
    throw new ExplorerError('BAD_ID', `${quote(text)} is not a ${hrp}1… address: ${(err as Error).message}`);
  }
}

/** A whole number from a query string, within bounds. */
export function parseCount(text: string | null, what: string, min: number, max: number): number | undefined {
  if (text === null) return undefined;
  if (!/^(0|[1-9][0-9]{0,9})$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new ExplorerError('BAD_ID', `${what} must be a whole number from ${min} to ${max}, got ${quote(text)}`);
  }
  return Number(text);
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
