import { coreRules, type RegistryOptions, type TxRulesRegistry } from '../chain/tx-rules.ts';
import { DOMAINS } from './domains.ts';

/** Every transaction kind, block section and hook a node of this version validates. */
export function nodeRules(opts: RegistryOptions = {}): TxRulesRegistry {
  const rules = coreRules(opts);
  for (const d of DOMAINS) rules.registerDomain(d.consensus);
  return rules;
}
