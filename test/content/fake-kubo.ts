import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CID } from 'multiformats/cid';
import { create as createDigest } from 'multiformats/hashes/digest';

/**
 * A FAKE Kubo daemon: an HTTP server answering the few Kubo RPC endpoints the
 * Kubo adapter calls, the way Kubo 0.3x answers them (POST, `arg` query
 * parameters, JSON bodies, HTTP 500 with {"Message", "Code", "Type"} on
 * errors). A real Kubo cannot run here: its npm package downloads the Go
 * binary at install time. Blocks live in memory; what the fake cannot find it
 * "searches the network" for, i.e. holds the request open until the client
 * gives up, as Kubo does for a CID nobody provides.
 *
 * Knobs make it misbehave the ways a daemon or its peers could: serve other
 * bytes than it stored, report a wrong size, or answer CIDv0 like a Kubo
 * older than 0.13 that ignores `cid-codec`.
 */
export class FakeKubo {
  readonly blocks = new Map<string, Uint8Array>();
  readonly pins = new Set<string>();
  /** Every call as `path?query`, in order. */
  readonly calls: string[] = [];
  /** CID → bytes served by block/get instead of the stored ones. */
  readonly tampered = new Map<string, Uint8Array>();
  /** CID → size reported by block/stat instead of the real one. */
  readonly statSize = new Map<string, number>();
  /** Answer block/put with a dag-pb CIDv0, as Kubo before 0.13 did. */
  legacyCids = false;
  #server: Server | undefined;
  #waiting = new Set<ServerResponse>();

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err) => this.#error(res, String(err)));
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    for (const res of this.#waiting) res.destroy();
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  /** Stores bytes directly, as if another program had added them to the daemon. */
  add(bytes: Uint8Array): string {
    const cid = rawCid(bytes);
    this.blocks.set(cid, bytes);
    return cid;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    this.calls.push(`${url.pathname}${url.search}`);
    if (req.method !== 'POST') return this.#send(res, 405, 'text/plain', 'Method Not Allowed');
    const q = url.searchParams;
    const arg = q.get('arg') ?? '';
    const offline = q.get('offline') === 'true';
    switch (url.pathname) {
      case '/api/v0/version':
        return this.#json(res, { Version: '0.35.0-fake', Commit: '', Repo: '16', System: 'fake', Golang: '' });
      case '/api/v0/block/put': {
        const bytes = multipartFile(await readBody(req), req.headers['content-type'] ?? '');
        if (bytes === undefined) return this.#error(res, 'file argument "data" is required');
        if (bytes.length > 1024 * 1024 && q.get('allow-big-block') !== 'true') {
          return this.#error(res, "produced block is over 1MiB: big blocks can't be exchanged with other peers");
        }
        const cid = rawCid(bytes);
        this.blocks.set(cid, bytes);
        if (q.get('pin') === 'true') this.pins.add(cid);
        const key = this.legacyCids
          ? CID.createV0(createDigest(0x12, CID.parse(cid).multihash.digest)).toString()
          : cid;
        return this.#json(res, { Key: key, Size: bytes.length });
      }
      case '/api/v0/block/stat':
      case '/api/v0/block/get': {
        const stored = this.blocks.get(arg);
        if (stored === undefined) return this.#missing(res, arg, offline);
        if (url.pathname === '/api/v0/block/stat') {
          return this.#json(res, { Key: arg, Size: this.statSize.get(arg) ?? stored.length });
        }
        return this.#send(res, 200, 'text/plain', this.tampered.get(arg) ?? stored);
      }
      case '/api/v0/pin/add': {
        if (!this.blocks.has(arg)) return this.#missing(res, arg, offline);
        this.pins.add(arg);
        return this.#json(res, { Pins: [arg] });
      }
      case '/api/v0/pin/ls': {
        if (!this.pins.has(arg)) return this.#error(res, `path '${arg}' is not pinned`);
        return this.#json(res, { Cid: arg, Type: 'recursive' });
      }
      default:
        return this.#send(res, 404, 'text/plain', '404 page not found');
    }
  }

  #missing(res: ServerResponse, cid: string, offline: boolean): void {
    if (offline) {
      this.#error(res, `block was not found locally (offline): ipld: could not find ${cid}`);
      return;
    }
    // Kubo would search the DHT and ask peers until the client disconnects.
    this.#waiting.add(res);
    res.on('close', () => this.#waiting.delete(res));
  }

  #json(res: ServerResponse, body: unknown): void {
    this.#send(res, 200, 'application/json', `${JSON.stringify(body)}\n`);
  }

  #error(res: ServerResponse, message: string): void {
    this.#send(res, 500, 'application/json', `${JSON.stringify({ Message: message, Code: 0, Type: 'error' })}\n`);
  }

  #send(res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
    res.writeHead(status, { 'Content-Type': type, 'X-Chunked-Output': '1' });
    res.end(body);
  }
}

/** The daemon computes CIDs itself (node:crypto), not with the code under test. */
function rawCid(bytes: Uint8Array): string {
  const digest = new Uint8Array(createHash('sha256').update(bytes).digest());
  return CID.createV1(0x55, createDigest(0x12, digest)).toString();
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** The content of the first file part of a multipart/form-data body. */
function multipartFile(body: Buffer, contentType: string): Uint8Array | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const start = body.indexOf(delimiter);
  if (start < 0) return undefined;
  const headersEnd = body.indexOf('\r\n\r\n', start);
  if (headersEnd < 0) return undefined;
  const end = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headersEnd + 4);
  if (end < 0) return undefined;
  return new Uint8Array(body.subarray(headersEnd + 4, end));
}
