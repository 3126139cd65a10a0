import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ZiError } from '../../../src/chain/errors.ts';
import { RpcClient } from '../../../src/node/rpc/client.ts';
import { readCookie, writeCookie } from '../../../src/node/rpc/cookie.ts';
import { createRpcServer, type RpcServer } from '../../../src/node/rpc/server.ts';
import {
  CookieError,
  InvalidParamsError,
  RpcError,
  RpcServerError,
  RpcTransportError,
} from '../../../src/rpc/errors.ts';
import { jsonReplacer, toJson } from '../../../src/rpc/json.ts';
import { defineMethod, describeMethods } from '../../../src/rpc/methods.ts';

class FundsError extends ZiError<'INSUFFICIENT_FUNDS', { need: bigint; have: bigint }> {}

const calls: string[] = [];
const methods = {
  echo: defineMethod({
    description: 'returns its params',
    params: [
      { name: 'text', type: 'string', maxLength: 100 },
      { name: 'times', type: 'integer', min: 1, max: 10, optional: true },
      { name: 'loud', type: 'boolean', optional: true },
    ],
    handler: ({ text, times, loud }) => {
      const out = text.repeat(times ?? 1);
      return loud ? out.toUpperCase() : out;
    },
  }),
  balance: defineMethod({
    description: 'bigint and bytes in results',
    params: [
      { name: 'amount', type: 'bigint', min: 0n },
      { name: 'hash', type: 'bytes', bytes: 4, optional: true },
    ],
    handler: ({ amount, hash }) => ({ li: amount * 1_000_000_000n, hash: hash ?? new Uint8Array([0xde, 0xad]) }),
  }),
  pick: defineMethod({
    description: 'enum and hex',
    params: [
      { name: 'color', type: 'string', enum: ['red', 'green'] },
      { name: 'id', type: 'hex', optional: true },
    ],
    handler: ({ color, id }) => `${color}:${id ?? '-'}`,
  }),
  spend: defineMethod({
    description: 'throws a domain error',
    params: [],
    handler: () => {
      throw new FundsError('INSUFFICIENT_FUNDS', 'balance too low', { need: 10n, have: 3n });
    },
  }),
  semantic: defineMethod({
    description: 'handler-side parameter check',
    params: [{ name: 'address', type: 'string' }],
    handler: ({ address }) => {
      throw new InvalidParamsError(`bad checksum in ${address}`, { param: 'address' });
    },
  }),
  crash: defineMethod({
    description: 'a bug',
    params: [],
    handler: () => {
      throw new TypeError('secret internals /home/x');
    },
  }),
  unencodable: defineMethod({
    description: 'returns a Map',
    params: [],
    handler: () => new Map([[1, 2]]),
  }),
  record: defineMethod({
    description: 'records the order of calls',
    params: [{ name: 'tag', type: 'string' }],
    handler: async ({ tag }) => {
      await new Promise((r) => setTimeout(r, 5 - calls.length));
      calls.push(tag);
      return tag;
    },
  }),
  nothing: defineMethod({ description: 'returns undefined', params: [], handler: () => undefined }),
};

const logged: { level: string; obj: object; msg?: string }[] = [];
const logger = {
  info: (obj: object, msg?: string) => logged.push({ level: 'info', obj, msg }),
  warn: (obj: object, msg?: string) => logged.push({ level: 'warn', obj, msg }),
  error: (obj: object, msg?: string) => logged.push({ level: 'error', obj, msg }),
};

let dir: string;
let cookiePath: string;
let server: RpcServer;
let auth: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zi-rpc-'));
  cookiePath = join(dir, 'data', '.cookie');
  server = await createRpcServer({
    port: 0,
    cookiePath,
    methods,
    logger,
    maxBodyBytes: 64 * 1024,
    maxBatch: 5,
    headersTimeoutMs: 300,
    requestTimeoutMs: 600,
  });
  const cookie = await readCookie(cookiePath);
  auth = `Basic ${Buffer.from(`${cookie.user}:${cookie.password}`).toString('base64')}`;
});
after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json?: unknown;
}

function post(
  body: string | Buffer,
  opts: { auth?: string | null; path?: string; method?: string; contentType?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-type': opts.contentType ?? 'application/json' };
    const a = opts.auth === undefined ? auth : opts.auth;
    if (a !== null) headers.authorization = a;
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path: opts.path ?? '/',
        method: opts.method ?? 'POST',
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode!, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const rpc = (method: string, params?: unknown, id: unknown = 1) =>
  post(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }));

type ErrorReply = { jsonrpc: string; id: unknown; error: { code: number; message: string; data?: unknown } };

describe('auth', () => {
  test('the cookie file is __cookie__:<64 hex> with mode 0600', async () => {
    const text = await readFile(cookiePath, 'utf8');
    assert.match(text, /^__cookie__:[0-9a-f]{64}$/);
    assert.equal((await stat(cookiePath)).mode & 0o777, 0o600);
  });

  test('no credentials → 401 with no body', async () => {
    const r = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['x'] }), { auth: null });
    assert.equal(r.status, 401);
    assert.equal(r.text, '');
    assert.match(String(r.headers['www-authenticate']), /^Basic/);
  });

  test('wrong password, wrong user, or junk header → 401', async () => {
    const { password } = await readCookie(cookiePath);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['x'] });
    for (const a of [
      `Basic ${Buffer.from(`__cookie__:${'0'.repeat(64)}`).toString('base64')}`,
      `Basic ${Buffer.from(`someone:${password}`).toString('base64')}`,
      `Bearer ${password}`,
      'Basic !!!',
    ]) {
      const r = await post(body, { auth: a });
      assert.equal(r.status, 401, a);
      assert.equal(r.text, '');
    }
  });

  test('auth is checked before anything else is revealed', async () => {
    assert.equal((await post('', { auth: null, path: '/nope', method: 'GET' })).status, 401);
  });

  test('a cookie from a previous run is refused', async () => {
    const other = join(dir, 'other.cookie');
    await writeCookie(other);
    const client = new RpcClient({ port: server.port, cookiePath: other });
    await assert.rejects(client.call('echo', ['x']), (err: unknown) => {
      assert.ok(err instanceof RpcTransportError);
      assert.equal(err.code, 'UNAUTHORIZED');
      return true;
    });
  });
});

describe('HTTP envelope', () => {
  test('only POST / with application/json', async () => {
    assert.equal((await post('{}', { path: '/other' })).status, 404);
    const get = await post('', { method: 'GET' });
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    assert.equal((await post('{}', { contentType: 'text/plain' })).status, 415);
    assert.equal((await post('{}', { contentType: 'application/json; charset=latin1' })).status, 415);
    const ok = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['a'] }), {
      contentType: 'application/json; charset=UTF-8',
    });
    assert.equal(ok.status, 200);
  });

  test('a body over the limit → 413 with a JSON-RPC error, whether declared or streamed', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['x'.repeat(100 * 1024)] });
    const r = await post(big);
    assert.equal(r.status, 413);
    assert.equal((r.json as ErrorReply).error.code, -32600);
    assert.match((r.json as ErrorReply).error.message, /exceeds 65536 bytes/);

    // Chunked, no content-length: the limit must hold while streaming.
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: server.port,
          method: 'POST',
          path: '/',
          agent: false,
          headers: { authorization: auth, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('x'.repeat(16 * 1024));
      req.end();
    });
    assert.equal(streamed, 413);
  });
});

describe('JSON-RPC errors', () => {
  test('-32700 parse error for invalid JSON and invalid UTF-8', async () => {
    for (const body of ['{"jsonrpc":', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]) {
      const r = await post(body);
      assert.equal(r.status, 200);
      const e = r.json as ErrorReply;
      assert.equal(e.jsonrpc, '2.0');
      assert.equal(e.id, null);
      assert.equal(e.error.code, -32700);
    }
  });

  test('-32600 invalid request: not an object, no jsonrpc, bad id, method not a string, unknown member', async () => {
    const cases: [unknown, unknown][] = [
      [42, null],
      ['"str"', null],
      [{ id: 7, method: 'echo', params: ['a'] }, 7],
      [{ jsonrpc: '1.0', id: 7, method: 'echo' }, 7],
      [{ jsonrpc: '2.0', id: { a: 1 }, method: 'echo' }, null],
      [{ jsonrpc: '2.0', id: true, method: 'echo' }, null],
      [{ jsonrpc: '2.0', id: 7, method: 5 }, 7],
      [{ jsonrpc: '2.0', id: 7, method: 'echo', params: ['a'], extra: 1 }, 7],
      [[], null],
    ];
    for (const [body, id] of cases) {
      const r = await post(typeof body === 'string' ? body : JSON.stringify(body));
      const e = r.json as ErrorReply;
      assert.equal(e.error.code, -32600, JSON.stringify(body));
      assert.equal(e.id, id, JSON.stringify(body));
    }
  });

  test('-32601 method not found, also for Object.prototype names', async () => {
    for (const name of ['nope', 'toString', '__proto__', 'constructor', 'hasOwnProperty']) {
      const e = (await rpc(name)).json as ErrorReply;
      assert.equal(e.error.code, -32601, name);
      assert.match(e.error.message, /^method not found: .+ \(`help` lists the methods\)$/);
    }
  });

  test('-32602 invalid params with a message naming the param', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['echo', [], /missing required param 'text'/],
      ['echo', [5], /'text' must be a string, got a number/],
      ['echo', ['a', 0], /'times' must be an integer in 1\.\.10/],
      ['echo', ['a', 1.5], /'times' must be an integer/],
      ['echo', ['a', 1, 'yes'], /'loud' must be true or false/],
      ['echo', ['a', 1, true, 'extra'], /at most 3 params/],
      ['echo', { text: 'a', volume: 3 }, /unknown param 'volume'/],
      ['echo', 'a', /params must be an array or an object/],
      ['echo', ['x'.repeat(101)], /at most 100 characters/],
      ['balance', ['-1'], /'amount' must be an integer ≥ 0/],
      ['balance', ['1e9'], /decimal string/],
      ['balance', [1e300], /decimal string/],
      ['balance', ['1', 'abc'], /'hash' must be 8 hex digits/],
      ['balance', ['1', '0xdeadbe'], /'hash'/],
      ['pick', ['blue'], /one of "red", "green"/],
      ['pick', ['red', 'abc'], /'id' must be hex/],
    ];
    for (const [method, params, re] of cases) {
      const e = (await rpc(method, params)).json as ErrorReply;
      assert.equal(e.error.code, -32602, `${method} ${JSON.stringify(params)}`);
      assert.match(e.error.message, re);
    }
  });

  test('valid params, positional and named, with optional ones absent or null', async () => {
    const result = async (method: string, params?: unknown) =>
      ((await rpc(method, params)).json as { result: unknown }).result;
    assert.equal(await result('echo', ['ab', 2, true]), 'ABAB');
    assert.equal(await result('echo', { text: 'ab', loud: true }), 'AB');
    assert.equal(await result('echo', ['ab', null, true]), 'AB');
    assert.equal(await result('pick', { color: 'green', id: 'ABCD' }), 'green:abcd');
    assert.equal(await result('nothing'), null);
  });

  test('a handler throwing InvalidParamsError → -32602', async () => {
    const e = (await rpc('semantic', ['zi1xyz'])).json as ErrorReply;
    assert.equal(e.error.code, -32602);
    assert.match(e.error.message, /bad checksum/);
  });

  test('a ZiError → -32000 with data.code and data.meta (bigint as string)', async () => {
    const e = (await rpc('spend', [], 'abc')).json as ErrorReply;
    assert.equal(e.id, 'abc');
    assert.equal(e.error.code, -32000);
    assert.equal(e.error.message, 'balance too low');
    assert.deepEqual(e.error.data, { code: 'INSUFFICIENT_FUNDS', meta: { need: '10', have: '3' } });
  });

  test('-32603 for a bug: generic message, details only in the log', async () => {
    logged.length = 0;
    const e = (await rpc('crash')).json as ErrorReply;
    assert.equal(e.error.code, -32603);
    assert.equal(e.error.message, 'internal error');
    assert.ok(!JSON.stringify(e).includes('secret internals'));
    assert.ok(
      logged.some((l) => l.level === 'error' && String((l.obj as { err: Error }).err?.message).includes('secret')),
    );

    const u = (await rpc('unencodable')).json as ErrorReply;
    assert.equal(u.error.code, -32603);
  });
});

describe('results and batches', () => {
  test('bigint results are decimal strings, bytes are hex', async () => {
    const r = (await rpc('balance', ['12345678901234567890', '00ff10ab'])).json as { result: unknown };
    assert.deepEqual(r.result, { li: '12345678901234567890000000000', hash: '00ff10ab' });
  });

  test('a batch answers each call in order, skips notifications, and runs calls in sequence', async () => {
    calls.length = 0;
    const r = await post(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'record', params: ['a'] },
        { jsonrpc: '2.0', method: 'record', params: ['b'] },
        { jsonrpc: '2.0', id: 2, method: 'nope' },
        { foo: 'bar' },
        { jsonrpc: '2.0', id: 3, method: 'record', params: { tag: 'c' } },
      ]),
    );
    assert.equal(r.status, 200);
    const replies = r.json as { id: unknown; result?: unknown; error?: { code: number } }[];
    assert.deepEqual(
      replies.map((x) => [x.id, x.result ?? x.error?.code]),
      [
        [1, 'a'],
        [2, -32601],
        [null, -32600],
        [3, 'c'],
      ],
    );
    assert.deepEqual(calls, ['a', 'b', 'c']);
  });

  test('a batch over the cap is refused as a whole', async () => {
    const batch = Array.from({ length: 6 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'echo', params: ['a'] }));
    const e = (await post(JSON.stringify(batch))).json as ErrorReply;
    assert.equal(e.error.code, -32600);
    assert.match(e.error.message, /exceeds the limit of 5/);
  });

  test('notifications only → 204 and no body', async () => {
    calls.length = 0;
    const single = await post(JSON.stringify({ jsonrpc: '2.0', method: 'record', params: ['n1'] }));
    assert.equal(single.status, 204);
    assert.equal(single.text, '');
    const batch = await post(JSON.stringify([{ jsonrpc: '2.0', method: 'record', params: ['n2'] }]));
    assert.equal(batch.status, 204);
    assert.deepEqual(calls, ['n1', 'n2']);
  });
});

describe('robustness', () => {
  test('raw TCP garbage and half-sent requests do not hurt the server', async () => {
    const garbage = [
      Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]),
      Buffer.from('GARBAGE / HTTP/9.9\r\n\r\n'),
      Buffer.from(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n`),
      Buffer.from(`POST / HTTP/1.1\r\nHost: x\r\n${'X-Long: '.padEnd(40_000, 'a')}\r\n\r\n`),
    ];
    const answers = await Promise.all(
      garbage.map(
        (g) =>
          new Promise<string>((resolve) => {
            const s = connect(server.port, '127.0.0.1');
            let got = '';
            s.on('data', (d) => {
              got += d.toString('latin1');
            });
            s.on('error', () => resolve(got));
            s.on('close', () => resolve(got));
            s.end(g);
          }),
      ),
    );
    for (const a of answers) assert.ok(a === '' || /^HTTP\/1\.1 (400|431)/.test(a), a);
    const ok = (await rpc('echo', ['still here'])).json as { result: unknown };
    assert.equal(ok.result, 'still here');
  });

  test('a client that stalls mid-request is cut off, and others are served meanwhile', async () => {
    const stalled = connect(server.port, '127.0.0.1');
    const closed = new Promise<number>((resolve) => {
      const t0 = Date.now();
      stalled.on('error', () => {});
      stalled.resume();
      stalled.on('close', () => resolve(Date.now() - t0));
    });
    stalled.write(`POST / HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\n`);
    const ok = (await rpc('echo', ['served'])).json as { result: unknown };
    assert.equal(ok.result, 'served');
    // headersTimeout is 300 ms here; Node checks once a second.
    const ms = await closed;
    assert.ok(ms < 5000, `stalled connection closed after ${ms} ms`);
  });
});

describe('connection slots', () => {
  /** A raw socket that has sent `text`; `closed` says what it got back. */
  function raw(port: number, text: string) {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => {
      got += d.toString('latin1');
    });
    socket.on('error', () => {});
    const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(got)));
    socket.write(text);
    return {
      socket,
      closed,
      get got() {
        return got;
      },
    };
  }
  const connected = (s: { socket: import('node:net').Socket }) =>
    new Promise<void>((resolve) => (s.socket.connecting ? s.socket.once('connect', resolve) : resolve()));
  const start = 'POST / HTTP/1.1\r\nHost: x\r\n';
  const settle = () => new Promise((r) => setTimeout(r, 100));

  async function slotServer(t: { after(fn: () => Promise<void>): void }): Promise<{ port: number; auth: string }> {
    const d = await mkdtemp(join(tmpdir(), 'zi-rpc-slots-'));
    const path = join(d, '.cookie');
    const s = await createRpcServer({
      port: 0,
      cookiePath: path,
      methods,
      maxConnections: 4,
      headersTimeoutMs: 20_000,
    });
    t.after(async () => {
      await s.close();
      await rm(d, { recursive: true, force: true });
    });
    const c = await readCookie(path);
    return { port: s.port, auth: `Basic ${Buffer.from(`${c.user}:${c.password}`).toString('base64')}` };
  }

  test('clients without the cookie holding every slot are dropped, oldest first, for one with it', async (t) => {
    const { port, auth: a } = await slotServer(t);
    const squatters = [];
    for (let i = 0; i < 4; i++) {
      squatters.push(raw(port, start));
      await connected(squatters[i]!);
      await settle();
    }
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['ok'] });
    const honest = raw(
      port,
      `${start}Authorization: ${a}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await squatters[0]!.closed;
    await settle();
    assert.match(honest.got, /^HTTP\/1\.1 200 [\s\S]*"result":"ok"/);
    assert.deepEqual(
      squatters.map((q) => q.socket.destroyed),
      [true, false, false, false],
    );
    for (const q of squatters) q.socket.destroy();
    honest.socket.destroy();
  });

  test('a client that has sent its cookie line keeps its slot while it trickles the other headers', async (t) => {
    const { port, auth: a } = await slotServer(t);
    const slow = raw(port, `${start}Authorization: ${a}\r\nX-Slow: 1\r\n`);
    await connected(slow);
    await settle();
    const squatters = [];
    for (let i = 0; i < 8; i++) {
      squatters.push(raw(port, start));
      await connected(squatters[i]!);
    }
    await settle();
    assert.equal(slow.socket.destroyed, false);
    assert.ok(squatters.filter((q) => q.socket.destroyed).length >= 5);
    // It finishes its request and is answered.
    const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'echo', params: ['slow'] });
    slow.socket.write(`Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await settle();
    assert.match(slow.got, /^HTTP\/1\.1 200 [\s\S]*"result":"slow"/);
    for (const q of [...squatters, slow]) q.socket.destroy();
  });

  test('when every slot holds a client with the cookie, a newcomer is refused and they stay', async (t) => {
    const { port, auth: a } = await slotServer(t);
    const held = [];
    for (let i = 0; i < 4; i++) {
      held.push(raw(port, `${start}Authorization: ${a}\r\n`));
      await connected(held[i]!);
    }
    await settle();
    const late = raw(port, start);
    assert.equal(await late.closed, '');
    assert.ok(held.every((h) => !h.socket.destroyed));
    for (const h of held) h.socket.destroy();
  });

  test('a wrong cookie line is answered 401 before the headers are complete, and the socket closed', async (t) => {
    const { port } = await slotServer(t);
    const wrong = raw(port, `${start}Authorization: Basic ${Buffer.from('__cookie__:00').toString('base64')}\r\n`);
    const got = await wrong.closed;
    assert.match(got, /^HTTP\/1\.1 401 Unauthorized\r\n/);
    // A wrong cookie in a request sent at once also closes the connection.
    const whole = raw(port, `${start}Authorization: Basic eA==\r\nContent-Length: 0\r\n\r\n${start}\r\n`);
    const answers = (await whole.closed).match(/HTTP\/1\.1 /g) ?? [];
    assert.equal(answers.length, 1);
    // Rest of a split request after the early 401: no crash, no second answer.
    const split = raw(port, `${start}Authorization: Basic eA==\r\n`);
    await settle();
    split.socket.write('Content-Length: 0\r\n\r\n');
    assert.equal(((await split.closed).match(/HTTP\/1\.1 /g) ?? []).length, 1);
  });
});

describe('client', () => {
  test('round trip with positional and named params; bigint params as strings', async () => {
    const client = new RpcClient({ port: server.port, cookiePath });
    assert.equal(await client.call<string>('echo', ['hi', 2]), 'hihi');
    assert.equal(await client.call<string>('echo', { text: 'hi', loud: true }), 'HI');
    assert.deepEqual(await client.call('balance', [5n]), { li: '5000000000', hash: 'dead' });
    const byUrl = new RpcClient({ url: `http://127.0.0.1:${server.port}/`, cookiePath });
    assert.equal(await byUrl.call('echo', ['u']), 'u');
  });

  test('remote ZiError arrives as RpcError with the remote code and meta', async () => {
    const client = new RpcClient({ port: server.port, cookiePath });
    await assert.rejects(client.call('spend'), (err: unknown) => {
      assert.ok(err instanceof RpcError);
      assert.ok(err instanceof ZiError);
      assert.equal(err.code, 'INSUFFICIENT_FUNDS');
      assert.equal(err.rpcCode, -32000);
      assert.equal(err.message, 'balance too low');
      assert.deepEqual(err.remoteMeta, { need: '10', have: '3' });
      return true;
    });
    await assert.rejects(client.call('nope'), (err: unknown) => {
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, 'METHOD_NOT_FOUND');
      assert.equal(err.rpcCode, -32601);
      return true;
    });
    await assert.rejects(
      client.call('echo', [1]),
      (err: unknown) => err instanceof RpcError && err.code === 'INVALID_PARAMS',
    );
  });

  test('no node: missing cookie → NODE_NOT_RUNNING; refused connection → NODE_UNREACHABLE', async () => {
    const missing = new RpcClient({ port: server.port, cookiePath: join(dir, 'nope', '.cookie') });
    await assert.rejects(missing.call('echo', ['x']), (err: unknown) => {
      assert.ok(err instanceof CookieError);
      assert.equal(err.code, 'NODE_NOT_RUNNING');
      assert.match(err.message, /--datadir/);
      return true;
    });

    // A stale cookie left by a crashed node, and nothing listening.
    const stale = join(dir, 'stale.cookie');
    await writeCookie(stale);
    const probe = await createRpcServer({ port: 0, cookiePath: join(dir, 'probe.cookie'), methods: {} });
    const freePort = probe.port;
    await probe.close();
    const client = new RpcClient({ port: freePort, cookiePath: stale });
    await assert.rejects(client.call('echo', ['x']), (err: unknown) => {
      assert.ok(err instanceof RpcTransportError);
      assert.equal(err.code, 'NODE_UNREACHABLE');
      assert.match(err.message, /zi node/);
      return true;
    });
  });

  test('bad URLs are refused up front', () => {
    assert.throws(() => new RpcClient({ url: 'https://127.0.0.1:1/', cookiePath }), RpcTransportError);
    assert.throws(() => new RpcClient({ url: 'not a url', cookiePath }), RpcTransportError);
  });
});

describe('lifecycle', () => {
  test('close removes the cookie and stops answering; close is idempotent', async () => {
    const path = join(dir, 'life', '.cookie');
    const s = await createRpcServer({ port: 0, cookiePath: path, methods });
    const client = new RpcClient({ port: s.port, cookiePath: path });
    assert.equal(await client.call('echo', ['x']), 'x');
    await Promise.all([s.close(), s.close()]);
    await assert.rejects(stat(path), { code: 'ENOENT' });
    await assert.rejects(client.call('echo', ['x']), (err: unknown) => err instanceof CookieError);
  });

  test('a port in use → ADDRESS_IN_USE, and no cookie is left behind', async () => {
    const path = join(dir, 'busy.cookie');
    await assert.rejects(createRpcServer({ port: server.port, cookiePath: path, methods }), (err: unknown) => {
      assert.ok(err instanceof RpcServerError);
      assert.equal(err.code, 'ADDRESS_IN_USE');
      return true;
    });
    await assert.rejects(stat(path), { code: 'ENOENT' });
    // The running server's cookie is untouched.
    assert.match(await readFile(cookiePath, 'utf8'), /^__cookie__:/);
  });

  test('a broken method table fails at start', async () => {
    const bad = [
      { 'rpc.x': methods.echo },
      {
        x: {
          description: '',
          params: [
            { name: 'a', type: 'string', optional: true },
            { name: 'b', type: 'string' },
          ],
          handler: () => 1,
        },
      },
      { x: { description: '', params: [{ name: 'a', type: 'str' }], handler: () => 1 } },
      {
        x: {
          description: '',
          params: [
            { name: 'a', type: 'string' },
            { name: 'a', type: 'integer' },
          ],
          handler: () => 1,
        },
      },
    ];
    for (const m of bad) {
      await assert.rejects(
        createRpcServer({ port: 0, cookiePath: join(dir, 'bad.cookie'), methods: m as never }),
        (err: unknown) => err instanceof RpcServerError && err.code === 'BAD_OPTIONS',
      );
    }
  });

  test('describeMethods lists methods with their params', () => {
    const d = describeMethods({ echo: methods.echo });
    assert.deepEqual(
      d[0]!.params.map((p) => [p.name, p.type, p.optional]),
      [
        ['text', 'string', false],
        ['times', 'integer', true],
        ['loud', 'boolean', true],
      ],
    );
  });
});

describe('json encoding', () => {
  test('bigint, Uint8Array and Buffer encode; Map refuses', () => {
    assert.equal(toJson({ a: 1n, b: new Uint8Array([1, 2]), c: Buffer.from([255]) }), '{"a":"1","b":"0102","c":"ff"}');
    assert.equal(toJson(undefined), 'null');
    assert.throws(() => JSON.stringify({ m: new Map() }, jsonReplacer), TypeError);
  });
});
