import { coreRules, type TxRulesRegistry } from '../chain/tx-rules.ts';
import { registerMarketRules } from '../market/rules.ts';

/** Every transaction kind a node of this version validates. */
export function nodeRules(): TxRulesRegistry {
  return registerMarketRules(coreRules());
}
