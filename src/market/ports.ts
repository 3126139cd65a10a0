import type { Address } from '../chain/address.ts';
import type { Hash } from '../chain/hash.ts';
import type { StateWriter } from '../chain/state.ts';
import type { BlockContext, TxContext } from '../chain/tx-rules.ts';

/**
 * What the market asks of the validator domain at consensus level (its
 * `validator` port, DESIGN.md §5); absent, delegated contracts run
 * Bidder-validated. node/domains.ts checks the validator domain offers it.
 */
export interface ValidatorPort {
  /** The Validator of a delegated contract opened in `ctx.block`, with `budget` reserved of its stake; none if no one is eligible. */
  assign(state: StateWriter, contract: Hash, budget: bigint, ctx: BlockContext): Address | undefined;
  /** Reserves more for an assigned contract (a topup); STAKE_EXCEEDED when its free stake does not cover it. */
  reserve(state: StateWriter, contract: Hash, amount: bigint): void;
  /** Frees a contract's reservation. */
  release(state: StateWriter, contract: Hash): void;
}

export const VALIDATOR_PORT = 'validator';

export function validatorPort(ctx: Pick<TxContext, 'ports'>): ValidatorPort | undefined {
  return ctx.ports.get<ValidatorPort>(VALIDATOR_PORT);
}
