import type { ConsensusDomain } from '../chain/tx-rules.ts';
import { closeRules, contractRules, payoutRules, topupRules } from './contract-tx.ts';

/** The market's consensus rules: contract, topup, payout, close, over the state prefix it owns (layout.ts). */
export const marketConsensus: ConsensusDomain = {
  name: 'market',
  owns: [0x10, 0x1f],
  rules: [contractRules, topupRules, payoutRules, closeRules],
};
