import { CID } from 'multiformats/cid';
import { create as createDigest } from 'multiformats/hashes/digest';
import { equalBytes } from '../chain/encoding.ts';
import { sha256 } from '../chain/hash.ts';
import { MAX_CID_SIZE } from '../chain/transaction.ts';
import { ContentError } from './errors.ts';

export { CID };

/** Multicodec of raw bytes: the block is the content itself, no DAG around it. */
export const RAW_CODEC = 0x55;
/** Multihash code of sha2-256. */
export const SHA2_256 = 0x12;
/** The one kind of CID content has here. */
export type ContentCid = CID<unknown, typeof RAW_CODEC, typeof SHA2_256, 1>;

/** Binary size of every CID this node uses: version, codec, hash code, digest length, 32-byte digest. */
export const CID_BYTES = 36;
const PREFIX = Uint8Array.of(0x01, RAW_CODEC, SHA2_256, 32);

if (CID_BYTES > MAX_CID_SIZE) throw new Error('a content CID must fit the transaction cid field');

/**
 * The CID of `bytes`: CIDv1, raw codec, sha2-256. Computed locally, without
 * any IPFS node, so whoever receives bytes can check them against a claimed
 * CID. Every content in Zi uses exactly this form, so one content has exactly
 * one CID (no v0/v1 or dag-pb/raw aliases).
 */
export function cidOf(bytes: Uint8Array): ContentCid {
  return CID.createV1(RAW_CODEC, createDigest(SHA2_256, sha256(bytes)));
}

/** BAD_CID unless `cid` is a CIDv1 / raw / sha2-256 with a 32-byte digest. */
export function checkCid(cid: CID): ContentCid {
  // CID.asCID also accepts CID objects from another copy of multiformats.
  const c = CID.asCID(cid);
  if (
    c === null ||
    c.version !== 1 ||
    c.code !== RAW_CODEC ||
    c.multihash.code !== SHA2_256 ||
    c.multihash.digest.length !== 32
  ) {
    throw new ContentError('BAD_CID', 'expected a CIDv1 with raw codec and a sha2-256 digest', {
      cid: safeString(cid),
    });
  }
  return c as ContentCid;
}

/** The binary form carried in a transaction's `cid` field (36 bytes). */
export function cidToBytes(cid: CID): Uint8Array {
  return checkCid(cid).bytes;
}

/**
 * Strict inverse of cidToBytes: exactly 36 bytes with the one prefix this node
 * writes, so no varint or codec variant of the same content is accepted.
 */
export function cidFromBytes(bytes: Uint8Array): ContentCid {
  if (bytes.length !== CID_BYTES || !PREFIX.every((b, i) => bytes[i] === b)) {
    throw new ContentError('BAD_CID', `a content CID is ${CID_BYTES} bytes starting 01 55 12 20`, {
      length: bytes.length,
    });
  }
  return CID.decode(bytes) as ContentCid;
}

/** The canonical text form (base32, `bafkrei…`), as printed by cid.toString(). */
export function cidToString(cid: CID): string {
  return checkCid(cid).toString();
}

/** Parses only the canonical text form, so one content has one spelling in logs, RPC and JSON. */
export function cidFromString(text: string): ContentCid {
  let cid: CID;
  try {
    cid = CID.parse(text);
  } catch (err) {
    throw new ContentError('BAD_CID', `not a CID: ${JSON.stringify(text.slice(0, 80))}`, {}, { cause: err });
  }
  const c = checkCid(cid);
  if (c.toString() !== text) {
    throw new ContentError('BAD_CID', 'CIDs are written in base32 (bafkrei…)', { cid: c.toString() });
  }
  return c;
}

/** CID_MISMATCH unless `bytes` hash to `cid`. Run on every byte string before it is trusted. */
export function verifyCid(cid: CID, bytes: Uint8Array): void {
  const want = checkCid(cid).multihash.digest;
  const got = sha256(bytes);
  if (!equalBytes(want, got)) {
    throw new ContentError('CID_MISMATCH', 'the bytes do not hash to the CID they were given for', {
      cid: cid.toString(),
      actual: cidOf(bytes).toString(),
      size: bytes.length,
    });
  }
}

function safeString(cid: unknown): string | undefined {
  try {
    return String(cid);
  } catch {
    return undefined;
  }
}
