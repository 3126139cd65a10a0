import type { Chain } from '../chain/chain.ts';
import { auditConsensus } from './rules.ts';

/** The audit domain as a node plugs it in (node/domain.ts). */
export const auditDomain = {
  name: 'audit' as const,
  consensus: auditConsensus,
  start: async (_ctx: { chain: Chain }) => ({ stop: async () => {} }),
};
