import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatAddress } from '../../src/chain/address.ts';
import { Chain } from '../../src/chain/chain.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { genesisBlock } from '../../src/chain/genesis.ts';
import { cookiePath } from '../../src/node/config.ts';
import { RpcClient } from '../../src/node/rpc/client.ts';
import { nodeRules } from '../../src/node/rules.ts';
import { devnet, keypair, tempDir, transfer } from '../support/chain.ts';
import { startNode } from '../support/cli.ts';
import { voteFor, voteRecord, votesRules } from '../support/votes.ts';
import { assertMatchesReference, rng, seedOf } from './reference.ts';

const ROUNDS = Number(process.env.ZI_ADV_ROUNDS ?? 4);

test(`kill -9 a mining node that receives transactions, ${ROUNDS} rounds at seeded random points: its state equals the replayed reference`, async (t) => {
  const seed = seedOf(14);
  const random = rng(seed);
  const home = await tempDir(t, 'zi-kill9-');
  const env = { ZI_HOME: home };
  const datadir = join(home, 'devnet');
  const miner = keypair();
  const payees = [keypair(), keypair(), keypair()];
  const genesis = genesisBlock(devnet).hash();
  const args = ['--mine', '--threads', '1', '--miner-address', formatAddress(miner.address, devnet.hrp)];
  const reported = new Map<number, string>();
  let sent = 0;
  let startHeight = 0;

  for (let round = 0; round < ROUNDS; round++) {
    const node = await startNode(args, env);
    const started = Number(node.logs.find((l) => l.msg === 'node started')!.height);
    // A restart never goes back: every block the node said it mined is still there.
    assert.ok(started >= startHeight, `round ${round}: restarted at ${started}, below ${startHeight}`);
    const rpc = new RpcClient({ port: node.port, cookiePath: cookiePath(datadir), timeoutMs: 5000 });
    const deadline = Date.now() + 300 + Math.floor(random() * 1500);
    while (Date.now() < deadline) {
      const acct = await rpc.call<{ balance: string; nextNonce: string }>('getaccount', [
        formatAddress(miner.address, devnet.hrp),
      ]);
      if (BigInt(acct.balance) > 10_000_000n && random() < 0.7) {
        const to = payees[Math.floor(random() * payees.length)]!.address;
        const tx = transfer(miner, to, 1_000n + BigInt(Math.floor(random() * 1e6)), BigInt(acct.nextNonce), genesis);
        await rpc.call('sendrawtransaction', [toHex(tx.toBytes())]).then(
          () => sent++,
          () => undefined,
        );
      }
      await sleep(Math.floor(random() * 150));
    }
    node.proc.kill('SIGKILL');
    await node.stop();
    for (const l of node.logs) if (l.msg === 'mined block') reported.set(Number(l.height), String(l.hash));
    startHeight = Math.max(startHeight, ...reported.keys());
  }

  const chain = await Chain.open({ path: join(datadir, 'chain'), params: devnet, rules: nodeRules() });
  t.after(() => chain.close());
  for (const [height, hash] of reported) {
    assert.equal(toHex(chain.entryAtHeight(height)?.hash ?? new Uint8Array()), hash, `reported block ${height} lost`);
  }
  const blocks = await assertMatchesReference(t, chain);
  let mined = 0;
  for (let h = 1; h <= chain.height; h++) mined += (await chain.getBlock(chain.entryAtHeight(h)!.hash))!.txs.length;
  t.diagnostic(
    `seed ${seed}: ${ROUNDS} kills, ${blocks} blocks (${reported.size} reported mined, all kept), ${sent} txs accepted, ${mined} mined, ${sent - mined} pending lost with the mempool`,
  );
});

test('kill -9 a mining node whose blocks hold votes (the fake section): every reported block keeps its votes, and the state equals the reference', async (t) => {
  const seed = seedOf(15);
  const random = rng(seed);
  const home = await tempDir(t, 'zi-kill9-votes-');
  const env = { ZI_HOME: home };
  const miner = keypair();
  const args = ['--mine', '--threads', '1', '--miner-address', formatAddress(miner.address, devnet.hrp)];
  const entry = [join(import.meta.dirname, '..', 'support', 'vote-node.ts')];
  const reported = new Map<number, string>();
  for (let round = 0; round < 3; round++) {
    const node = await startNode(args, env, entry);
    await node.waitFor((l) => l.msg === 'mined block', 20_000);
    await sleep(1000 + Math.floor(random() * 1500));
    node.proc.kill('SIGKILL');
    await node.stop();
    for (const l of node.logs) if (l.msg === 'mined block') reported.set(Number(l.height), String(l.hash));
  }
  const chain = await Chain.open({ path: join(home, 'devnet', 'chain'), params: devnet, rules: votesRules() });
  t.after(() => chain.close());
  for (const [height, hash] of reported) {
    assert.equal(toHex(chain.entryAtHeight(height)?.hash ?? new Uint8Array()), hash, `reported block ${height} lost`);
  }
  for (let h = 1; h <= chain.height; h++) {
    const block = (await chain.getBlock(chain.entryAtHeight(h)!.hash))!;
    assert.deepEqual(block.votes, [voteFor(h, miner.address)], `block ${h} holds its vote`);
    assert.equal(voteRecord(chain.state, block.votes[0]!)?.height, h);
  }
  const blocks = await assertMatchesReference(t, chain, votesRules());
  t.diagnostic(`seed ${seed}: 3 kills, ${blocks} blocks with votes, ${reported.size} reported, all kept`);
});
