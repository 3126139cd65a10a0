import { join } from 'node:path';
import pino from 'pino';
import type { AuditConfig } from '../../src/audit/domain.ts';
import type { Address } from '../../src/chain/address.ts';
import { formatAddress } from '../../src/chain/address.ts';
import type { NetworkParams } from '../../src/chain/params.ts';
import type { MarketConfig } from '../../src/market/service.ts';
import { resolveConfig } from '../../src/node/config.ts';
import { ZiNode } from '../../src/node/node.ts';
import { devnet, tempDir } from './chain.ts';

export const quietLogger = pino({ level: process.env.ZI_TEST_LOG ?? 'silent' });

export interface ZiNodeOptions {
  mine?: Address;
  peers?: string[];
  market?: MarketConfig;
  audit?: AuditConfig;
  threads?: number;
  /** Devnet with these parameters changed (e.g. a short appeal window): every node of a test must share them. */
  params?: Partial<NetworkParams>;
  /** Serve the explorer on a free port (node.explorer.url). */
  explorer?: boolean;
}

/** A whole node in this process, on 127.0.0.1 with a free port, stopped when the test ends. */
export async function startZiNode(
  t: { after(fn: () => Promise<void>): void },
  opts: ZiNodeOptions = {},
): Promise<ZiNode> {
  // After-hooks run in the order they are registered: the node stops before its data dir is removed.
  let started: ZiNode | undefined;
  t.after(async () => {
    await started?.stop();
  });
  const dir = await tempDir(t, 'zi-node-');
  const config = resolveConfig({
    network: 'devnet',
    datadir: join(dir, 'devnet'),
    rpcPort: 0,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    peer: opts.peers,
    mine: opts.mine !== undefined,
    minerAddress: opts.mine === undefined ? undefined : formatAddress(opts.mine, devnet.hrp),
    threads: opts.threads ?? 1,
    ...(opts.explorer ? { explorer: 0 } : {}),
  });
  if (opts.params) config.params = { ...config.params, ...opts.params };
  started = await ZiNode.start(config, { logger: quietLogger, domains: { market: opts.market, audit: opts.audit } });
  return started;
}

export async function until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
