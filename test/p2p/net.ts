import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Chain } from '../../src/chain/chain.ts';
import { Mempool } from '../../src/chain/mempool.ts';
import { coreRules, type TxRulesRegistry } from '../../src/chain/tx-rules.ts';
import { Network, type NetworkOptions } from '../../src/p2p/network.ts';
import { devnet, ManualClock, type TestChain } from '../support/chain.ts';

/** Test peers log nothing unless ZI_TEST_LOG names a level. */
export const testLogger = pino({ level: process.env.ZI_TEST_LOG ?? 'silent' });

export interface TestNode extends TestChain {
  net: Network;
  mempool: Mempool;
}

interface Hooks {
  after(fn: () => Promise<void>): void;
}

/** A chain in a temp dir (clock injectable), with cleanup that stops the network before the chain. */
export async function openTestChain(
  t: Hooks,
  clock = new ManualClock(),
  rules: TxRulesRegistry = coreRules({ guardWrites: true }),
): Promise<TestChain & { close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'zi-p2p-'));
  const chain = await Chain.open({
    path: join(dir, 'chain'),
    params: devnet,
    rules,
    clock: clock.fn,
    verifyThreads: 0,
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await chain.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  const tc = { chain, clock, dir, close };
  // Through the object, so a network started later can put its own stop first.
  t.after(() => tc.close());
  return tc;
}

/** A Network on 127.0.0.1 around `tc`, stopped (before its chain closes) when the test ends. */
export async function startTestNode(
  tc: TestChain & { close(): Promise<void> },
  opts: Partial<NetworkOptions> = {},
): Promise<TestNode> {
  const mempool = new Mempool(tc.chain);
  tc.chain.on('tip', (change) => mempool.onTip(change));
  const net = await Network.start({
    chain: tc.chain,
    mempool,
    logger: testLogger,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    statusIntervalMs: 1000,
    inboundPerSecond: 100,
    ...opts,
  });
  const close = tc.close;
  tc.close = async () => {
    await net.stop().catch(() => undefined);
    await close();
  };
  return Object.assign(tc, { net, mempool });
}

export async function until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
