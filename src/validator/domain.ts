import type { Chain } from '../chain/chain.ts';
import { validatorRpcMethods } from './rpc.ts';
import { validatorConsensus } from './rules.ts';

/** The validator domain as a node plugs it in (node/domain.ts). */
export const validatorDomain = {
  name: 'validator' as const,
  consensus: validatorConsensus,
  start: async (ctx: { chain: Chain }) => ({ rpc: validatorRpcMethods(ctx.chain), stop: async () => {} }),
};
