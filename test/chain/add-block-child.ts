/**
 * Child program of header-index.test.ts: opens the chain in argv[2] at the
 * clock argv[4], adds the block whose bytes are the hex argv[3], prints what
 * addBlock answered, and dies by SIGKILL without closing the chain, as a
 * crash would.
 */
import { writeSync } from 'node:fs';
import { Block } from '../../src/chain/block.ts';
import { Chain } from '../../src/chain/chain.ts';
import { fromHex } from '../../src/chain/encoding.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import { coreRules } from '../../src/chain/tx-rules.ts';

const [path, hex, now] = process.argv.slice(2) as [string, string, string];
const params = NETWORKS.devnet;
const chain = await Chain.open({ path, params, rules: coreRules(), clock: () => Number(now), verifyThreads: 0 });
const result = await chain.addBlock(Block.fromBytes(fromHex(hex), params.maxBlockBytes, params.maxTxBytes));
writeSync(1, `${result}\n`);
process.kill(process.pid, 'SIGKILL');
