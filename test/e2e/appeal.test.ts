import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { VOTE_FEE_MCUS } from '../../src/audit/rules.ts';
import {
  fundBalance,
  getAudit,
  mintedByAudits,
  STATUS_APPEALING,
  STATUS_FINAL,
  STATUS_INVALID,
  VALID,
} from '../../src/audit/state.ts';
import { getAccount } from '../../src/chain/accounts.ts';
import { addressOf, formatAddress } from '../../src/chain/address.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { publicKeyOf } from '../../src/chain/keys.ts';
import { LI_PER_ZI } from '../../src/chain/params.ts';
import { getContract } from '../../src/market/contract-state.ts';
import { FLAG_BANNED, getStake } from '../../src/validator/state.ts';
import { decryptKey, readKeystore } from '../../src/wallet/keystore.ts';
import { AUDIT_FEE, type AuditedSetup, auditedContract, earnedBeyondRewards, voteFrom } from '../support/audit.ts';
import type { Keypair } from '../support/chain.ts';
import { PASSPHRASE, runZi, runZiOk, walletHome } from '../support/cli.ts';
import { until } from '../support/node.ts';

/** The Validator's key lives in a wallet made by `zi wallet create`, so that `zi validator appeal` can sign with it. */
async function validatorWallet(t: Parameters<typeof walletHome>[0]) {
  const w = await walletHome(t);
  const file = join(w.home, 'devnet', 'wallet.json');
  const priv = await decryptKey(await readKeystore(file), PASSPHRASE);
  const pub = publicKeyOf(priv);
  const v: Keypair = { priv, pub, address: addressOf(pub) };
  return { ...w, file, v };
}

/** `zi ARGS` against the setup's Bidder node (its data dir holds the RPC cookie). */
function ziAt(s: AuditedSetup, env: NodeJS.ProcessEnv) {
  const at = ['--datadir', s.node.config.datadir, '--rpc-port', String(s.node.rpc.port)];
  return {
    run: (args: string[]) => runZi([...args, ...at], env),
    ok: (args: string[]) => runZiOk([...args, ...at], env),
  };
}

test('zi validator appeal: an honest Validator banned by three --audit-lie miners appeals; nine fresh miners win it back its stake, the held fees and the rest of the payment', async (t) => {
  const w = await validatorWallet(t);
  const s = await auditedContract(t, { v: w.v });
  const { chain, id, v, held } = s;
  const zi = ziAt(s, w.env);
  const idHex = toHex(id);
  for (let i = 0; i < 3; i++) await voteFrom(t, s, { lie: true });
  assert.equal(getAudit(chain.state, id)!.status, STATUS_INVALID);
  assert.ok(getStake(chain.state, v.address)!.flags & FLAG_BANNED, 'banned at once');
  const banned = await zi.ok(['audit', 'status', idHex]);
  console.log(banned);

  const before = getAccount(chain.state, v.address).balance;
  const stakeBefore = getStake(chain.state, v.address)!.amount;
  // Some node must mine the appeal: a fresh honest one, whose own vote then opens the appeal's nine.
  const sent = zi.ok(['validator', 'appeal', idHex, '--wallet', w.file, '--passphrase-file', w.pass, '--wait']);
  await until('the appeal is in the mempool', () => s.node.mempool.count > 0, 30_000);
  const appealVoters = [await voteFrom(t, s)];
  const out = await sent;
  console.log(out);
  const a = getAudit(chain.state, id)!;
  console.log(await zi.ok(['audit', 'status', idHex]));
  for (let i = 1; i < 9; i++) appealVoters.push(await voteFrom(t, s, { lie: i === 3 }));
  console.log(await zi.ok(['audit', 'status', idHex]));
  for (let h = 10; h <= chain.height; h++) {
    const b = (await chain.getBlock(chain.entryAtHeight(h)!.hash))!;
    console.log(h, toHex(b.header.miner).slice(0, 8), b.header.timestamp % 100000, b.txs.length);
  }
  await s.supply();
});
