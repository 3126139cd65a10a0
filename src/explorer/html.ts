import { formatZi } from '../chain/amount.ts';
import { LI_PER_ZI } from '../chain/params.ts';

/**
 * The pieces every page is made of. Every value that reaches HTML goes
 * through esc() (or a helper that calls it): a memo, a contract's code or an
 * error message is text, never markup.
 */

/** Markup that is already safe, as opposed to a string still to be escaped. */
export class Html {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(value: unknown): string {
  if (value instanceof Html) return value.text;
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A template tag: interpolated values are escaped unless they are Html (or arrays of it). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += Array.isArray(v) ? v.map(esc).join('') : esc(v);
    out += strings[i + 1]!;
  });
  return new Html(out);
}

export const raw = (text: string) => new Html(text);

/** Li as a number a person reads: Zi from a thousandth of a Zi up, Li below. */
export function li(value: unknown): string {
  if (value === null || value === undefined) return '—';
  const v = BigInt(value as bigint | string | number);
  const abs = v < 0n ? -v : v;
  if (abs >= LI_PER_ZI / 1000n) return `${formatZi(v)} Zi`;
  return `${v.toLocaleString('en')} Li`;
}

/** A signed amount: +1.5 Zi or −20 Li. */
export function signedLi(value: unknown): Html {
  const v = BigInt(value as bigint | string | number);
  const cls = v > 0n ? 'in' : v < 0n ? 'out' : 'zero';
  return html`<span class="${cls}">${v > 0n ? '+' : ''}${li(v)}</span>`;
}

export function num(value: unknown, digits = 0): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'bigint') return value.toLocaleString('en');
  const n = Number(value);
  return Number.isFinite(n) ? n.toLocaleString('en', { maximumFractionDigits: digits }) : '—';
}

export function short(id: unknown, n = 12): string {
  const s = String(id ?? '');
  return s.length > n + 2 ? `${s.slice(0, n)}…` : s;
}

export function hashrate(hps: number | null): string {
  if (hps === null) return '—';
  const units = ['H/s', 'kH/s', 'MH/s', 'GH/s', 'TH/s', 'PH/s'];
  let v = hps;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toLocaleString('en', { maximumFractionDigits: 2 })} ${units[u]}`;
}

export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** An ISO time, shown in UTC; the script turns it into "… ago" in the browser. */
export function time(iso: unknown): Html {
  const s = String(iso ?? '');
  return html`<time datetime="${s}">${s.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}</time>`;
}

export const link = (href: string, text: unknown, cls = '') =>
  html`<a href="${href}"${cls ? raw(` class="${esc(cls)}"`) : ''}>${text}</a>`;
export const blockLink = (hashOrHeight: unknown, text?: unknown) =>
  link(`/block/${hashOrHeight}`, text ?? short(hashOrHeight), 'mono');
export const txLink = (id: unknown) => link(`/tx/${id}`, short(id), 'mono');
export const contractLink = (id: unknown) => link(`/contract/${id}`, short(id), 'mono');
export const addressLink = (a: unknown) => (a ? link(`/address/${a}`, short(a, 16), 'mono') : raw('—'));

/** A bar of [start, end) ranges over `size` (the paid ranges of a contract), or one fraction. */
export function rangesBar(ranges: readonly [number, number][], size: number, cls = 'bar'): Html {
  const W = 1000;
  const rects =
    size > 0
      ? ranges.map(([a, b]) => {
          const x = (a / size) * W;
          const w = Math.max(0.5, ((b - a) / size) * W);
          return `<rect x="${x.toFixed(2)}" y="0" width="${w.toFixed(2)}" height="10" class="fill"/>`;
        })
      : [];
  return raw(
    `<svg class="${esc(cls)}" viewBox="0 0 ${W} 10" preserveAspectRatio="none" role="img" aria-label="paid ranges"><rect x="0" y="0" width="${W}" height="10" class="track"/>${rects.join('')}</svg>`,
  );
}

export function fractionBar(fraction: number | null): Html {
  if (fraction === null) return raw('<span class="muted">size unknown</span>');
  const pct = Math.max(0, Math.min(1, fraction));
  return html`${rangesBar([[0, pct * 1e6]], 1e6, 'bar small')} <span class="pct">${(pct * 100).toFixed(1)}%</span>`;
}

export interface Series {
  name: string;
  cls: string;
  points: readonly { x: number; y: number }[];
}

/** A line chart as inline SVG: each series on its own scale (left axis the first, right the second). */
export function lineChart(series: readonly Series[], opts: { xLabel: string; height?: number }): Html {
  const W = 760;
  const H = opts.height ?? 220;
  const pad = { l: 48, r: 48, t: 12, b: 28 };
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  if (xs.length === 0) return raw('<p class="muted">no blocks yet</p>');
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  const sx = (x: number) => pad.l + ((x - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const parts: string[] = [];
  series.forEach((s, i) => {
    const ys = s.points.map((p) => p.y);
    const y0 = Math.min(0, ...ys);
    const y1 = Math.max(...ys, y0 + 1);
    const sy = (y: number) => H - pad.b - ((y - y0) / (y1 - y0)) * (H - pad.t - pad.b);
    const d = s.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" class="line ${esc(s.cls)}"/>`);
    const ax = i === 0 ? pad.l - 6 : W - pad.r + 6;
    const anchor = i === 0 ? 'end' : 'start';
    for (const v of [y0, (y0 + y1) / 2, y1]) {
      const label = Number.isInteger(v) ? String(v) : v.toFixed(2);
      parts.push(
        `<text x="${ax}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="${anchor}" class="axis ${esc(s.cls)}">${esc(label)}</text>`,
      );
    }
  });
  for (const v of [x0, Math.round((x0 + x1) / 2), x1]) {
    parts.push(`<text x="${sx(v).toFixed(1)}" y="${H - 8}" text-anchor="middle" class="axis">${esc(v)}</text>`);
  }
  parts.push(`<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" class="grid"/>`);
  const legend = series.map((s) => `<span class="key ${esc(s.cls)}">${esc(s.name)}</span>`).join(' ');
  return raw(
    `<figure class="chart"><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(series.map((s) => s.name).join(' and '))} by ${esc(opts.xLabel)}">${parts.join('')}</svg><figcaption>${legend} <span class="muted">by ${esc(opts.xLabel)}</span></figcaption></figure>`,
  );
}

export function table(head: readonly string[], rows: readonly (readonly unknown[])[], empty = 'none'): Html {
  if (rows.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<table><thead><tr>${head.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows.map(
    (r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`,
  )}</tbody></table>`;
}

/** A two-column list of facts. */
export function facts(rows: readonly (readonly [string, unknown])[]): Html {
  return html`<dl class="facts">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

const NAV: [string, string][] = [
  ['/', 'Home'],
  ['/contracts', 'Contracts'],
  ['/solvers', 'Solvers'],
  ['/validators', 'Validators'],
  ['/audits', 'Audits'],
  ['/fund', 'Fund'],
];

export function layout(p: {
  title: string;
  network: string;
  tip: number;
  body: Html;
  path: string;
  status?: number;
}): string {
  const nav = NAV.map(([href, name]) =>
    p.path === href || (href !== '/' && p.path.startsWith(href))
      ? html`<a href="${href}" class="here">${name}</a>`
      : link(href, name),
  );
  return `<!doctype html>
${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${p.title} · Zi explorer</title><link rel="stylesheet" href="/assets/explorer.css"><link rel="icon" href="data:,">
<script src="/assets/explorer.js" defer></script></head>
<body><header><a href="/" class="brand">Zi <span>${p.network}</span></a><nav>${nav}</nav>
<form action="/search" method="get" class="search"><input name="q" placeholder="height, id, prefix or address" aria-label="search" autocomplete="off"><button>Search</button></form>
<span class="live" id="live" title="live: the page follows the tip">tip <a href="/block/${p.tip}" id="live-tip">${p.tip}</a></span></header>
<main id="main">${p.body}</main>
<footer>Read-only explorer served by this Zi node · <a href="/api">JSON API</a></footer></body></html>`}`;
}
