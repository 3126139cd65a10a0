/** Running contract code (DESIGN §4): sandbox processes, isolates, limits, sampling. */
export { type ContractCodeInfo, checkContractCode, MAX_CONTRACT_CODE_BYTES } from './code.ts';
export type { ResultRow } from './columns.ts';
export { SandboxError, type SandboxErrorCode, type SandboxErrorMeta } from './errors.ts';
export {
  CONTRACT_FILENAME,
  type JsonValue,
  MAX_JSON_DEPTH,
  MEMORY_MARGIN_MIB,
  memoryCeiling,
  resolveLimits,
  SANDBOX_POLICY,
  type SandboxLimits,
} from './limits.ts';
export { SandboxPool, type SandboxPoolOptions } from './pool.ts';
export { SandboxProcesses } from './processes.ts';
export {
  ContractRuntime,
  type LoadOptions,
  loadContract,
  type RangeResult,
  rangeRows,
  sandboxProcesses,
  shutdownSandboxes,
} from './runtime.ts';
