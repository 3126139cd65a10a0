import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { toHex } from '../chain/encoding.ts';
import { DecodeError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import type { JsonValue } from './sandbox.ts';

/**
 * The results of one lease, as stored on IPFS and paid for on chain: the
 * whitepaper's [index, input, output] rows, in column form. One canonical
 * byte form (fixed key order, JSON as JSON.stringify writes it), so equal
 * results always have equal CIDs.
 */
export interface Results {
  contract: string;
  from: number;
  inputs: JsonValue[];
  outputs: JsonValue[];
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export function encodeResults(contract: Hash, from: number, inputs: JsonValue[], outputs: JsonValue[]): Uint8Array {
  if (inputs.length !== outputs.length) throw new RangeError('inputs and outputs differ in length');
  return enc.encode(JSON.stringify({ v: 1, contract: toHex(contract), from, inputs, outputs }));
}

export function decodeResults(bytes: Uint8Array, maxBytes: number): Results {
  if (bytes.length > maxBytes) {
    throw new DecodeError('TOO_LARGE', `results: ${bytes.length} bytes, at most ${maxBytes}`, { what: 'results' });
  }
  let value: unknown;
  try {
    value = JSON.parse(dec.decode(bytes));
  } catch {
    throw new DecodeError('BAD_VALUE', 'results are not UTF-8 JSON', { what: 'results' });
  }
  const v = value as { v?: unknown; contract?: unknown; from?: unknown; inputs?: unknown; outputs?: unknown };
  if (
    typeof v !== 'object' ||
    v === null ||
    v.v !== 1 ||
    typeof v.contract !== 'string' ||
    !/^[0-9a-f]{64}$/.test(v.contract) ||
    !Number.isSafeInteger(v.from) ||
    (v.from as number) < 0 ||
    !Array.isArray(v.inputs) ||
    !Array.isArray(v.outputs) ||
    v.inputs.length !== v.outputs.length ||
    v.inputs.length === 0
  ) {
    throw new DecodeError('BAD_VALUE', 'results do not have the expected shape', { what: 'results' });
  }
  const results: Results = { contract: v.contract, from: v.from as number, inputs: v.inputs, outputs: v.outputs };
  // One encoding per value: whatever parses must also re-encode to these exact bytes.
  const again = encodeResults(Buffer.from(results.contract, 'hex'), results.from, results.inputs, results.outputs);
  if (Buffer.compare(again, bytes) !== 0) {
    throw new DecodeError('NON_CANONICAL', 'results are not in canonical form', { what: 'results' });
  }
  return results;
}

/** CIDv1, raw codec, SHA-256: computable by anyone from the bytes alone. */
export async function resultCid(bytes: Uint8Array): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(bytes));
}
