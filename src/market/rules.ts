import type { TxRulesRegistry } from '../chain/tx-rules.ts';
import { closeRules, contractRules, payoutRules, topupRules } from './contract-tx.ts';

/** Registers the market's transaction kinds: contract, topup, payout, close. */
export function registerMarketRules(registry: TxRulesRegistry): TxRulesRegistry {
  return registry.register(contractRules).register(topupRules).register(payoutRules).register(closeRules);
}
