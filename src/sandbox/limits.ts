import { SandboxError } from './errors.ts';

/** A JSON value, as contract code produces them. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface SandboxLimits {
  /** Heap cap of the contract's isolate, in MiB. Exceeding it fails the call (MEMORY_LIMIT). */
  memoryLimitMiB: number;
  /** Time cap of one call, in ms: the contract's top level and the operation each get this much. */
  timeoutMs: number;
  /**
   * Largest result of one call, and largest argument: 8 bytes per number and
   * 1 per boolean in a numeric or boolean column of range results, the
   * length of the JSON text (UTF-16 code units) otherwise.
   */
  maxResultBytes: number;
}

interface Bounds {
  min: number;
  default: number;
  max: number;
}

/** Node policy bounds for the limits a contract declares (DESIGN §4). */
export const SANDBOX_POLICY: Readonly<Record<keyof SandboxLimits, Bounds>> = Object.freeze({
  memoryLimitMiB: { min: 8, default: 128, max: 1024 },
  timeoutMs: { min: 1, default: 10_000, max: 300_000 },
  maxResultBytes: { min: 1024, default: 16 * 1024 * 1024, max: 256 * 1024 * 1024 },
});

/** Deepest nesting of arrays/objects in one input or output value. */
export const MAX_JSON_DEPTH = 64;

/** The name contract code runs under; stack traces and error lines refer to it. */
export const CONTRACT_FILENAME = 'contract.js';

/** Fills in defaults and refuses limits outside the node policy (BAD_ARGUMENT). */
export function resolveLimits(limits: Partial<SandboxLimits> = {}): SandboxLimits {
  const out = {} as SandboxLimits;
  for (const key of Object.keys(SANDBOX_POLICY) as (keyof SandboxLimits)[]) {
    const bounds = SANDBOX_POLICY[key];
    const value = limits[key] ?? bounds.default;
    if (!Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
      throw new SandboxError('BAD_ARGUMENT', `${key} must be an integer in [${bounds.min}, ${bounds.max}]`, {
        name: key,
        limit: bounds.max,
      });
    }
    out[key] = value;
  }
  return out;
}

/**
 * Resident memory a sandbox process may hold beyond its contract's memory
 * cap: the process itself (Node and isolated-vm, about 45-60 MiB), plus two
 * copies of the largest result (out of the isolate, and serialised).
 */
export const MEMORY_MARGIN_MIB = 64;

/**
 * Resident bytes past which a sandbox process running a call with these
 * limits is killed. `heldBytes` is what the process held when the call
 * began: past the process's own footprint (MEMORY_MARGIN_MIB) that is the
 * other contracts it keeps compiled and what their calls left (V8 and malloc
 * keep freed pages), not this call's doing, so it is added. (A 16 MiB
 * contract loaded after others in the same process, or called after a big
 * one, was killed at once.)
 */
export function memoryCeiling(limits: SandboxLimits, heldBytes = 0): number {
  const MiB = 1024 * 1024;
  const own = (limits.memoryLimitMiB + MEMORY_MARGIN_MIB) * MiB + 2 * limits.maxResultBytes;
  return own + Math.max(0, heldBytes - MEMORY_MARGIN_MIB * MiB);
}
