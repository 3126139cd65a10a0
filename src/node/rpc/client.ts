/**
 * Client of the node's JSON-RPC API, used by the `zi` CLI. It reads the
 * cookie on every call, so a restarted node (new cookie) just works.
 */
import { request } from 'node:http';
import { RpcError, type RpcErrorObject, RpcTransportError } from '../../rpc/errors.ts';
import { toJson } from '../../rpc/json.ts';
import { readCookie } from './cookie.ts';

export type RpcClientOptions = ({ url: string } | { port: number; host?: string }) & {
  cookiePath: string;
  /** Whole-call limit; default 120 s. */
  timeoutMs?: number;
  /** Default 64 MiB. */
  maxResponseBytes?: number;
};

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/**
 * A connection closed before any reply is tried again this often, after
 * these pauses (ms). Under a flood of connections without the cookie the
 * node drops the oldest that has not shown it yet, which can be ours before
 * its request arrived: the node never saw that request.
 */
const RESET_RETRIES_MS = [50, 200, 500];

/** Thrown by #post when the connection closed before a reply began. */
class ResetBeforeReply extends Error {
  readonly lost: RpcTransportError;
  constructor(lost: RpcTransportError) {
    super(lost.message);
    this.lost = lost;
  }
}

export class RpcClient {
  readonly url: URL;
  readonly #cookiePath: string;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  #nextId = 1;

  constructor(opts: RpcClientOptions) {
    let url: URL;
    try {
      url = 'url' in opts ? new URL(opts.url) : new URL(`http://${hostForUrl(opts.host ?? '127.0.0.1')}:${opts.port}/`);
    } catch {
      throw new RpcTransportError('BAD_URL', `not a valid RPC URL: ${'url' in opts ? opts.url : opts.port}`);
    }
    if (url.protocol !== 'http:') throw new RpcTransportError('BAD_URL', `RPC URL must use http:, got ${url.protocol}`);
    this.url = url;
    this.#cookiePath = opts.cookiePath;
    this.#timeoutMs = opts.timeoutMs ?? 120_000;
    this.#maxResponseBytes = opts.maxResponseBytes ?? 64 * 1024 * 1024;
  }

  /**
   * Calls `method`. Throws RpcError for an error reply (its `code` is the
   * remote ZiError code when there is one), CookieError when no node runs
   * on this data dir, RpcTransportError when the call could not complete.
   * bigint and Uint8Array params are sent as decimal strings and hex.
   */
  async call<T = unknown>(method: string, params?: unknown[] | Record<string, unknown>): Promise<T> {
    const cookie = await readCookie(this.#cookiePath);
    const id = this.#nextId++;
    const body = toJson(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params });
    const auth = `Basic ${Buffer.from(`${cookie.user}:${cookie.password}`).toString('base64')}`;
    const { status, text } = await this.#postRetrying(body, auth);

    if (status === 401) {
      throw new RpcTransportError(
        'UNAUTHORIZED',
        `the node at ${this.url.host} refused the cookie in ${this.#cookiePath}: that cookie belongs to another node (check --datadir and --network)`,
        { url: this.url.href },
      );
    }
    let reply: unknown;
    try {
      reply = JSON.parse(text);
    } catch {
      if (status !== 200) throw this.#httpError(status);
      throw new RpcTransportError('BAD_RESPONSE', `the node sent a reply that is not JSON (HTTP ${status})`);
    }
    const r = reply as Record<string, unknown>;
    if (typeof reply !== 'object' || reply === null || Array.isArray(reply) || r.jsonrpc !== '2.0') {
      if (status !== 200) throw this.#httpError(status);
      throw new RpcTransportError('BAD_RESPONSE', 'the node sent a reply that is not a JSON-RPC 2.0 response');
    }
    if (Object.hasOwn(r, 'error')) {
      const e = r.error as Record<string, unknown>;
      if (typeof e !== 'object' || e === null || !Number.isInteger(e.code) || typeof e.message !== 'string') {
        throw new RpcTransportError('BAD_RESPONSE', 'the node sent a malformed error object');
      }
      // Errors about the request as a whole (parse error, body too large) carry id null.
      if (r.id !== id && r.id !== null) throw new RpcTransportError('BAD_RESPONSE', 'reply id does not match the call');
      throw new RpcError(e as unknown as RpcErrorObject);
    }
    if (status !== 200) throw this.#httpError(status);
    if (r.id !== id) throw new RpcTransportError('BAD_RESPONSE', 'reply id does not match the call');
    if (!Object.hasOwn(r, 'result')) throw new RpcTransportError('BAD_RESPONSE', 'reply has neither result nor error');
    return r.result as T;
  }

  #httpError(status: number): RpcTransportError {
    return new RpcTransportError('HTTP_ERROR', `the node answered HTTP ${status}`, { status });
  }

  async #postRetrying(body: string, auth: string): Promise<{ status: number; text: string }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#post(body, auth);
      } catch (err) {
        if (!(err instanceof ResetBeforeReply)) throw err;
        const pause = RESET_RETRIES_MS[attempt];
        if (pause === undefined) throw err.lost;
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  #post(body: string, auth: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let replying = false;
      const fail = (err: RpcTransportError | ResetBeforeReply): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const req = request(
        this.url,
        {
          method: 'POST',
          // No pooled sockets: a CLI makes one call and exits, and a reused
          // socket the server just closed would fail with ECONNRESET.
          agent: false,
          headers: {
            authorization: auth,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            accept: 'application/json',
          },
        },
        (res) => {
          replying = true;
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.#maxResponseBytes) {
              fail(new RpcTransportError('BAD_RESPONSE', `reply exceeds ${this.#maxResponseBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', () => fail(this.#lost()));
        },
      );
      const timer = setTimeout(
        () => fail(new RpcTransportError('TIMEOUT', `no reply from the node within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code && UNREACHABLE.has(err.code)) {
          fail(
            new RpcTransportError(
              'NODE_UNREACHABLE',
              `cannot reach the Zi node at ${this.url.host} (${err.code}): is \`zi node\` running? start it with \`zi node\` (a Solver: \`zi solve\`) using the same --datadir and --network`,
              { url: this.url.href, errno: err.code },
            ),
          );
        } else if (!replying && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          fail(new ResetBeforeReply(this.#lost(err.code)));
        } else {
          fail(this.#lost(err.code));
        }
      });
      req.end(body);
    });
  }

  #lost(code?: string): RpcTransportError {
    return new RpcTransportError(
      'HTTP_ERROR',
      `the connection to the node at ${this.url.host} broke during the call${code ? ` (${code})` : ''}`,
      { url: this.url.href },
    );
  }
}

function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
