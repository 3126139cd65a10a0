import type { BatchChecks } from '../audit/auditor.ts';
import { auditDomain } from '../audit/domain.ts';
import type { MarketForAudit, ValidatorsForAudit } from '../audit/ports.ts';
import type { auditPort } from '../audit/rules.ts';
import type { BatchAudit } from '../market/batch-audit.ts';
import { marketDomain } from '../market/domain.ts';
import type { ValidatorPort as MarketNeeds, AuditPort as MarketNeedsAudit, MarketPort } from '../market/ports.ts';
import { validatorDomain } from '../validator/domain.ts';
import type { ValidatorPort as ValidatorOffers } from '../validator/rules.ts';
import type { DomainContext, NodeDomain } from './domain.ts';

/**
 * Every domain a node of this version runs, in the order they start. The
 * only place that names them: the rest of the node loops over this list.
 */
export const DOMAINS = [validatorDomain, marketDomain, auditDomain] as const satisfies readonly NodeDomain<never>[];

type Domains = (typeof DOMAINS)[number];

/** Each domain's configuration, by name (e.g. `{ market: { solver } }`). */
export type DomainConfigs = { [D in Domains as D['name']]?: Parameters<D['start']>[1] };

/** What a domain's started service is, by descriptor. */
export type ServiceOf<D extends Domains> = Awaited<ReturnType<D['start']>>;

// Compile-time checks: the node's context holds what every domain declares it
// needs, and each domain offers the ports the others declare they need.
void (true satisfies DomainContext extends Parameters<Domains['start']>[0] ? true : never);
void (true satisfies ValidatorOffers extends MarketNeeds ? true : never);
void (true satisfies ValidatorOffers extends ValidatorsForAudit ? true : never);
void (true satisfies MarketPort extends MarketForAudit ? true : never);
void (true satisfies ReturnType<typeof auditPort> extends MarketNeedsAudit ? true : never);
void (true satisfies BatchAudit extends BatchChecks ? true : never);
