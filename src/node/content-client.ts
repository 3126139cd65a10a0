import type { RpcClient } from './rpc/client.ts';

/** Fetches content by CID through a node's `getcontent` (the caller checks the bytes against the CID). */
export function fetchByRpc(rpc: RpcClient, timeoutMs = 60_000): (cid: string) => Promise<Uint8Array> {
  return async (cid) => {
    const r = await rpc.call<{ base64: string }>('getcontent', { cid, timeoutMs });
    return new Uint8Array(Buffer.from(r.base64, 'base64'));
  };
}
