import { ConfigError, wholeNumber } from '../node/config.ts';

/** A 64-hex id (txid, contract id), lower-cased, or a clear error naming it. */
export function hexId(text: string, what: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new ConfigError('BAD_OPTION', `${what} must be 64 hex characters, got "${short(text)}"`);
  }
  return text.toLowerCase();
}

/** `zi chain block` takes a height or a hash. */
export function blockRef(text: string): { height: number } | { hash: string } {
  if (/^\d+$/.test(text) || text.trim().startsWith('-')) {
    return { height: wholeNumber(text, 'block height', 0, Number.MAX_SAFE_INTEGER) };
  }
  if (/^[0-9a-fA-F]{64}$/.test(text)) return { hash: text.toLowerCase() };
  throw new ConfigError(
    'BAD_OPTION',
    `a block is named by its height (0, 1, …) or its hash (64 hex characters), got "${short(text)}"`,
  );
}

function short(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 80)}…`;
}

/**
 * A value the command cannot do without. Checked in the action rather than
 * by commander, so that it may come from the environment or zi.conf too.
 */
export function required(value: string | undefined, flag: string, example: string): string {
  if (value === undefined || value === '') {
    throw new ConfigError('BAD_OPTION', `${flag} is required, e.g. ${flag} ${example}`);
  }
  return value;
}
