// The Zi explorer's only script, served by the node itself (no CDN, no
// build step): live sections follow the tip over server-sent events, times
// read as "… ago", and a contract's results are drawn from its paid batches.

const ago = (iso) => {
  const d = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(d)) return '';
  // A block stamped a moment ahead of this clock is "now", not the future; an end of activity is.
  const s = d > -5 ? Math.max(0, d) : -d;
  const span =
    s < 60
      ? `${s} s`
      : s < 3600
        ? `${Math.floor(s / 60)} min`
        : s < 86400
          ? `${Math.floor(s / 3600)} h`
          : `${Math.floor(s / 86400)} d`;
  return d > -5 ? `${span} ago` : `in ${span}`;
};

function times(root) {
  for (const t of root.querySelectorAll('time[datetime]')) {
    if (!t.title) t.title = t.textContent;
    t.textContent = ago(t.getAttribute('datetime'));
  }
}

/**
 * Fetches this page again and swaps each live section for its new version.
 * A tip that comes while a fetch is under way fetches once more after it:
 * dropped, the page stayed a block behind until the next block.
 */
let refreshing = false;
let again = false;
async function refresh() {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = true;
  again = false;
  try {
    const res = await fetch(location.href, { headers: { accept: 'text/html' } });
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
    for (const fresh of doc.querySelectorAll('[data-live]')) {
      const old = document.getElementById(fresh.id);
      if (old) {
        old.replaceWith(fresh);
        times(fresh);
      }
    }
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  } finally {
    refreshing = false;
    if (again) void refresh();
  }
}

function live() {
  const events = new EventSource('/api/events');
  const badge = document.getElementById('live');
  events.addEventListener('open', () => badge?.classList.add('on'));
  events.addEventListener('error', () => badge?.classList.remove('on'));
  let seen;
  events.addEventListener('tip', (e) => {
    const tip = JSON.parse(e.data);
    const a = document.getElementById('live-tip');
    if (a) {
      a.textContent = tip.height;
      a.href = `/block/${tip.height}`;
    }
    document.body.dataset.tip = String(tip.height);
    if (seen !== undefined && seen !== tip.hash) {
      void refresh();
      void drawResults();
    }
    seen = tip.hash;
  });
  events.addEventListener('mempool', (e) => {
    const m = JSON.parse(e.data);
    const c = document.getElementById('mempool-count');
    if (c) c.textContent = m.count.toLocaleString('en');
  });
}

// ------------------------------------------------------------------ results

/** One batch in its byte form (docs/CONTENT.md): its ranges and each output's truth. */
function decodeBatch(buf) {
  const v = new DataView(buf);
  if (v.getUint8(0) !== 1) throw new Error('unknown results format');
  let at = 33;
  const n = v.getUint16(at);
  at += 2;
  const ranges = [];
  for (let i = 0; i < n; i++, at += 16) {
    ranges.push([Number(v.getBigUint64(at)), Number(v.getBigUint64(at + 8))]);
  }
  const kind = v.getUint8(at++);
  const width = kind === 3 ? v.getUint8(at++) : 1;
  const count = ranges.reduce((s, [a, b]) => s + b - a, 0);
  let truth;
  if (kind === 1) truth = (k) => (v.getUint8(at + (k >> 3)) >> (k & 7)) & 1;
  else if (kind === 2 || kind === 3) truth = (k) => v.getFloat64(at + 8 * k * width, true) !== 0;
  else {
    const values = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, at)));
    truth = (k) => Boolean(values[k]);
  }
  return { ranges, count, truth };
}

const drawn = new Set();
let image;
let drawing = false;
async function drawResults() {
  const canvas = document.getElementById('results');
  if (!canvas || drawing) return;
  drawing = true;
  const status = document.getElementById('results-status');
  try {
    const W = canvas.width;
    const H = canvas.height;
    const ctx = canvas.getContext('2d');
    if (!image) {
      image = ctx.createImageData(W, H);
      for (let i = 0; i < image.data.length; i += 4) image.data.set([128, 128, 128, 255], i);
    }
    const id = canvas.dataset.contract;
    const res = await fetch(`/api/contract/${id}`);
    const contract = await res.json();
    let mcus = Number(canvas.dataset.drawn || 0);
    let failed = 0;
    for (const b of contract.batches) {
      if (drawn.has(b.start)) continue;
      const r = await fetch(`/api/contract/${id}/results/${b.start}`);
      if (!r.ok) {
        failed++;
        continue;
      }
      const batch = decodeBatch(await r.arrayBuffer());
      let k = 0;
      for (const [a, e] of batch.ranges) {
        for (let i = a; i < e; i++, k++) {
          const x = i % W;
          const y = H - 1 - Math.floor(i / W);
          if (y < 0) continue;
          const c = batch.truth(k) ? 0 : 255;
          image.data.set([c, c, c, 255], 4 * (y * W + x));
        }
      }
      drawn.add(b.start);
      mcus += batch.count;
      ctx.putImageData(image, 0, 0);
      canvas.dataset.drawn = String(mcus);
      canvas.dataset.batches = String(drawn.size);
    }
    ctx.putImageData(image, 0, 0);
    if (status) {
      status.textContent = `${mcus.toLocaleString('en')} MCUs drawn from ${drawn.size} paid batches${failed ? `; ${failed} not fetched yet` : ''}`;
    }
  } catch (err) {
    if (status) status.textContent = `results not drawn: ${err.message}`;
  } finally {
    drawing = false;
  }
}

document.addEventListener('DOMContentLoaded', () => {
  times(document);
  setInterval(() => times(document), 10000);
  live();
  void drawResults();
});
