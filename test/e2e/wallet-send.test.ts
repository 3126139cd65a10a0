import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runZi, runZiOk, startNode, walletHome } from '../support/cli.ts';

test('zi node --mine on devnet; send Zi between two wallets with the CLI and see it confirmed', async (t) => {
  const { home, env, pass, wallet: alice } = await walletHome(t);
  const bobWallet = join(home, 'bob.json');
  const bob = JSON.parse(
    await runZiOk(['wallet', 'create', '--wallet', bobWallet, '--passphrase-file', pass, '--json'], env),
  );
  assert.match(alice.address, /^zid1/);
  assert.notEqual(alice.address, bob.address);

  // Mining pays the wallet in the data dir (alice) by default.
  const node = await startNode(['--mine', '--threads', '1'], env);
  t.after(() => node.stop());
  await node.waitFor((l) => l.msg === 'mined block' && Number(l.height) >= 2);

  const before = JSON.parse(await runZiOk(['wallet', 'balance', '--json'], env));
  assert.ok(BigInt(before.balance) >= 100n * 10n ** 9n);

  const sent = JSON.parse(
    await runZiOk(['wallet', 'send', bob.address, '12.5', '--passphrase-file', pass, '--wait', '--json'], env),
  );
  assert.match(sent.txid, /^[0-9a-f]{64}$/);
  assert.ok(sent.height >= 1);

  const bobBalance = JSON.parse(await runZiOk(['wallet', 'balance', '--wallet', bobWallet, '--json'], env));
  assert.equal(bobBalance.balance, '12500000000');
  // One transaction in the window: counted, but ten make an address active.
  assert.equal(bobBalance.active, false);
  assert.equal(bobBalance.activity.recentTxs, 1);
  const bobText = await runZiOk(['wallet', 'balance', '--wallet', bobWallet], env);
  assert.match(bobText, /not active: 1 of 10 transactions in the last 30 days/);
  const tx = JSON.parse(await runZiOk(['chain', 'tx', sent.txid, '--json'], env));
  assert.equal(tx.status, 'confirmed');
  assert.equal(tx.to, bob.address);
  assert.equal(tx.from, alice.address);
  const history = JSON.parse(await runZiOk(['wallet', 'history', '--wallet', bobWallet, '--json'], env));
  assert.equal(history[0].txid, sent.txid);

  const info = JSON.parse(await runZiOk(['chain', 'info', '--json'], env));
  assert.ok(info.height >= sent.height);
  assert.equal(info.network, 'devnet');

  // Mistakes get one clear line, not a stack trace, and the node keeps going.
  const typo = `${bob.address.slice(0, -1)}${bob.address.endsWith('q') ? 'p' : 'q'}`;
  const bad = await runZi(['wallet', 'send', typo, '1', '--passphrase-file', pass], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /BAD_ADDRESS.*typo/);
  const wrongPass = join(home, 'wrong');
  await writeFile(wrongPass, 'nope\n');
  const denied = await runZi(['wallet', 'send', bob.address, '1', '--passphrase-file', wrongPass], env);
  assert.match(denied.stderr, /WRONG_PASSPHRASE/);
  const tooMuch = await runZi(['wallet', 'send', bob.address, '100000', '--passphrase-file', pass], env);
  assert.match(tooMuch.stderr, /INSUFFICIENT_FUNDS/);
  assert.ok(JSON.parse(await runZiOk(['chain', 'info', '--json'], env)).height >= info.height);
});
