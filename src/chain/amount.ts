import { ZiError } from './errors.ts';
import { LI_PER_ZI } from './params.ts';

const ZI = /^(\d{1,11})(?:\.(\d{1,9}))?$/;
const LI = /^(\d{1,20})li$/i;

/** The most any amount field holds (a u64 of Li). */
export const MAX_AMOUNT = 0xffff_ffff_ffff_ffffn;

export class AmountError extends ZiError<'BAD_AMOUNT' | 'NEGATIVE_AMOUNT' | 'AMOUNT_TOO_LARGE', { text: string }> {}

/**
 * "1.5" is 1.5 Zi; "250li" is 250 Li. Parsed as integers, never through a
 * float, so no amount is ever rounded. `what` names the value in errors
 * (e.g. "--fee").
 */
export function parseAmount(text: string, what = 'amount'): bigint {
  const s = text.trim();
  if (s.startsWith('-')) {
    throw new AmountError('NEGATIVE_AMOUNT', `${what} must not be negative, got "${text}"`, { text });
  }
  const li = LI.exec(s);
  const zi = li ? undefined : ZI.exec(s);
  if (!li && !zi) {
    throw new AmountError(
      'BAD_AMOUNT',
      `${what} "${text}" is not valid: write Zi like 1.5 (up to 9 decimals) or Li like 250li`,
      { text },
    );
  }
  const amount = li ? BigInt(li[1]!) : BigInt(zi![1]!) * LI_PER_ZI + BigInt((zi![2] ?? '').padEnd(9, '0'));
  if (amount > MAX_AMOUNT) {
    throw new AmountError(
      'AMOUNT_TOO_LARGE',
      `${what} "${text}" is too large: at most ${formatZi(MAX_AMOUNT)} Zi (${MAX_AMOUNT}li)`,
      { text },
    );
  }
  return amount;
}

/** Li as Zi with only the decimals it needs: 1500000000n → "1.5". */
export function formatZi(li: bigint): string {
  const sign = li < 0n ? '-' : '';
  const abs = li < 0n ? -li : li;
  const whole = abs / LI_PER_ZI;
  const frac = (abs % LI_PER_ZI).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}${whole}${frac ? `.${frac}` : ''}`;
}
