import { equalBytes } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import { cidOf } from '../content/cid.ts';
import type { ContractRuntime, ResultRow } from '../sandbox/index.ts';
import { outputAt, outputList } from '../sandbox/outputs.ts';
import { sampleIndices } from '../sandbox/sampling.ts';
import type { Range } from './ranges.ts';
import { canonicalJson, decodeResults, MAX_RESULTS_BYTES } from './results.ts';

export class BatchError extends ZiError<'CID_MISMATCH' | 'BAD_RESULT' | 'FAILED_VALIDATION'> {}

/**
 * Whether a batch of results is what it claims (DESIGN.md §4): its bytes
 * hash to its CID, they are the results of exactly `range` of `contract`,
 * and the contract's validation with `seed` accepts them. The authority
 * draws the seed after the batch arrives; an audit takes it from the chain
 * (DESIGN.md §6). Throws BatchError.
 */
export async function checkBatch(b: {
  contract: Hash;
  range: Range;
  cid: Uint8Array;
  bytes: Uint8Array;
  runtime: ContractRuntime;
  sampleRate: number;
  seed: Uint8Array;
}): Promise<void> {
  if (!equalBytes(cidOf(b.bytes).bytes, b.cid)) {
    throw new BatchError('CID_MISMATCH', 'the results do not hash to the CID sent with them');
  }
  let results: ReturnType<typeof decodeResults>;
  try {
    if (b.bytes.length > MAX_RESULTS_BYTES) throw new Error(`results over ${MAX_RESULTS_BYTES} bytes`);
    results = decodeResults(b.bytes);
  } catch (err) {
    throw new BatchError('BAD_RESULT', (err as Error).message);
  }
  const { start, end } = b.range;
  const [r] = results.ranges;
  if (
    !equalBytes(results.contract, b.contract) ||
    results.ranges.length !== 1 ||
    r!.start !== start ||
    r!.end !== end
  ) {
    throw new BatchError('BAD_RESULT', 'the results do not cover exactly the range');
  }
  let ok: boolean;
  if (b.runtime.hasValidate) {
    // Results carry outputs only; the inputs are the contract's own, recomputed here.
    const inputs = await b.runtime.inputRange(start, end - start);
    const rows: ResultRow[] = outputList(results.outputs).map((out, k) => [start + k, inputs[k]!, out]);
    ok = await b.runtime.validate(rows, b.seed, b.sampleRate);
  } else {
    // The default validation: the seeded sample recomputed, in one sandbox call.
    const indices = sampleIndices(b.seed, start, end - start, b.sampleRate);
    const outputs = await b.runtime.sampleAt(indices);
    // Compared in canonical form: the batch's objects arrive with sorted keys.
    ok = indices.every((i, k) => canonicalJson(outputs[k]) === canonicalJson(outputAt(results.outputs, i - start)));
  }
  if (!ok) throw new BatchError('FAILED_VALIDATION', `the contract's validate() refused indices ${start}..${end - 1}`);
}
