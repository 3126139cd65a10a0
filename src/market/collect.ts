import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { equalBytes, toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import { cidFromString, cidOf } from '../content/cid.ts';
import type { ContractRuntime, JsonValue } from '../sandbox/index.ts';
import { type Outputs, outputAt } from '../sandbox/outputs.ts';
import { decodeResults } from './results.ts';

export class CollectError extends ZiError<'CID_MISMATCH' | 'WRONG_BATCH' | 'UNION_TOO_LARGE'> {}

export interface PaidBatchRef {
  start: number;
  end: number;
  cid: string;
}

export interface PaidBatch {
  start: number;
  end: number;
  outputs: Outputs;
}

export interface Collected {
  /** Every paid batch, lowest index first, its outputs as the column it was stored in. */
  batches: PaidBatch[];
  /** MCUs paid: the batches' lengths summed. */
  mcus: number;
}

/**
 * Most rows a union is built from. The rows are built and folded inside the
 * contract's isolate and the result leaves it as one JSON text: a Mandelbrot
 * row is about 100 bytes there and 30 characters of text, so past a few
 * million rows the fold would hit the isolate's memory cap or the result
 * limit instead of failing clearly. Larger contracts are read by index
 * (outputReader) or written out line by line (writeOutputLines).
 */
export const MAX_UNION_ROWS = 1 << 22;

/**
 * The Bidder's results: every paid batch fetched by CID and checked against
 * its CID and its paid range. Outputs stay in their columns (a boolean is a
 * byte), so a contract of tens of millions of MCUs fits in memory.
 */
export async function collectResults(
  contract: Hash,
  refs: readonly PaidBatchRef[],
  fetch: (cid: string) => Promise<Uint8Array>,
  onProgress?: (done: number, total: number) => void,
): Promise<Collected> {
  const batches: PaidBatch[] = [];
  for (const b of refs) {
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
    batches.push({ start: b.start, end: b.end, outputs: r.outputs });
    onProgress?.(batches.length, refs.length);
  }
  batches.sort((a, b) => a.start - b.start);
  return { batches, mcus: batches.reduce((n, b) => n + (b.end - b.start), 0) };
}

/** A reader of outputs by index; fast for indices read in order, as an image is drawn. */
export function outputReader(c: Collected): (index: number) => JsonValue | undefined {
  let at = 0;
  return (i) => {
    let b = c.batches[at];
    if (b === undefined || i < b.start || i >= b.end) {
      // Binary search for the last batch starting at or before i.
      let lo = 0;
      let hi = c.batches.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (c.batches[mid]!.start <= i) lo = mid;
        else hi = mid - 1;
      }
      at = lo;
      b = c.batches[at];
      if (b === undefined || i < b.start || i >= b.end) return undefined;
    }
    return outputAt(b.outputs, i - b.start);
  };
}

/**
 * The paper's merged result: the [index, input, output] rows of every batch,
 * inputs recomputed by the contract, folded with its union. UNION_TOO_LARGE
 * past MAX_UNION_ROWS rows.
 */
export async function unionOf(c: Collected, runtime: ContractRuntime): Promise<JsonValue> {
  assertUnionFits(c.mcus);
  return runtime.unionRows(c.batches);
}

/** UNION_TOO_LARGE unless a union of `mcus` rows can be built (checked before anything is fetched). */
export function assertUnionFits(mcus: number): void {
  if (mcus > MAX_UNION_ROWS) {
    throw new CollectError(
      'UNION_TOO_LARGE',
      `${mcus.toLocaleString('en')} paid MCUs are more rows than the ${MAX_UNION_ROWS.toLocaleString('en')} a union is built from: write the outputs (zi contract results --outputs <file>, and --png) instead`,
      { mcus, limit: MAX_UNION_ROWS },
    );
  }
}

/**
 * Every paid output as one line of JSON, `[index, output]`, lowest index
 * first, written as it is produced: for contracts too large for a union.
 */
export async function writeOutputLines(file: string, c: Collected): Promise<void> {
  const out = createWriteStream(file);
  const failed = once(out, 'error').then(([err]) => Promise.reject(err));
  failed.catch(() => undefined);
  const STEP = 1 << 16;
  for (const b of c.batches) {
    const n = b.end - b.start;
    for (let k = 0; k < n; k += STEP) {
      let text = '';
      for (let j = k; j < Math.min(n, k + STEP); j++)
        text += `[${b.start + j},${JSON.stringify(outputAt(b.outputs, j))}]\n`;
      if (!out.write(text)) await Promise.race([once(out, 'drain'), failed]);
    }
  }
  out.end();
  await finished(out);
}
