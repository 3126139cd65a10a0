import { ZiError } from '../chain/errors.ts';

export class OptionError extends ZiError<'BAD_OPTION'> {}

/** A command-line whole number within bounds, or a clear error naming the option. */
export function wholeNumber(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new OptionError('BAD_OPTION', `${what} must be a whole number from ${min} to ${max}`);
  }
  return n;
}
