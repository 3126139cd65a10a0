import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatAddress, parseAddress } from '../../src/chain/address.ts';
import { devnet, keypair, mine, openChain } from '../support/chain.ts';
import { runZiOk, startNode, walletHome } from '../support/cli.ts';

test('a pending zi wallet send survives a node restart (mempool.dat)', async (t) => {
  const { home, env, pass, wallet: alice } = await walletHome(t, 'zi-mempool-');
  // Coins for alice, mined in-process into the node's own data dir.
  const tc = await openChain(t, { dir: join(home, 'devnet') });
  await mine(tc, { miner: parseAddress(alice.address, devnet.hrp) });
  await tc.chain.close();
  const bob = formatAddress(keypair().address, devnet.hrp);

  const first = await startNode([], env);
  const sent = JSON.parse(await runZiOk(['wallet', 'send', bob, '1.25', '--passphrase-file', pass, '--json'], env));
  assert.equal(await first.stop(), 0);
  assert.ok(first.logs.some((l) => l.msg === 'mempool saved' && l.txs === 1));

  const again = await startNode([], env);
  t.after(() => again.stop());
  assert.ok(again.logs.some((l) => l.msg === 'mempool loaded' && l.loaded === 1 && l.dropped === 0));
  const tx = JSON.parse(await runZiOk(['chain', 'tx', sent.txid, '--json'], env));
  assert.equal(tx.status, 'pending');
  assert.equal(tx.to, bob);
});
