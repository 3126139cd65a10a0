import { createHash } from 'node:crypto';

/**
 * An independent reference of the Validator assignment (DESIGN.md §5), for
 * the golden vectors: a textbook O(n·m) Levenshtein and a sort, sharing no
 * code with src/validator/assignment.ts.
 */
export interface RefStake {
  address: string;
  txid: string;
  amount: string;
  reserved: string;
  height: number;
  position: number;
  banned: boolean;
}

export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

export function referenceKey(blockHashHex: string, contractHex: string): string {
  return createHash('sha256')
    .update(Buffer.from(blockHashHex + contractHex, 'hex'))
    .digest('hex');
}

export function referenceWinner(
  stakes: readonly RefStake[],
  keyHex: string,
  budget: bigint,
  height: number,
  maturity: number,
): string | null {
  const ok = stakes.filter(
    (s) => !s.banned && s.height + maturity <= height && BigInt(s.amount) - BigInt(s.reserved) >= budget,
  );
  const ranked = ok
    .map((s) => ({ s, fit: levenshtein(keyHex, s.txid) }))
    .sort(
      (x, y) =>
        y.fit - x.fit ||
        (BigInt(y.s.amount) > BigInt(x.s.amount) ? 1 : BigInt(y.s.amount) < BigInt(x.s.amount) ? -1 : 0) ||
        x.s.height - y.s.height ||
        x.s.position - y.s.position,
    );
  return ranked[0]?.s.address ?? null;
}
