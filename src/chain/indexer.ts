import type { Block } from './block.ts';
import type { Hash } from './hash.ts';
import type { NetworkParams } from './params.ts';
import type { StateChange, StateReader, StateWriter } from './state.ts';
import type { TxRulesRegistry } from './tx-rules.ts';

/**
 * A read-side index kept beside the chain (the explorer's, src/explorer):
 * not consensus, never read by a rule, but written in the same atomic batch
 * as the block it describes, with its own undo data, so it is exactly as
 * reorg-safe and crash-safe as the state. Its keys live under PREFIX_INDEX
 * (store/layout.ts); `zi node --reindex` rebuilds it with the state.
 */
export interface BlockIndexer {
  /** Names its completeness marker; unique among a chain's indexers. */
  name: string;
  /** Bumped when what it writes changes: a store indexed by another version is rebuilt by --reindex. */
  version: number;
  /** Writes what one main-chain block adds; the chain records the undo itself. */
  connect(index: StateWriter, block: IndexedBlock): void;
}

/** What an indexer sees of a block as it joins the main chain. */
export interface IndexedBlock {
  block: Block;
  hash: Hash;
  height: number;
  timestamp: number;
  /** Every state key the block wrote, with its value before and after. */
  changes: readonly StateChange[];
  /** The ledger state after the block. */
  state: StateReader;
  rules: TxRulesRegistry;
  params: NetworkParams;
}
