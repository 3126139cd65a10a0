/**
 * JSON-RPC error codes and the typed errors both ends of the node API throw.
 */
import { ZiError } from '../chain/errors.ts';

/** Standard JSON-RPC 2.0 codes, plus the one server-defined code Zi uses. */
export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INVALID_PARAMS = -32602;
export const RPC_INTERNAL_ERROR = -32603;
/** A handler threw a ZiError; `data.code` holds its string code. */
export const RPC_APPLICATION_ERROR = -32000;

const STANDARD_NAMES: Record<number, string> = {
  [RPC_PARSE_ERROR]: 'PARSE_ERROR',
  [RPC_INVALID_REQUEST]: 'INVALID_REQUEST',
  [RPC_METHOD_NOT_FOUND]: 'METHOD_NOT_FOUND',
  [RPC_INVALID_PARAMS]: 'INVALID_PARAMS',
  [RPC_INTERNAL_ERROR]: 'INTERNAL_ERROR',
};

/** The `error` member of a JSON-RPC response. */
export interface RpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** `data` of an application error (-32000): the remote ZiError's code and meta. */
export interface RpcApplicationData {
  code: string;
  meta?: Record<string, unknown>;
}

export interface RpcErrorMeta extends Record<string, unknown> {
  /** The numeric JSON-RPC code. */
  rpcCode: number;
  data?: unknown;
}

/**
 * An error response from the node. `code` is the remote ZiError's code when
 * the handler threw one (e.g. 'INSUFFICIENT_FUNDS'), else the standard name
 * ('METHOD_NOT_FOUND', 'INVALID_PARAMS', …), so the CLI prints one string
 * either way. The numeric code is `rpcCode`.
 */
export class RpcError extends ZiError<string, RpcErrorMeta> {
  readonly rpcCode: number;
  readonly data: unknown;

  constructor(error: RpcErrorObject) {
    const app = applicationData(error);
    const code = app?.code ?? STANDARD_NAMES[error.code] ?? 'SERVER_ERROR';
    super(code, error.message, { rpcCode: error.code, data: error.data });
    this.rpcCode = error.code;
    this.data = error.data;
  }

  /** The remote ZiError's meta, when the error came from a handler. */
  get remoteMeta(): Record<string, unknown> | undefined {
    return applicationData({ code: this.rpcCode, message: this.message, data: this.data })?.meta;
  }
}

function applicationData(error: RpcErrorObject): RpcApplicationData | undefined {
  const d = error.data;
  if (error.code > -32000 || error.code < -32099) return undefined;
  if (typeof d !== 'object' || d === null || typeof (d as { code?: unknown }).code !== 'string') return undefined;
  const meta = (d as { meta?: unknown }).meta;
  return {
    code: (d as { code: string }).code,
    meta: typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>) : undefined,
  };
}

/** The call never produced a JSON-RPC response. */
export class RpcTransportError extends ZiError<
  'NODE_UNREACHABLE' | 'UNAUTHORIZED' | 'HTTP_ERROR' | 'BAD_RESPONSE' | 'TIMEOUT' | 'BAD_URL'
> {}

/**
 * A handler may throw this for a semantic check the param spec cannot
 * express (e.g. an address with a bad checksum); the caller gets -32602.
 */
export class InvalidParamsError extends ZiError<'INVALID_PARAMS'> {
  constructor(message: string, meta?: Record<string, unknown>) {
    super('INVALID_PARAMS', message, meta);
  }
}

export class CookieError extends ZiError<
  'NODE_NOT_RUNNING' | 'BAD_COOKIE' | 'COOKIE_UNREADABLE' | 'COOKIE_UNWRITABLE'
> {}

export class RpcServerError extends ZiError<'ADDRESS_IN_USE' | 'LISTEN_FAILED' | 'BAD_OPTIONS'> {}
