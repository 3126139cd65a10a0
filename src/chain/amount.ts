import { DecodeError } from './errors.ts';
import { LI_PER_ZI } from './params.ts';

const ZI = /^(\d{1,11})(?:\.(\d{1,9}))?$/;
const LI = /^(\d{1,20})li$/i;

/**
 * "1.5" is 1.5 Zi; "250li" is 250 Li. Parsed as integers, never through a
 * float, so no amount is ever rounded.
 */
export function parseAmount(text: string): bigint {
  const s = text.trim();
  const li = LI.exec(s);
  if (li) return BigInt(li[1]!);
  const zi = ZI.exec(s);
  if (!zi) {
    throw new DecodeError(
      'BAD_VALUE',
      `"${text}" is not an amount: write Zi like 1.5 (up to 9 decimals) or Li like 250li`,
    );
  }
  return BigInt(zi[1]!) * LI_PER_ZI + BigInt((zi[2] ?? '').padEnd(9, '0'));
}

/** Li as Zi with only the decimals it needs: 1500000000n → "1.5". */
export function formatZi(li: bigint): string {
  const sign = li < 0n ? '-' : '';
  const abs = li < 0n ? -li : li;
  const whole = abs / LI_PER_ZI;
  const frac = (abs % LI_PER_ZI).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}${whole}${frac ? `.${frac}` : ''}`;
}
