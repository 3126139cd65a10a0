import { ZiError } from '../chain/errors.ts';

export type ContentErrorCode =
  /** The content is not in the store asked (and it was asked not to search the network). */
  | 'NOT_FOUND'
  /** The deadline passed before the content arrived. */
  | 'TIMEOUT'
  /** The caller's own signal aborted the operation. */
  | 'ABORTED'
  /** Bytes do not hash to the CID they were fetched or stored under. */
  | 'CID_MISMATCH'
  /** More bytes than the caller, or the block limit, allows. */
  | 'TOO_LARGE'
  /** Not a CID this node uses (CIDv1, raw codec, sha2-256). */
  | 'BAD_CID'
  /** The IPFS backend (a Kubo daemon, the local block store) cannot be reached or failed. */
  | 'UNAVAILABLE'
  /** The store was closed. */
  | 'CLOSED';

export interface ContentErrorMeta {
  cid?: string;
  [key: string]: unknown;
}

/** A content-store failure; callers branch on `code` (e.g. a CID_MISMATCH costs the sending peer score). */
export class ContentError extends ZiError<ContentErrorCode, ContentErrorMeta> {}
