/**
 * Errors with a stable string code and typed metadata, so callers (RPC, p2p
 * scoring, CLI) branch on `code`, never on message text.
 */
export class ZiError<Code extends string = string, Meta extends object = Record<string, unknown>> extends Error {
  readonly code: Code;
  readonly meta: Meta;

  constructor(code: Code, message: string, meta?: Meta, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.meta = meta ?? ({} as Meta);
  }

  toJSON(): { code: Code; message: string; meta: Meta } {
    return { code: this.code, message: this.message, meta: this.meta };
  }
}

/** Bytes that do not decode to exactly one canonical value. */
export class DecodeError extends ZiError<
  'TRUNCATED' | 'TRAILING_BYTES' | 'TOO_LARGE' | 'NON_CANONICAL' | 'BAD_VALUE' | 'UNKNOWN_KIND' | 'BAD_ADDRESS'
> {}

/** A value that decodes but breaks a consensus rule. */
export class ValidationError extends ZiError {}

export function isZiError(err: unknown): err is ZiError {
  return err instanceof ZiError;
}
