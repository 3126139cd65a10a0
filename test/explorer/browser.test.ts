import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { loadContract } from '../../src/sandbox/index.ts';
import { outputAt } from '../../src/sandbox/outputs.ts';
import { until } from '../support/node.ts';
import { explorerNetwork, MANDELBROT_SIZE, mandelbrotCode } from './network.ts';

/**
 * The explorer in a real headless Chromium (Debian's `chromium` package,
 * which .ci/run installs; no browser is downloaded): pages of a running
 * local network, live updates, the Mandelbrot image filling in, search, and
 * no request anywhere but 127.0.0.1. Screenshots go to test-artifacts/.
 */

const CHROMIUM = process.env.ZI_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');

async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) or set ZI_CHROMIUM; .ci/run installs it`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/**
 * Page callbacks reach the DOM through globalThis: this program is typed for
 * Node, not the DOM, and the pages' CSP forbids evaluating text instead.
 */
// biome-ignore lint/suspicious/noExplicitAny: DOM objects are not typed here
type Dom = any;

const text = async (page: Page, selector: string) => (await page.locator(selector).textContent()) ?? '';

async function shot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `explorer-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

test('the explorer in Chromium: home, live tip, a block, a transaction, the contract filling in, search, all on 127.0.0.1', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const net = await explorerNetwork(t);
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const requests: string[] = [];
  const outside: string[] = [];
  // Anything not for this machine is refused and remembered: the explorer must need nothing else.
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    requests.push(url.href);
    if (url.protocol === 'data:' || url.hostname === '127.0.0.1') return route.continue();
    outside.push(url.href);
    return route.abort();
  });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });

  // Home: the tip, the chart and recent blocks; the tip moves without a reload.
  await page.goto(net.url);
  assert.match(await text(page, 'h1'), /Zi devnet/);
  assert.equal(await page.locator('figure.chart path.line').count(), 2, 'difficulty and |Po| are drawn');
  const first = Number(await text(page, '#live-tip'));
  await page.waitForFunction((h) => Number((globalThis as Dom).document.body.dataset.tip ?? 0) > h, first, {
    timeout: 15_000,
  });
  await page.waitForFunction(() => Number((globalThis as Dom).document.body.dataset.updates ?? 0) >= 1, undefined, {
    timeout: 15_000,
  });
  const newest = Number(await text(page, '#recent tbody tr:first-child td:first-child'));
  assert.ok(newest > first, `the recent blocks follow the tip (${newest} after ${first})`);
  await shot(page, 'home');

  // The contract page before any payout: an empty (grey) image, then the Solver starts and it fills in live.
  await page.goto(`${net.url}contract/${net.contract}`);
  assert.equal(await page.locator('canvas#results').getAttribute('data-drawn'), '0');
  await net.startSolver();
  await page.waitForFunction(
    (size) => Number((globalThis as Dom).document.getElementById('results')?.dataset.drawn) === size,
    MANDELBROT_SIZE,
    {
      timeout: 60_000,
    },
  );
  // Every pixel as the contract computes it here: black inside the set, white outside, rows from the bottom.
  const pixels = await page.evaluate(() => {
    const c = (globalThis as Dom).document.getElementById('results');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height);
    return {
      w: c.width as number,
      h: c.height as number,
      red: Array.from(d.data as number[]).filter((_, i) => i % 4 === 0),
    };
  });
  const runtime = await loadContract(await mandelbrotCode());
  try {
    const local = await runtime.outputRange(0, MANDELBROT_SIZE);
    let wrong = 0;
    for (let i = 0; i < MANDELBROT_SIZE; i++) {
      const y = pixels.h - 1 - Math.floor(i / pixels.w);
      const want = outputAt(local, i) ? 0 : 255;
      if (pixels.red[y * pixels.w + (i % pixels.w)] !== want) wrong++;
    }
    assert.equal(wrong, 0, 'the image drawn in the browser is the Mandelbrot set the contract computes');
  } finally {
    runtime.dispose();
  }
  await until('the paid-ranges bar shows the paid contract', async () =>
    (await text(page, '#state')).includes(
      `${MANDELBROT_SIZE.toLocaleString('en')} of ${MANDELBROT_SIZE.toLocaleString('en')} MCUs`,
    ),
  );
  const contractShot = await shot(page, 'contract');
  if (process.env.ZI_DOCS_SCREENSHOT)
    await copyFile(contractShot, join(import.meta.dirname, '..', '..', 'docs', 'explorer.png'));

  // A block with payouts, then one of its transactions, by following links.
  await page.locator('#payouts').waitFor();
  const details = (await (await fetch(`${net.url}api/contract/${net.contract}`)).json()) as {
    payoutsOverTime: { height: number }[];
  };
  const payoutTx = details.payoutsOverTime[0]!.height;
  await page.goto(`${net.url}block/${payoutTx}`);
  assert.match(await text(page, 'h1'), new RegExp(`Block ${payoutTx}`));
  assert.ok((await page.locator('h3', { hasText: 'payout' }).count()) === 1, 'its payouts are listed by kind');
  await shot(page, 'block');
  await page.locator('h3:has-text("payout") + table tbody tr:first-child td:first-child a').click();
  await page.waitForURL(/\/tx\/[0-9a-f]{64}$/);
  assert.match(await text(page, 'p.lead'), /^payout: \d+ MCUs? of /);
  await shot(page, 'transaction');

  // Search by a prefix of the contract's id leads to its page.
  await page.fill('header input[name=q]', net.contract.slice(0, 10));
  await page.locator('header form.search button').click();
  await page.waitForURL(new RegExp(`/contract/${net.contract}$`));

  // The market's other pages, reached from the navigation bar and the leaderboard.
  for (const [nav, title] of [
    ['Contracts', 'Contracts'],
    ['Validators', 'Validators'],
    ['Audits', 'Audits'],
    ['Fund', 'Shared fund'],
    ['Solvers', 'Solvers'],
  ] as const) {
    await page.locator('header nav a', { hasText: nav }).click();
    await page.waitForURL(new RegExp(`/${nav.toLowerCase()}$`));
    assert.equal(await text(page, 'h1'), title);
    await shot(page, nav.toLowerCase());
  }
  await page.locator('#board tbody tr:first-child td:nth-child(2) a').click();
  await page.waitForURL(/\/address\/zid1/);
  assert.match(await text(page, '#history'), /payout/);
  await shot(page, 'address');

  // A bad id is a clear 400 page, an unknown one a 404.
  const bad = await page.goto(`${net.url}block/not-a-block`);
  assert.equal(bad?.status(), 400);
  assert.match(await text(page, 'p.error'), /block id must be 64 hex digits/);
  const unknown = await page.goto(`${net.url}tx/${'ab'.repeat(32)}`);
  assert.equal(unknown?.status(), 404);

  // A tip that comes while the page is re-fetching itself fetches it again once that is done
  // (dropped, the page stayed a block behind until the next block). The tips here are scripted
  // so that the third lands while the second's re-fetch is held: no timing decides the result.
  const racing = await browser.newPage();
  await racing.route('**/api/events', (route) =>
    route.fulfill({
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
      // One stream only, then a long retry: a reconnection would replay these tips.
      body: ['a', 'b', 'c']
        .map(
          (h, i) => `retry: 600000\nevent: tip\ndata: ${JSON.stringify({ height: 100 + i, hash: h.repeat(64) })}\n\n`,
        )
        .join(''),
    }),
  );
  let refetches = 0;
  await racing.route(net.url, async (route) => {
    if (route.request().isNavigationRequest()) return route.continue();
    if (++refetches === 1) {
      await racing.waitForFunction(() => (globalThis as Dom).document.body.dataset.tip === '102');
    }
    return route.continue();
  });
  await racing.goto(net.url);
  await racing.waitForFunction(() => Number((globalThis as Dom).document.body.dataset.updates ?? 0) >= 2, undefined, {
    timeout: 10_000,
  });
  assert.equal(refetches, 2, 'the tip that came during the re-fetch fetched the page once more, and only once');
  await racing.close();

  assert.deepEqual(outside, [], 'no request leaves 127.0.0.1');
  assert.ok(
    requests.some((u) => u.endsWith('/api/events')),
    'live updates come by server-sent events',
  );
  assert.deepEqual(
    errors.filter((e) => !/status of 40[04]/.test(e)),
    [],
    'no script error',
  );
});
