/**
 * JSON-RPC 2.0 over HTTP, for the CLI and wallets on the same machine.
 * Listens on 127.0.0.1 by default and requires the cookie written at start
 * (HTTP Basic, user `__cookie__`). See docs/RPC.md for the wire contract.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ZiError } from '../../chain/errors.ts';
import {
  InvalidParamsError,
  RPC_APPLICATION_ERROR,
  RPC_INTERNAL_ERROR,
  RPC_INVALID_PARAMS,
  RPC_INVALID_REQUEST,
  RPC_METHOD_NOT_FOUND,
  RPC_PARSE_ERROR,
  type RpcErrorObject,
  RpcServerError,
} from '../../rpc/errors.ts';
import { toJson } from '../../rpc/json.ts';
import type { RpcMethod } from '../../rpc/methods.ts';
import { specProblem, validateParams } from '../../rpc/params.ts';
import { removeCookie, writeCookie } from './cookie.ts';

/** The subset of pino the server uses. */
export interface RpcLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

export interface RpcServerOptions {
  /** Default 127.0.0.1. Anything else exposes the API beyond this machine. */
  host?: string;
  /** 0 picks a free port (tests); the chosen one is in the result. */
  port: number;
  cookiePath: string;
  methods: Record<string, RpcMethod>;
  logger?: RpcLogger;
  /** Default 1 MiB. */
  maxBodyBytes?: number;
  /** Most requests in one batch; default 100. */
  maxBatch?: number;
  /**
   * Connection slots; default 64. When all are taken, a new connection
   * replaces the oldest one that has not shown the cookie, so a client
   * without the cookie cannot lock out one that has it.
   */
  maxConnections?: number;
  /** Time allowed to receive the headers; default 10 s. */
  headersTimeoutMs?: number;
  /** Time allowed to receive the whole request; default 30 s. */
  requestTimeoutMs?: number;
}

export interface RpcServer {
  host: string;
  port: number;
  /** Stops accepting, lets in-flight calls finish (up to 5 s), deletes the cookie. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_MAX_BATCH = 100;
export const DEFAULT_MAX_CONNECTIONS = 64;
const CLOSE_GRACE_MS = 5000;
const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};
/** Node's default limit on the header section; past it the parser answers 431. */
const MAX_HEAD_BYTES = 16 * 1024;
const AUTH_LINE = /\r\nauthorization:[ \t]*([^\r\n]*)\r\n/i;
const REQUEST_MEMBERS: ReadonlySet<string> = new Set(['jsonrpc', 'method', 'params', 'id']);
const noop = (): void => {};
const silentLogger: RpcLogger = { info: noop, warn: noop, error: noop };

type Id = string | number | null;

export async function createRpcServer(opts: RpcServerOptions): Promise<RpcServer> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.logger ?? silentLogger;
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isSafeInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new RpcServerError('BAD_OPTIONS', `RPC port must be an integer in 0..65535, got ${opts.port}`);
  }
  if (!Number.isSafeInteger(maxBody) || maxBody < 1)
    throw new RpcServerError('BAD_OPTIONS', 'maxBodyBytes must be ≥ 1');
  if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) throw new RpcServerError('BAD_OPTIONS', 'maxBatch must be ≥ 1');
  if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) {
    throw new RpcServerError('BAD_OPTIONS', 'maxConnections must be ≥ 1');
  }
  // A null-prototype copy: "toString" or "__proto__" must never resolve to a method.
  const methods = new Map<string, RpcMethod>();
  for (const [name, method] of Object.entries(opts.methods)) {
    if (name.length === 0 || name.startsWith('rpc.')) {
      throw new RpcServerError('BAD_OPTIONS', `method name ${JSON.stringify(name)} is empty or reserved (rpc.*)`);
    }
    if (typeof method?.handler !== 'function') throw new RpcServerError('BAD_OPTIONS', `method ${name} has no handler`);
    const problem = specProblem(method.params);
    if (problem) throw new RpcServerError('BAD_OPTIONS', `method ${name}: ${problem}`);
    methods.set(name, method);
  }

  // ------------------------------------------------------------------ dispatch

  async function handleOne(request: unknown): Promise<string | undefined> {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      return errorReply(null, RPC_INVALID_REQUEST, 'a request must be a JSON object');
    }
    const r = request as Record<string, unknown>;
    const hasId = Object.hasOwn(r, 'id');
    const rawId = r.id;
    if (
      hasId &&
      !(typeof rawId === 'string' || rawId === null || (typeof rawId === 'number' && Number.isFinite(rawId)))
    ) {
      return errorReply(null, RPC_INVALID_REQUEST, 'id must be a string, a number or null');
    }
    const id = (hasId ? rawId : null) as Id;
    if (r.jsonrpc !== '2.0') return errorReply(id, RPC_INVALID_REQUEST, 'jsonrpc must be "2.0"');
    if (typeof r.method !== 'string') return errorReply(id, RPC_INVALID_REQUEST, 'method must be a string');
    for (const key of Object.keys(r)) {
      if (!REQUEST_MEMBERS.has(key)) return errorReply(id, RPC_INVALID_REQUEST, `unknown request member "${key}"`);
    }
    // Valid request without an id: a notification, which gets no reply at all.
    const reply = (s: string): string | undefined => (hasId ? s : undefined);

    const method = methods.get(r.method);
    if (!method) {
      return reply(
        errorReply(
          id,
          RPC_METHOD_NOT_FOUND,
          `method not found: ${truncate(r.method, 100)} (\`help\` lists the methods)`,
        ),
      );
    }
    let params: Record<string, unknown>;
    try {
      params = validateParams(method.params, r.params);
    } catch (err) {
      if (err instanceof InvalidParamsError) {
        return reply(
          errorReply(id, RPC_INVALID_PARAMS, `invalid params for ${r.method}: ${err.message}`, paramData(err)),
        );
      }
      throw err;
    }

    const started = performance.now();
    let result: unknown;
    try {
      result = await method.handler(params);
    } catch (err) {
      return reply(handlerError(id, r.method, err));
    } finally {
      log.debug?.({ method: r.method, ms: Math.round(performance.now() - started) }, 'rpc call');
    }
    if (!hasId) return undefined;
    try {
      return toJson({ jsonrpc: '2.0', id, result: result === undefined ? null : result });
    } catch (err) {
      log.error({ err, method: r.method }, 'rpc result is not encodable as JSON');
      return errorReply(id, RPC_INTERNAL_ERROR, 'internal error');
    }
  }

  function handlerError(id: Id, methodName: string, err: unknown): string {
    if (err instanceof InvalidParamsError) {
      return errorReply(id, RPC_INVALID_PARAMS, `invalid params for ${methodName}: ${err.message}`, paramData(err));
    }
    if (err instanceof ZiError) {
      // meta comes from our own code, but make sure a cycle or a Map in it
      // degrades to the bare code instead of failing the reply.
      let data: unknown = { code: err.code, meta: err.meta };
      try {
        toJson(data);
      } catch {
        data = { code: err.code };
      }
      return errorReply(id, RPC_APPLICATION_ERROR, err.message, data);
    }
    log.error({ err, method: methodName }, 'rpc handler failed');
    return errorReply(id, RPC_INTERNAL_ERROR, 'internal error');
  }

  async function dispatch(parsed: unknown): Promise<string | undefined> {
    if (!Array.isArray(parsed)) return handleOne(parsed);
    if (parsed.length === 0) return errorReply(null, RPC_INVALID_REQUEST, 'empty batch');
    if (parsed.length > maxBatch) {
      return errorReply(
        null,
        RPC_INVALID_REQUEST,
        `batch of ${parsed.length} requests exceeds the limit of ${maxBatch}`,
      );
    }
    // In order, one at a time: two transactions from one sender in a batch
    // must reach the mempool in the order the caller wrote them.
    const parts: string[] = [];
    for (const item of parsed) {
      const part = await handleOne(item);
      if (part !== undefined) parts.push(part);
    }
    return parts.length === 0 ? undefined : `[${parts.join(',')}]`;
  }

  // ---------------------------------------------------------------------- HTTP

  let expectedAuth = new Uint8Array(32);
  function authorized(header: string | undefined): boolean {
    if (header === undefined) return false;
    const m = /^Basic +([A-Za-z0-9+/=]{1,400}) *$/i.exec(header);
    if (!m) return false;
    const given = createHash('sha256').update(Buffer.from(m[1]!, 'base64').toString('utf8')).digest();
    // Hashing both sides gives equal lengths, so the comparison is constant-time.
    return timingSafeEqual(given, expectedAuth);
  }

  // Every open socket; those that have not shown the cookie yet are also in
  // `unproven`, oldest first (a Set keeps insertion order).
  const sockets = new Set<Socket>();
  const unproven = new Set<Socket>();

  function admit(socket: Socket): void {
    socket.once('close', () => {
      sockets.delete(socket);
      unproven.delete(socket);
    });
    if (sockets.size >= maxConnections) {
      const victim = unproven.values().next().value;
      if (victim === undefined) {
        // Every slot holds a client with the cookie: refuse the newcomer.
        socket.destroy();
        return;
      }
      sockets.delete(victim);
      unproven.delete(victim);
      victim.destroy();
    }
    sockets.add(socket);
    unproven.add(socket);
    watchForCookie(socket);
  }

  /**
   * Settles the cookie as soon as the Authorization line has arrived, not
   * when the whole header section has: a client that trickles its headers
   * keeps its slot once it has shown the cookie, and one with a wrong cookie
   * is answered 401 at once. (A 'data' listener makes Node feed the HTTP
   * parser from JS; the parser sees each chunk first.)
   */
  function watchForCookie(socket: Socket): void {
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      // A complete header section has already been through onRequest.
      if (!unproven.has(socket) || head.includes('\r\n\r\n') || head.length > MAX_HEAD_BYTES) {
        socket.off('data', onData);
        return;
      }
      const line = AUTH_LINE.exec(head);
      if (!line) return;
      socket.off('data', onData);
      if (authorized(line[1])) unproven.delete(socket);
      else answerAndDrop(socket, '401 Unauthorized', 'www-authenticate: Basic realm="zi"\r\n');
    };
    socket.on('data', onData);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!authorized(req.headers.authorization)) {
      // No second try on this connection: it would hold a slot for free.
      return sendEmpty(req, res, 401, { 'www-authenticate': 'Basic realm="zi"', connection: 'close' });
    }
    unproven.delete(req.socket);
    if (req.url !== '/') return sendText(req, res, 404, 'not found: the JSON-RPC endpoint is POST /\n');
    if (req.method !== 'POST') return sendText(req, res, 405, 'method not allowed: use POST\n', { allow: 'POST' });
    if (!isJsonContentType(req.headers['content-type'])) {
      return sendText(req, res, 415, 'unsupported media type: send Content-Type: application/json\n');
    }
    const tooLarge = (): void =>
      sendJson(req, res, 413, errorReply(null, RPC_INVALID_REQUEST, `request body exceeds ${maxBody} bytes`), true);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBody) return tooLarge();

    const body = await readBody(req, maxBody);
    if (body === 'too-large') return tooLarge();
    if (body === 'aborted') return;

    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch {
      return sendJson(
        req,
        res,
        200,
        errorReply(null, RPC_PARSE_ERROR, 'parse error: the body is not valid UTF-8 JSON'),
      );
    }
    const reply = await dispatch(parsed);
    if (res.destroyed) return;
    if (reply === undefined) return sendEmpty(req, res, 204);
    sendJson(req, res, 200, reply);
  }

  const server = createServer(
    {
      headersTimeout: opts.headersTimeoutMs ?? 10_000,
      requestTimeout: opts.requestTimeoutMs ?? 30_000,
      keepAliveTimeout: 5_000,
      // Node checks the two timeouts above only this often (default 30 s).
      connectionsCheckingInterval: 1_000,
    },
    (req, res) => {
      onRequest(req, res).catch((err: unknown) => {
        log.error({ err }, 'rpc request failed');
        if (!res.headersSent) sendJson(req, res, 500, errorReply(null, RPC_INTERNAL_ERROR, 'internal error'), true);
        else res.destroy();
      });
    },
  );
  // Not server.maxConnections: that refuses newcomers, so whoever holds the
  // slots first keeps them.
  server.on('connection', admit);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Malformed HTTP, oversized headers, timeouts: answer if we still can, then drop.
    log.debug?.({ code: err.code }, 'rpc client error');
    if (err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    answerAndDrop(socket, err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request');
  });

  const cookieLine = await writeCookie(opts.cookiePath);
  expectedAuth = createHash('sha256').update(cookieLine).digest();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: opts.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await removeCookie(opts.cookiePath, cookieLine).catch(noop);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new RpcServerError(
        'ADDRESS_IN_USE',
        `RPC port ${opts.port} on ${host} is already in use (is another zi node running? choose another with --rpc-port)`,
        { host, port: opts.port },
      );
    }
    throw new RpcServerError('LISTEN_FAILED', `cannot listen on ${host}:${opts.port}: ${code ?? String(err)}`, {
      host,
      port: opts.port,
    });
  }
  // Only now: a failed listen is the typed error above, not also a logged stack.
  server.on('error', (err) => log.error({ err }, 'rpc server error'));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : opts.port;
  log.info({ host, port, cookie: opts.cookiePath }, 'rpc server listening');

  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    close() {
      closing ??= (async () => {
        // Cookie first: from now on clients are told the node is not running.
        await removeCookie(opts.cookiePath, cookieLine).catch((err: unknown) =>
          log.warn({ err, path: opts.cookiePath }, 'cannot remove rpc cookie'),
        );
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
          force.unref();
          server.close(() => {
            clearTimeout(force);
            resolve();
          });
          server.closeIdleConnections();
        });
        log.info({ host, port }, 'rpc server closed');
      })();
      return closing;
    },
  };
}

// ----------------------------------------------------------------------------

function errorReply(id: Id, code: number, message: string, data?: unknown): string {
  const error: RpcErrorObject = data === undefined ? { code, message } : { code, message, data };
  return toJson({ jsonrpc: '2.0', id, error });
}

function paramData(err: InvalidParamsError): unknown {
  return typeof err.meta.param === 'string' ? { code: err.code, meta: { param: err.meta.param } } : undefined;
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n)}…`;
}

function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const [type, ...params] = header.split(';').map((p) => p.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((p) => !p.startsWith('charset=') || p === 'charset=utf-8' || p === 'charset="utf-8"');
}

/** Reads the body up to `max` bytes, counting while it streams in. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const settle = (v: Buffer | 'too-large' | 'aborted'): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      resolve(v);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        chunks.length = 0;
        settle('too-large');
        // Keep reading and discarding, so the client sees the 413 instead of a
        // reset; requestTimeout bounds how long it may keep sending.
        req.resume();
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => settle(Buffer.concat(chunks, size)));
    req.once('error', () => settle('aborted'));
    req.once('close', () => settle('aborted'));
  });
}

/** A bare answer on a socket the HTTP layer has no response for, then the end of it. */
function answerAndDrop(socket: Socket, status: string, headers = ''): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(`HTTP/1.1 ${status}\r\n${headers}connection: close\r\ncontent-length: 0\r\n\r\n`);
  // end() only half-closes: a peer that never reads or closes would keep
  // the socket forever.
  setTimeout(() => socket.destroy(), 1000).unref();
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: string, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) };
  if (close || !req.complete) headers.connection = 'close';
  res.writeHead(status, headers).end(body);
}

function sendText(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  text: string,
  extra: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...extra,
  };
  if (!req.complete) headers.connection = 'close';
  res.writeHead(status, headers).end(text);
}

function sendEmpty(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  extra: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = { ...extra };
  // 204 must not carry a length; others say "no body" explicitly.
  if (status !== 204) headers['content-length'] = 0;
  if (!req.complete) headers.connection = 'close';
  res.writeHead(status, headers).end();
}
