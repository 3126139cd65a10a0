/** Markdown tables, so what a simulation prints is what docs/ECONOMICS.md shows. */
export function table(header: readonly string[], rows: readonly (readonly (string | number | bigint)[])[]): string {
  const cells = rows.map((r) => r.map(String));
  // Figures right-aligned, words left.
  const right = header.map((_, i) => cells.every((r) => /^(> |[-−+])?\d|^—$/.test(r[i] ?? '')));
  const width = header.map((h, i) => Math.max(h.length, 3, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    `| ${r.map((c, i) => (right[i] ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join(' | ')} |`;
  const rule = `|${width.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(header), rule, ...cells.map(line)].join('\n');
}

/** A probability or share with a fixed number of decimals. */
export function fixed(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '—';
}

export function percent(x: number, digits = 1): string {
  return `${(100 * x).toFixed(digits)} %`;
}

/** Thousands separated with commas, as the other docs write figures. */
export function whole(x: number | bigint): string {
  return (typeof x === 'bigint' ? x : Math.round(x)).toLocaleString('en-US');
}

const LI_PER_ZI = 1_000_000_000n;

/** Li as Zi with up to `digits` decimals (trailing zeros kept, so columns align). */
export function zi(li: bigint | number, digits = 2): string {
  const v = typeof li === 'bigint' ? Number(li) / Number(LI_PER_ZI) : li / Number(LI_PER_ZI);
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** An amount in Li when small (under 0.01 Zi), in Zi otherwise. */
export function amount(li: bigint | number): string {
  const v = typeof li === 'bigint' ? Number(li) : li;
  if (v === 0) return '0';
  return Math.abs(v) < 1e7 ? `${whole(v)} Li` : `${zi(v)} Zi`;
}
