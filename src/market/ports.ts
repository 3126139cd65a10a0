import { credit } from '../chain/accounts.ts';
import { type Address, RESERVED_ADDRESS } from '../chain/address.ts';
import type { Hash } from '../chain/hash.ts';
import type { StateWriter } from '../chain/state.ts';
import type { BlockContext, TxContext } from '../chain/tx-rules.ts';
import { type ContractRecord, putContract, requireContract, STATUS_OPEN } from './contract-state.ts';

/**
 * What the market asks of the validator domain at consensus level (its
 * `validator` port, DESIGN.md §5); absent, delegated contracts run
 * Bidder-validated. node/domains.ts checks the validator domain offers it.
 */
export interface ValidatorPort {
  /**
   * A delegated contract opened by a transaction of the block at `ctx.height`:
   * ASSIGNMENTS_FULL past the block's limit, so a template leaves it for the next block.
   */
  admit(state: StateWriter, ctx: TxContext): void;
  /** The Validator of a delegated contract opened in `ctx.block`, with `budget` reserved of its stake; none if no one is eligible. */
  assign(state: StateWriter, contract: Hash, budget: bigint, ctx: BlockContext): Address | undefined;
  /** Reserves more for an assigned contract (a topup); STAKE_EXCEEDED when its free stake does not cover it. */
  reserve(state: StateWriter, contract: Hash, amount: bigint): void;
  /** Frees a contract's reservation. */
  release(state: StateWriter, contract: Hash): void;
}

/** What the market asks of the audit domain: to audit a closed contract its Validator co-signed payouts of. */
export interface AuditPort {
  open(state: StateWriter, contract: Hash, record: ContractRecord, ctx: TxContext): void;
}

export function validatorPort(ctx: Pick<TxContext, 'ports'>): ValidatorPort | undefined {
  return ctx.ports.get<ValidatorPort>('validator');
}

export function auditPort(ctx: Pick<TxContext, 'ports'>): AuditPort | undefined {
  return ctx.ports.get<AuditPort>('audit');
}

/** What the market offers others (its `market` port): settling a contract's held fees, and dropping a banned Validator. */
export interface MarketPort {
  /** Pays a closed contract's held validation fees to `to` (the Validator on Valid, the Bidder on Invalid). */
  settleFees(state: StateWriter, contract: Hash, to: Address): bigint;
  /**
   * A banned Validator's open contract falls back to its Bidder (DESIGN.md §6).
   * True when it did: a closed one keeps its Validator, whose signatures its own audit judges.
   */
  dropValidator(state: StateWriter, contract: Hash): boolean;
}

export function marketPort(own: (state: StateWriter) => StateWriter): MarketPort {
  return {
    settleFees(outer, contract, to) {
      const state = own(outer);
      const c = requireContract(state, contract);
      if (c.heldFees > 0n) credit(state, to, c.heldFees);
      putContract(state, contract, { ...c, heldFees: 0n });
      return c.heldFees;
    },
    dropValidator(outer, contract) {
      const state = own(outer);
      const c = requireContract(state, contract);
      if (c.status !== STATUS_OPEN) return false;
      putContract(state, contract, { ...c, validator: RESERVED_ADDRESS });
      return true;
    },
  };
}
