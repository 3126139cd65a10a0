import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { addressOf, formatAddress, parseAddress } from '../../src/chain/address.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { publicKeyOf } from '../../src/chain/keys.ts';
import { LI_PER_ZI, NETWORKS } from '../../src/chain/params.ts';
import { Transaction, TX_KINDS } from '../../src/chain/transaction.ts';
import { transferRules } from '../../src/chain/tx-rules.ts';
import { cookiePath } from '../../src/node/config.ts';
import { RpcClient } from '../../src/node/rpc/client.ts';
import { decryptKey, readKeystore } from '../../src/wallet/keystore.ts';
import { keypair } from '../support/chain.ts';
import { PASSPHRASE, runZi, runZiOk, startNode, walletHome } from '../support/cli.ts';
import { until } from '../support/node.ts';

test('zi fund: a vote refused until the wallet is active, then counted; gifts fill the fund, which pays the payee at 1 Zi per active address', async (t) => {
  const { home, env, pass, wallet } = await walletHome(t);
  const node = await startNode(['--mine', '--threads', '1'], env);
  t.after(() => node.stop());
  await node.waitFor((l) => l.msg === 'mined block' && Number(l.height) >= 2);
  const payee = keypair();
  const hrp = NETWORKS.devnet.hrp;
  const payeeText = formatAddress(payee.address, hrp);
  const json = async (args: string[]) => JSON.parse(await runZiOk([...args, '--json'], env));

  // Mining rewards are not activity: the vote is refused with one line that says what makes the address active.
  const early = await runZi(['fund', 'vote', payeeText, '--passphrase-file', pass], env);
  assert.equal(early.code, 1);
  assert.match(
    early.stderr,
    new RegExp(
      `NOT_ACTIVE\\]: a voter's address must be active, and ${wallet.address} is not: 0 of 10 transactions in the last 30 days\\. ` +
        `10 more make it active; .*zi wallet send ${wallet.address} 0\\.001`,
    ),
  );
  assert.equal(early.stderr.trim().split('\n').length, 1);
  const bad = await runZi(['fund', 'vote', '000', '--passphrase-file', pass], env);
  assert.match(bad.stderr, /cannot go to 000/);

  // Ten transactions make the wallet active (signed here, sent over RPC).
  const priv = await decryptKey(await readKeystore(join(home, 'devnet', 'wallet.json')), PASSPHRASE);
  const me = addressOf(publicKeyOf(priv));
  assert.deepEqual(me, parseAddress(wallet.address, hrp));
  const rpc = new RpcClient({ port: node.port, cookiePath: cookiePath(join(home, 'devnet')) });
  const genesis = await rpc.call<string>('getblockhash', { height: 0 });
  for (let n = 0; n < 10; n++) {
    const tx = Transaction.sign(
      { kind: TX_KINDS.transfer, nonce: BigInt(n), fee: 1_000n, payload: transferRules.encode({ to: me, amount: 1n }) },
      priv,
      Buffer.from(genesis, 'hex'),
    );
    await rpc.call('sendrawtransaction', { tx: toHex(tx.toBytes()) });
  }
  await until('the wallet is active', async () => (await json(['wallet', 'balance'])).active === true, 20_000);

  const voted = await json(['fund', 'vote', payeeText, '--passphrase-file', pass, '--wait']);
  assert.ok(voted.height >= 1);
  const status = await json(['fund', 'status']);
  assert.equal(status.active, 1, 'only the wallet is active');
  assert.equal(status.threshold, String(LI_PER_ZI));
  assert.equal(status.you.vote, payeeText);
  assert.equal(status.tally.length, 1);
  assert.equal(status.tally[0].payee, payeeText);
  const text = await runZiOk(['fund', 'status'], env);
  assert.match(text, /pays out at\s+1 Zi \(1 Zi × 1 active address\)/);
  assert.match(text, new RegExp(`your vote\\s+${payeeText}, weight`));

  // Half the threshold waits in the fund; the next gift crosses it and the fund pays out.
  await json(['fund', 'give', '0.5', '--passphrase-file', pass, '--wait']);
  assert.equal((await json(['fund', 'status'])).balance, String(LI_PER_ZI / 2n));
  const second = await json(['fund', 'give', '0.75', '--passphrase-file', pass, '--wait']);
  const after = await json(['fund', 'status']);
  assert.equal(after.balance, '0', 'one voter: its payee gets everything');
  assert.equal(after.payouts.length, 1);
  assert.equal(after.payouts[0].height, second.height);
  assert.equal(after.payouts[0].paid, String((LI_PER_ZI * 5n) / 4n));
  assert.equal(after.voters, 0, 'the votes are cleared');
  const account = JSON.parse(await runZiOk(['rpc', 'getaccount', payeeText], env));
  assert.equal(account.balance, String((LI_PER_ZI * 5n) / 4n));
  // The payee's history shows where its coins came from, though no transaction of its own moved them.
  const history = await runZiOk(['wallet', 'history', '--address', payeeText], env);
  assert.match(
    history.trim(),
    new RegExp(
      `^${second.height}  \\S+\\s+\\+1\\.25 Zi  from the shared fund \\(its payout of 1\\.25 Zi to 1 payee\\)$`,
    ),
  );
  // And the giver's: the gift that made the fund pay.
  const mine = await runZiOk(['wallet', 'history', '--no-rewards', '--limit', '2'], env);
  assert.match(mine, /^\d+ {2}\S+ +-0\.75 Zi {2}to the shared fund \(000\) \(fee \d+ Li\)/);
});
