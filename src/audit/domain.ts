import type { Address } from '../chain/address.ts';
import type { Chain } from '../chain/chain.ts';
import type { Log } from '../chain/log.ts';
import type { Ports } from '../chain/tx-rules.ts';
import { Auditor, type BatchChecks } from './auditor.ts';
import { fundRpcMethods } from './fund-rpc.ts';
import { auditRpcMethods } from './rpc.ts';
import { auditConsensus } from './rules.ts';

export interface AuditConfig {
  /** Off with --no-audit: the node mines without auditing. */
  enabled?: boolean;
  /** TEST ONLY (--audit-lie): vote the opposite of what the audit finds. */
  lie?: boolean;
}

/** What the audit domain needs of its node. */
export interface AuditContext {
  chain: Chain;
  logger: Log;
  miner?: Address;
  ports: Ports;
}

/** The audit domain as a node plugs it in (node/domain.ts): a mining node audits and votes. */
export const auditDomain = {
  name: 'audit' as const,
  consensus: auditConsensus,
  async start(ctx: AuditContext, config: AuditConfig | undefined) {
    const rpc = { ...auditRpcMethods(ctx.chain), ...fundRpcMethods(ctx.chain) };
    const batches = ctx.ports.get<BatchChecks>('batches');
    if (!ctx.miner || !batches || config?.enabled === false) return { rpc, stop: async () => {} };
    const auditor = new Auditor({
      state: () => ctx.chain.state,
      tipHash: () => ctx.chain.tip.hash,
      miner: ctx.miner,
      batches,
      logger: ctx.logger,
      lie: config?.lie,
    });
    const poll = () => auditor.poll();
    ctx.chain.on('tip', poll);
    poll();
    return {
      rpc,
      votes: () => auditor.votes(),
      stop: async () => {
        ctx.chain.off('tip', poll);
        auditor.stop();
      },
    };
  },
};
