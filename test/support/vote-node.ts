/**
 * A `zi node` with the FAKE votes section plugged in (test/support/votes.ts),
 * run as a child process so kill -9 tests cover blocks that hold votes. It
 * takes the `zi node` flags the tests use and logs the same JSON lines.
 */
import { parseArgs } from 'node:util';
import { resolveConfig } from '../../src/node/config.ts';
import { createLogger } from '../../src/node/logger.ts';
import { ZiNode } from '../../src/node/node.ts';
import { fakeVotingDomain, votesRules } from './votes.ts';

const { values } = parseArgs({
  options: {
    'rpc-port': { type: 'string' },
    listen: { type: 'string', multiple: true },
    mine: { type: 'boolean' },
    threads: { type: 'string' },
    'miner-address': { type: 'string' },
  },
});
const config = resolveConfig({
  network: 'devnet',
  rpcPort: values['rpc-port'],
  listen: values.listen,
  mine: values.mine ?? false,
  threads: values.threads,
  minerAddress: values['miner-address'],
});
const logger = createLogger();
// Consensus of the core and the fake section only: the real audit section would refuse fake votes.
const node = await ZiNode.start(config, { logger, rules: votesRules(), moreDomains: [fakeVotingDomain] });
process.once('SIGTERM', () => void node.stop());
process.once('SIGINT', () => void node.stop());
await node.finished;
