import type { Libp2p } from '@libp2p/interface';
import type { Logger } from 'pino';
import { ContentError } from './errors.ts';
import type { ContentStore } from './store.ts';

export * from './cid.ts';
export * from './errors.ts';
export * from './store.ts';

export interface OpenContentOptions {
  /** The node's data dir (the embedded node keeps its blocks under `<datadir>/ipfs`). */
  datadir: string;
  /** The node's own started libp2p host, for the embedded Helia node. */
  libp2p?: Libp2p;
  /** A Kubo daemon's RPC API URL (--ipfs-api); when set, it is used instead of the embedded node. */
  ipfsApi?: string;
  logger?: Logger;
  /** Default deadline of get and pin. */
  timeoutMs?: number;
}

/**
 * The node's content store: a Kubo daemon when --ipfs-api is given, else an
 * embedded Helia node on the node's own host. Each implementation is loaded
 * only when chosen (Helia's libp2p dependencies take about half a second to
 * import).
 */
export async function openContentStore(opts: OpenContentOptions): Promise<ContentStore> {
  if (opts.ipfsApi !== undefined) {
    const { openKuboStore } = await import('./kubo.ts');
    return openKuboStore({ url: opts.ipfsApi, logger: opts.logger, timeoutMs: opts.timeoutMs });
  }
  if (opts.libp2p === undefined) {
    throw new ContentError('UNAVAILABLE', 'the embedded IPFS node needs the libp2p host (or use --ipfs-api URL)');
  }
  const { openHeliaStore } = await import('./helia.ts');
  return openHeliaStore({ datadir: opts.datadir, libp2p: opts.libp2p, logger: opts.logger, timeoutMs: opts.timeoutMs });
}
