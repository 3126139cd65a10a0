import type { NetworkName } from '../chain/params.ts';

/**
 * Every name a Zi node uses on the wire carries its network, so a devnet node
 * and a mainnet node that meet (on a LAN, through a typo in --peer) share no
 * protocol and no topic: they cannot exchange a single block by mistake.
 */
export interface WireNames {
  /** Request/response protocol: status, headers and block bodies. */
  sync: string;
  /** Gossip topic of new blocks. */
  blocks: string;
  /** Gossip topic of new transactions. */
  txs: string;
  /** mDNS service tag, so LAN discovery only finds nodes of the same network. */
  mdnsTag: string;
}

/** A domain's protocol or topic name on a network: `/zi/<network>/<suffix>`. */
export function domainName(network: NetworkName, suffix: string): string {
  return `/zi/${network}/${suffix}`;
}

export function wireNames(network: NetworkName): WireNames {
  return {
    sync: `/zi/${network}/sync/1.0.0`,
    blocks: `/zi/${network}/blocks/1`,
    txs: `/zi/${network}/txs/1`,
    mdnsTag: `_zi-${network}._udp.local`,
  };
}
