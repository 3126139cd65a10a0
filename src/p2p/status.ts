import type { Chain } from '../chain/chain.ts';
import { equalBytes, toHex } from '../chain/encoding.ts';
import type { Status } from './messages.ts';
import { PeerError } from './scoring.ts';

/** What we tell each peer when we meet it. */
export function localStatus(chain: Chain): Status {
  const tip = chain.tip;
  return { genesis: chain.genesisHash, tip: tip.hash, height: tip.height, chainwork: tip.chainwork };
}

/**
 * A peer of another genesis is on another network (or another chain
 * altogether): nothing it says can be used, so it is refused outright.
 */
export function checkStatus(chain: Chain, remote: Status): void {
  if (!equalBytes(remote.genesis, chain.genesisHash)) {
    throw new PeerError('WRONG_GENESIS', `peer's genesis ${toHex(remote.genesis).slice(0, 16)}… is not ours`, {
      genesis: toHex(remote.genesis),
    });
  }
}
