import { ZiError } from '../chain/errors.ts';

/**
 * Why contract code was refused or a call into it failed. Callers branch on
 * these codes: a Solver drops a contract that fails with COMPILE_ERROR, a
 * Bidder treats TIMEOUT/MEMORY_LIMIT in `validate` as a failed batch, the
 * mempool refuses CODE_TOO_LARGE/COMPILE_ERROR/MISSING_EXPORT.
 */
export type SandboxErrorCode =
  /** Source over the size limit (UTF-8 bytes). */
  | 'CODE_TOO_LARGE'
  /** Source does not parse or compile; meta.line/column point at the fault. */
  | 'COMPILE_ERROR'
  /** `input` or `mcu` is not declared at top level. */
  | 'MISSING_EXPORT'
  /** A declared export has the wrong type (e.g. `size` not an integer, `mcu` not a function). */
  | 'BAD_EXPORT'
  /** The host passed an argument the contract cannot be called with (index out of range, non-JSON value…). */
  | 'BAD_ARGUMENT'
  /** The call ran past its time limit. */
  | 'TIMEOUT'
  /** The isolate ran out of its memory cap and was killed. */
  | 'MEMORY_LIMIT'
  /** Recursion ran past the V8 stack. */
  | 'STACK_OVERFLOW'
  /** Contract code threw; meta.name/line say what and where. */
  | 'THROWN'
  /** A result that is not JSON (undefined, function, BigInt, NaN, cycle, too deep…). */
  | 'NON_JSON_RESULT'
  /** A JSON result of the wrong shape (e.g. `validate` returned a non-boolean). */
  | 'BAD_RESULT'
  /** A result larger than the configured cap. */
  | 'RESULT_TOO_LARGE'
  /** Contract code touched the clock, randomness, timers, WebAssembly or another machine-dependent API. */
  | 'NONDETERMINISTIC'
  /** The sandbox process died during the call (killed from outside, or crashed). */
  | 'CRASHED'
  /** The runtime was disposed by its owner. */
  | 'DISPOSED';

export interface SandboxErrorMeta {
  /** 1-based line in the contract source. */
  line?: number;
  /** 1-based column in the contract source. */
  column?: number;
  /** The export concerned (MISSING_EXPORT, BAD_EXPORT) or the thrown error's name (THROWN). */
  name?: string;
  /** The machine-dependent API that was touched (NONDETERMINISTIC). */
  api?: string;
  /** The MCU index being worked on when a range call failed. */
  index?: number;
  /** The operation that failed: 'load', 'runRange', 'input', 'mcu', 'union', 'validate'. */
  op?: string;
  /** The limit that was exceeded (bytes, characters, milliseconds or MiB, by code). */
  limit?: number;
  /** The measured size that exceeded `limit`. */
  actual?: number;
  /** Peak resident memory of the sandbox process during the call, in bytes (watchdog kills). */
  rssBytes?: number;
}

export class SandboxError extends ZiError<SandboxErrorCode, SandboxErrorMeta> {}
