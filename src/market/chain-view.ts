import type { Chain } from '../chain/chain.ts';
import type { Hash } from '../chain/hash.ts';
import { type ContractBodies, contractBody } from './contract-body.ts';
import { type ContractRecord, decodeContract, getContract, getPaidRanges, STATE_CONTRACT } from './contract-state.ts';
import type { Range } from './ranges.ts';

/**
 * What the Authority and the Solver read from the chain, in the market's own
 * terms: narrow, so that each service can be tested against a fake.
 */
export interface MarketChain {
  readonly height: number;
  readonly genesisHash: Hash;
  /** The relay fee rate, which a payout's fee is priced at. */
  readonly minFeePerByte: bigint;
  contract(id: Hash): ContractRecord | undefined;
  paidRanges(id: Hash): Range[];
  /** Every contract on chain, open or closed. */
  contracts(): AsyncIterable<[Hash, ContractRecord]>;
  contractBody: ContractBodies;
  /** Calls `handler` after every change of tip; returns what unsubscribes it. */
  onTip(handler: () => void): () => void;
}

/** The node's chain as the market services see it. */
export function marketChain(chain: Chain): MarketChain {
  return {
    get height() {
      return chain.height;
    },
    get genesisHash() {
      return chain.genesisHash;
    },
    minFeePerByte: chain.params.minFeePerByte,
    contract: (id) => getContract(chain.state, id),
    paidRanges: (id) => getPaidRanges(chain.state, id),
    async *contracts() {
      for await (const [key, value] of chain.store.stateEntries(new Uint8Array([STATE_CONTRACT]))) {
        yield [key.subarray(1), decodeContract(value)];
      }
    },
    contractBody: (id) => contractBody(chain, id),
    onTip(handler) {
      chain.on('tip', handler);
      return () => chain.off('tip', handler);
    },
  };
}
