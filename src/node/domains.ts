import { marketDomain } from '../market/domain.ts';
import type { ValidatorPort as MarketNeeds } from '../market/ports.ts';
import { validatorDomain } from '../validator/domain.ts';
import type { ValidatorPort as ValidatorOffers } from '../validator/rules.ts';
import type { DomainContext, NodeDomain } from './domain.ts';

/**
 * Every domain a node of this version runs, in the order they start. The
 * only place that names them: the rest of the node loops over this list.
 */
export const DOMAINS = [validatorDomain, marketDomain] as const satisfies readonly NodeDomain<never>[];

type Domains = (typeof DOMAINS)[number];

/** Each domain's configuration, by name (e.g. `{ market: { solver } }`). */
export type DomainConfigs = { [D in Domains as D['name']]?: Parameters<D['start']>[1] };

/** What a domain's started service is, by descriptor. */
export type ServiceOf<D extends Domains> = Awaited<ReturnType<D['start']>>;

// Compile-time checks: the node's context holds what every domain declares it
// needs, and the validator domain offers the port the market declares it needs.
void (true satisfies DomainContext extends Parameters<Domains['start']>[0] ? true : never);
void (true satisfies ValidatorOffers extends MarketNeeds ? true : never);
