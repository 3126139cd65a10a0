import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { getAccount } from '../../src/chain/accounts.ts';
import { formatAddress } from '../../src/chain/address.ts';
import { Chain } from '../../src/chain/chain.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { coreRules } from '../../src/chain/tx-rules.ts';
import { devnet, keypair, openChain, tempDir } from '../support/chain.ts';
import { startNode } from '../support/cli.ts';

test('kill -9 a mining node mid-run, three times: every reported block survives and the chain re-validates', async (t) => {
  const home = await tempDir(t, 'zi-crash-');
  const env = { ZI_HOME: home };
  const miner = keypair();
  const args = ['--mine', '--threads', '1', '--miner-address', formatAddress(miner.address, devnet.hrp)];
  const reported = new Map<number, string>();

  for (let round = 0; round < 3; round++) {
    const node = await startNode(args, env);
    const startHeight = Number(node.logs.find((l) => l.msg === 'node started')!.height);
    await node.waitFor((l) => l.msg === 'mined block' && Number(l.height) >= startHeight + 3, 60_000);
    await sleep(Math.floor(Math.random() * 900));
    node.proc.kill('SIGKILL');
    await node.stop();
    for (const l of node.logs) if (l.msg === 'mined block') reported.set(Number(l.height), String(l.hash));
  }
  assert.ok(reported.size >= 9);

  const chain = await Chain.open({ path: join(home, 'devnet', 'chain'), params: devnet, rules: coreRules() });
  const blocks = [];
  try {
    for (const [height, hash] of reported) {
      assert.equal(
        toHex(chain.entryAtHeight(height)?.hash ?? new Uint8Array()),
        hash,
        `reported block ${height} is missing`,
      );
    }
    for (let h = 1; h <= chain.height; h++) {
      const block = await chain.getBlock(chain.entryAtHeight(h)!.hash);
      assert.ok(block, `body of block ${h} is missing`);
      blocks.push(block);
    }
  } finally {
    await chain.close();
  }

  // Replaying every stored block into an empty node must reproduce the same tip.
  const fresh = await openChain(t);
  for (const b of blocks) {
    fresh.clock.now = Math.max(fresh.clock.now, b.header.timestamp);
    assert.equal(await fresh.chain.addBlock(b), 'connected');
  }
  const restarted = await Chain.open({ path: join(home, 'devnet', 'chain'), params: devnet, rules: coreRules() });
  t.after(() => restarted.close());
  assert.equal(toHex(fresh.chain.tip.hash), toHex(restarted.tip.hash));
  assert.deepEqual(getAccount(restarted.state, miner.address), getAccount(fresh.chain.state, miner.address));
  assert.equal(getAccount(restarted.state, miner.address).balance, BigInt(restarted.height) * devnet.subsidy);
});
