import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TipChange } from '../chain/chain.ts';
import { toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import type { Log } from '../chain/log.ts';
import { toJson } from '../rpc/json.ts';
import { ExplorerData, type ExplorerDeps, MAX_HISTORY_HEIGHTS } from './data.ts';
import { type Html, layout } from './html.ts';
import { ExplorerError, parseCount } from './ids.ts';
import {
  addressPage,
  apiPage,
  auditsPage,
  blockPage,
  contractPage,
  contractsPage,
  errorPage,
  fundPage,
  homePage,
  searchPage,
  solversPage,
  txPage,
  validatorsPage,
} from './pages.ts';

/**
 * `zi node --explorer`: read-only HTML pages and a JSON API over this
 * node's chain, with server-sent events for live pages. It binds to
 * 127.0.0.1 by default and needs no cookie because nothing it serves
 * changes anything (like Bitcoin Core's -rest). Work is bounded: a few
 * requests are computed at a time, the same URL is computed once per tip,
 * and past the queue a request is told 503 at once, so a flood of page
 * requests cannot starve the node's own RPC and p2p work.
 */

export interface ExplorerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  logger?: Log;
  /** Requests computed at once (default 4) and waiting (default 2,000) before 503. */
  maxActive?: number;
  maxQueue?: number;
  /** Live-update streams at once (default 100). */
  maxStreams?: number;
}

export interface ExplorerServer {
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  type: string;
  body: string | Uint8Array;
  /** Where a search sends the browser. */
  location?: string;
}

interface Page {
  title: string;
  data: unknown;
  render(data: unknown): Html;
}

const ASSETS: Record<string, { type: string; body: Buffer }> = {
  '/assets/explorer.js': {
    type: 'text/javascript; charset=utf-8',
    body: readFileSync(new URL('./assets/explorer.js', import.meta.url)),
  },
  '/assets/explorer.css': {
    type: 'text/css; charset=utf-8',
    body: readFileSync(new URL('./assets/explorer.css', import.meta.url)),
  },
};

/** Everything the page loads comes from this node: no CDN, no inline script. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const STATUS_OF: Record<string, number> = {
  BAD_ID: 400,
  NOT_FOUND: 404,
  BUSY: 503,
  UNAVAILABLE: 503,
  NEEDS_REINDEX: 503,
};

export const API_ROUTES: [string, string][] = [
  ['/api/home', 'tip, hash rate, difficulty and |Po| series, recent blocks, mempool and fee percentiles'],
  ['/api/tip', 'height, hash, time and mempool size'],
  ['/api/block/{height|hash}', 'a block with its transactions by kind and its audit votes'],
  ['/api/tx/{txid}', 'a transaction decoded by kind, confirmed or pending'],
  [
    '/api/address/{address}?before={height}',
    'balance, nonce, activity, Validator and Solver records, history with amounts',
  ],
  ['/api/search?q={query}', 'a height, a full id or a unique prefix (≥ 4 hex digits), or an address'],
  ['/api/contracts', 'open contracts best paying first, with progress and ETA; recently closed ones'],
  ['/api/contract/{id}', 'a contract: paid ranges, payouts over time, Solvers, authority, audit, code'],
  ['/api/contract/{id}/results/{start}', 'the bytes of the paid batch starting at MCU {start}, from IPFS'],
  ['/api/solvers', 'the Solver leaderboard and the best-paying open contracts'],
  ['/api/validators', 'Validators with stake, assignments, audits passed and failed, bans'],
  ['/api/audits', 'open audits, appeal windows and recent verdicts'],
  ['/api/fund', 'the shared fund: balance, threshold, tally, payouts'],
  ['/api/events', 'server-sent events: "tip" at each new tip, "mempool" when its size changes'],
];

/** A small FIFO gate: at most `max` at once, `queue` waiting, the rest refused. */
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly max: number;
  private readonly queue: number;
  constructor(max: number, queue: number) {
    this.max = max;
    this.queue = queue;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) {
      if (this.waiting.length >= this.queue) {
        throw new ExplorerError('BUSY', 'the explorer is busy: try again in a moment');
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export async function startExplorer(deps: ExplorerDeps, opts: ExplorerOptions): Promise<ExplorerServer> {
  const host = opts.host ?? '127.0.0.1';
  const data = new ExplorerData(deps);
  const { chain, mempool } = deps;
  const network = chain.params.name;
  const gate = new Gate(opts.maxActive ?? 4, opts.maxQueue ?? 2_000);
  const maxStreams = opts.maxStreams ?? 100;
  const log = opts.logger;

  // The same URL is computed once per tip and mempool size, and shared by everyone who asks meanwhile.
  const cache = new Map<string, { stamp: string; at: number; answer: Promise<Answer> }>();
  const stamp = () => `${toHex(chain.tip.hash)}:${mempool.count}`;

  function page(path: string, query: URLSearchParams): Promise<Page> | Page {
    const parts = path.split('/').slice(1);
    const seg = (i: number) => {
      try {
        return decodeURIComponent(parts[i] ?? '');
      } catch {
        throw new ExplorerError('BAD_ID', 'the URL holds a malformed %-escape');
      }
    };
    const one = (n: number) => {
      if (parts.length !== n) throw new ExplorerError('NOT_FOUND', `no page ${path}`);
    };
    const p = async (title: string, d: Promise<unknown> | unknown, render: (x: never) => Html): Promise<Page> => ({
      title,
      data: await d,
      render: render as (x: unknown) => Html,
    });
    switch (parts[0]) {
      case '':
        one(1);
        return p('Home', data.home(), homePage);
      case 'block':
        one(2);
        return p(`Block ${seg(1)}`, data.block(seg(1)), blockPage);
      case 'tx':
        one(2);
        return p('Transaction', data.tx(seg(1)), txPage);
      case 'address': {
        one(2);
        const before = parseCount(query.get('before'), 'before', 1, 0xffffffff);
        const count = parseCount(query.get('count'), 'count', 1, MAX_HISTORY_HEIGHTS);
        return p('Address', data.address(seg(1), before, count), addressPage);
      }
      case 'search': {
        one(1);
        const q = query.get('q') ?? '';
        return p('Search', data.search(q), (d) => searchPage(q, d));
      }
      case 'contracts':
        one(1);
        return p('Contracts', data.contracts(), contractsPage);
      case 'contract':
        one(2);
        return p('Contract', data.contract(seg(1)), contractPage);
      case 'solvers':
        one(1);
        return p('Solvers', data.solvers(), solversPage);
      case 'validators':
        one(1);
        return p('Validators', data.validators(), validatorsPage);
      case 'audits':
        one(1);
        return p('Audits', data.audits(), auditsPage);
      case 'fund':
        one(1);
        return p('Fund', data.fund(), fundPage);
      default:
        throw new ExplorerError('NOT_FOUND', `no page ${path}`);
    }
  }

  function failure(err: unknown, json: boolean): Answer {
    // A damaged store says so and how to mend it (its message names `zi node --reindex`).
    const damaged = err instanceof ZiError && err.code === 'DB_CORRUPT';
    const known = err instanceof ExplorerError || damaged;
    const code = err instanceof ZiError ? err.code : 'INTERNAL';
    const status = damaged ? 500 : known ? (STATUS_OF[code] ?? 400) : 500;
    const message = known ? (err as Error).message : 'internal error';
    if (!known || damaged) log?.warn({ err: String((err as Error)?.stack ?? err) }, 'explorer page failed');
    if (json) return { status, type: 'application/json; charset=utf-8', body: toJson({ error: { code, message } }) };
    const body = layout({
      title: `${status}`,
      network,
      tip: chain.height,
      body: errorPage(status, code, message),
      path: '',
    });
    return { status, type: 'text/html; charset=utf-8', body };
  }

  async function compute(path: string, query: URLSearchParams): Promise<Answer> {
    const json = path === '/api' || path.startsWith('/api/');
    try {
      if (path === '/api') {
        const body = layout({ title: 'JSON API', network, tip: chain.height, body: apiPage(API_ROUTES), path });
        return { status: 200, type: 'text/html; charset=utf-8', body };
      }
      if (path === '/api/tip')
        return { status: 200, type: 'application/json; charset=utf-8', body: toJson(data.tip()) };
      const results = /^\/api\/contract\/([^/]+)\/results\/([^/]+)$/.exec(path);
      if (results) {
        const bytes = await data.results(results[1]!, results[2]!);
        return { status: 200, type: 'application/octet-stream', body: bytes };
      }
      const target = json ? path.slice(4) || '/' : path;
      const pg = await page(target === '/home' ? '/' : target, query);
      if (target === '/search' || path === '/search') {
        const m = (pg.data as { match?: string }).match;
        if (!json && m) return { status: 302, type: 'text/plain; charset=utf-8', body: `see ${m}\n`, location: m };
        if ((pg.data as { matches: unknown[] }).matches.length === 0) {
          throw new ExplorerError('NOT_FOUND', `nothing matches ${JSON.stringify(query.get('q')?.slice(0, 80) ?? '')}`);
        }
      }
      if (json) return { status: 200, type: 'application/json; charset=utf-8', body: toJson(pg.data) };
      const body = layout({ title: pg.title, network, tip: chain.height, body: pg.render(pg.data), path });
      return { status: 200, type: 'text/html; charset=utf-8', body };
    } catch (err) {
      return failure(err, json);
    }
  }

  /** Bytes once per answer: a shared page is encoded once, not once per client. */
  const encoded = (a: Answer): Answer => (typeof a.body === 'string' ? { ...a, body: Buffer.from(a.body) } : a);

  function answer(path: string, query: URLSearchParams): Promise<Answer> {
    const key = `${path}?${query}`;
    const now = Date.now();
    const s = stamp();
    const hit = cache.get(key);
    if (hit && hit.stamp === s && now - hit.at < 2_000) return hit.answer;
    const run = gate
      .run(() => compute(path, query))
      .catch((err: unknown) => failure(err, path.startsWith('/api')))
      .then(encoded);
    if (cache.size >= 500) cache.clear();
    cache.set(key, { stamp: s, at: now, answer: run });
    // A refusal (503) is not remembered: the next request may find room.
    void run.then((a) => {
      if (a.status === 503 && cache.get(key)?.answer === run) cache.delete(key);
    });
    return run;
  }

  // ------------------------------------------------------------ live events

  const streams = new Set<ServerResponse>();
  const send = (event: string, payload: unknown) => {
    const frame = `event: ${event}\ndata: ${toJson(payload)}\n\n`;
    for (const res of streams) res.write(frame);
  };
  const onTip = (change: TipChange) =>
    send('tip', { ...data.tip(), connected: change.connected.length, disconnected: change.disconnected.length });
  chain.on('tip', onTip);
  let lastMempool = mempool.count;
  const poll = setInterval(() => {
    if (mempool.count !== lastMempool) {
      lastMempool = mempool.count;
      send('mempool', data.mempoolSummary());
    }
  }, 1_000);
  const ping = setInterval(() => {
    for (const res of streams) res.write(': ping\n\n');
  }, 15_000);
  poll.unref();
  ping.unref();

  function events(req: IncomingMessage, res: ServerResponse): void {
    if (streams.size >= maxStreams) {
      reply(req, res, failure(new ExplorerError('BUSY', 'too many live pages are open: try again later'), true));
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      ...SECURITY_HEADERS,
    });
    res.write(`retry: 2000\nevent: tip\ndata: ${toJson(data.tip())}\n\n`);
    streams.add(res);
    req.socket.setTimeout(0);
    res.on('close', () => streams.delete(res));
  }

  // ------------------------------------------------------------------- HTTP

  // Answers leave a few per turn of the event loop: a page shared by a thousand
  // waiting clients would otherwise be written to all of them in one go, and
  // the node's RPC and p2p sockets would wait behind it.
  const outbox: (() => void)[] = [];
  let draining = false;
  const drain = (): void => {
    for (let i = 0; i < 8 && outbox.length > 0; i++) outbox.shift()!();
    if (outbox.length > 0) setImmediate(drain);
    else draining = false;
  };
  const paced = (fn: () => void): void => {
    outbox.push(fn);
    if (!draining) {
      draining = true;
      setImmediate(drain);
    }
  };

  function reply(req: IncomingMessage, res: ServerResponse, a: Answer): void {
    if (res.headersSent || res.destroyed) return;
    const body = typeof a.body === 'string' ? Buffer.from(a.body) : a.body;
    res.writeHead(a.status, {
      'content-type': a.type,
      'content-length': body.byteLength,
      'cache-control': 'no-store',
      ...(a.location ? { location: a.location } : {}),
      ...SECURITY_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A page of another site that renames itself to 127.0.0.1 (DNS rebinding) must not read this node's view.
    if (!hostAllowed(req.headers.host)) {
      res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
      res.end(`the explorer answers only to ${host} and localhost, not to ${String(req.headers.host).slice(0, 80)}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
      res.end('the explorer is read-only: GET only\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://explorer.invalid');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : '/';
    const asset = ASSETS[path];
    if (asset) {
      res.writeHead(200, {
        'content-type': asset.type,
        'content-length': asset.body.byteLength,
        'cache-control': 'max-age=300',
        ...SECURITY_HEADERS,
      });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    if (path === '/api/events') {
      events(req, res);
      return;
    }
    const a = await answer(path, url.searchParams);
    paced(() => reply(req, res, a));
  }

  const sockets = new Set<Socket>();
  let port = opts.port;
  const hostAllowed = (header: string | undefined): boolean => {
    if (header === undefined) return false;
    const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d+))?$/i.exec(header);
    if (!m || (m[2] !== undefined && Number(m[2]) !== port)) return false;
    const name = m[1]!.toLowerCase();
    return name === host || name === `[${host}]` || name === 'localhost' || (host === '127.0.0.1' && name === '[::1]');
  };
  const server = createServer(
    { headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000 },
    (req, res) => {
      onRequest(req, res).catch((err: unknown) => {
        log?.warn({ err: String(err) }, 'explorer request failed');
        if (!res.headersSent) reply(req, res, failure(err, true));
        else res.destroy();
      });
    },
  );
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new ExplorerError(
          'UNAVAILABLE',
          err.code === 'EADDRINUSE'
            ? `explorer port ${opts.port} on ${host} is already in use: choose another with --explorer PORT`
            : `cannot listen on ${host}:${opts.port} for the explorer: ${err.code ?? err.message}`,
        ),
      ),
    );
    server.listen({ host, port: opts.port }, () => resolve());
  });
  const address = server.address();
  port = typeof address === 'object' && address !== null ? address.port : opts.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  log?.info({ url, indexed: data.indexed }, 'explorer listening');
  if (!data.indexed) {
    log?.warn(
      {},
      "the explorer's indexes are missing on this chain: run `zi node --explorer --reindex` once for every page",
    );
  }
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    url,
    close() {
      closing ??= new Promise<void>((resolve) => {
        chain.off('tip', onTip);
        clearInterval(poll);
        clearInterval(ping);
        for (const res of streams) res.end();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}
