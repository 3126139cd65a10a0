import type { Address } from '../chain/address.ts';
import type { Hash } from '../chain/hash.ts';
import type { NetworkParams } from '../chain/params.ts';
import type { StateReader, StateWriter } from '../chain/state.ts';
import type { Ports } from '../chain/tx-rules.ts';

/** What the audit domain asks of the validator domain (node/domains.ts checks it is offered). */
export interface ValidatorsForAudit {
  release(state: StateWriter, contract: Hash): void;
  requiredStake(state: StateReader, now: number, params: NetworkParams): bigint;
  reservedFor(state: StateReader, validator: Address): Hash[];
  setBanned(state: StateWriter, validator: Address, banned: boolean): void;
  forfeit(state: StateWriter, validator: Address): bigint;
}

/** What the audit domain asks of the market. */
export interface MarketForAudit {
  settleFees(state: StateWriter, contract: Hash, to: Address): bigint;
  /** True when the contract was open and fell back to its Bidder. */
  dropValidator(state: StateWriter, contract: Hash): boolean;
}

/** Both ports; an audit never runs without them (the validator and market domains are part of every node). */
export function auditPorts(ports: Ports): { validators: ValidatorsForAudit; market: MarketForAudit } {
  const validators = ports.get<ValidatorsForAudit>('validator');
  const market = ports.get<MarketForAudit>('market');
  if (!validators || !market) throw new Error('the audit domain needs the validator and market domains');
  return { validators, market };
}
