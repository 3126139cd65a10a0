import { DISCOVERY_TOPIC } from './p2p-host.ts';
import { marketConsensus } from './rules.ts';
import { type MarketConfig, type MarketContext, type MarketServices, startMarket } from './service.ts';

/** The market as a node plugs it in (node/domain.ts): its consensus rules, its gossip topic and its services. */
export const marketDomain = {
  name: 'market' as const,
  consensus: marketConsensus,
  topics: [DISCOVERY_TOPIC],
  start: (ctx: MarketContext, config: MarketConfig | undefined): Promise<MarketServices> => startMarket(ctx, config),
};
