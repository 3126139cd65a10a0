import { equalBytes, toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import { cidFromString, cidOf } from '../content/cid.ts';
import { outputList } from '../content/outputs.ts';
import { decodeResults } from '../content/results.ts';
import { foldResults } from './fold.ts';
import type { ContractRuntime, JsonValue, ResultRow } from './sandbox.ts';

export class CollectError extends ZiError<'CID_MISMATCH' | 'WRONG_BATCH'> {}

export interface PaidBatchRef {
  start: number;
  end: number;
  cid: string;
}

export interface Collected {
  /** Every paid output by index. */
  outputs: Map<number, JsonValue>;
  /** The contract's union of all batches' [index, input, output] rows. */
  union: JsonValue;
  batches: number;
}

/**
 * The Bidder's results: every paid batch fetched by CID, checked against its
 * CID and its paid range, turned into the paper's [index, input, output] rows
 * and folded with the contract's union.
 */
export async function collectResults(
  contract: Hash,
  batches: readonly PaidBatchRef[],
  fetch: (cid: string) => Promise<Uint8Array>,
  runtime: ContractRuntime,
  onProgress?: (done: number, total: number) => void,
): Promise<Collected> {
  const outputs = new Map<number, JsonValue>();
  const rows: ResultRow[][] = [];
  let done = 0;
  for (const b of batches) {
    const bytes = await fetch(b.cid);
    // Trust nothing fetched until it hashes to the CID the chain paid for.
    if (!equalBytes(cidOf(bytes).bytes, cidFromString(b.cid).bytes)) {
      throw new CollectError('CID_MISMATCH', `batch ${b.start}..${b.end} does not hash to its CID ${b.cid}`);
    }
    const r = decodeResults(bytes);
    const range = r.ranges[0];
    if (
      !equalBytes(r.contract, contract) ||
      r.ranges.length !== 1 ||
      range!.start !== b.start ||
      range!.end !== b.end
    ) {
      throw new CollectError(
        'WRONG_BATCH',
        `batch ${b.cid} holds other results than contract ${toHex(contract)} paid for`,
      );
    }
    const inputs = await runtime.inputRange(b.start, b.end - b.start);
    const values = outputList(r.outputs);
    rows.push(values.map((o, k) => [b.start + k, inputs[k]!, o]));
    values.forEach((o, k) => {
      outputs.set(b.start + k, o);
    });
    onProgress?.(++done, batches.length);
  }
  return { outputs, union: await foldResults(runtime, rows), batches: batches.length };
}
