import type { Address } from '../chain/address.ts';
import { equalBytes } from '../chain/encoding.ts';
import { type ContractRecord, hasValidator, VALIDATION_DELEGATED } from './contract-state.ts';

/**
 * Who may sign for a contract (DESIGN.md §5 "Who signs"): its Bidder, and for
 * a delegated contract the Validator assigned to it. The one copy of this
 * rule: the payout's consensus check, the Authority choosing which contracts
 * to serve and the Solver checking who answered all ask it. It reads only its
 * arguments, so the assignment can come from wherever the caller gets it.
 */
export function mayAuthorize(
  contract: Pick<ContractRecord, 'bidder' | 'validation' | 'validator'>,
  signer: Address,
): boolean {
  if (equalBytes(signer, contract.bidder)) return true;
  return contract.validation === VALIDATION_DELEGATED && equalBytes(signer, contract.validator);
}

/**
 * Node policy: whose node runs the authority side of a contract (leases,
 * validates, signs). A contract with a Validator is served by the
 * Validator's node only, so no range is leased twice (DESIGN.md §5); the
 * Bidder may still co-sign its payouts (mayAuthorize).
 */
export function serves(
  contract: Pick<ContractRecord, 'bidder' | 'validation' | 'validator'>,
  signer: Address,
): boolean {
  return equalBytes(signer, authorityOf(contract));
}

/** The address whose node serves a contract (serves): its Validator, else its Bidder. Reputation is kept by it. */
export function authorityOf(contract: Pick<ContractRecord, 'bidder' | 'validation' | 'validator'>): Address {
  return hasValidator(contract) ? contract.validator : contract.bidder;
}
