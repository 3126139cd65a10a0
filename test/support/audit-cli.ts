import { join } from 'node:path';
import { addressOf } from '../../src/chain/address.ts';
import { formatZi } from '../../src/chain/amount.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { publicKeyOf } from '../../src/chain/keys.ts';
import { decryptKey, readKeystore } from '../../src/wallet/keystore.ts';
import type { AuditedSetup } from './audit.ts';
import type { Keypair } from './chain.ts';
import { PASSPHRASE, runZi, runZiOk, walletHome } from './cli.ts';

/** A Validator whose key is a wallet made by `zi wallet create`, so that `zi validator appeal` signs with it. */
export async function validatorWallet(t: Parameters<typeof walletHome>[0]) {
  const w = await walletHome(t);
  const file = join(w.home, 'devnet', 'wallet.json');
  const priv = await decryptKey(await readKeystore(file), PASSPHRASE);
  const pub = publicKeyOf(priv);
  const v: Keypair = { priv, pub, address: addressOf(pub) };
  return { ...w, file, v };
}

/** `zi` against the setup's Bidder node (its data dir holds the RPC cookie), signing with the Validator's wallet. */
export function auditCli(s: AuditedSetup, w: Awaited<ReturnType<typeof validatorWallet>>) {
  const at = ['--datadir', s.node.config.datadir, '--rpc-port', String(s.node.rpc.port)];
  const signer = ['--wallet', w.file, '--passphrase-file', w.pass];
  return {
    status: () => runZiOk(['audit', 'status', toHex(s.id), ...at], w.env),
    list: () => runZiOk(['audit', 'list', ...at], w.env),
    appeal: (...more: string[]) => runZi(['validator', 'appeal', toHex(s.id), ...at, ...signer, ...more], w.env),
  };
}

/** A table row of `zi` output: `key  value`, the value matched from its start. */
export const row = (key: string, value: string) => new RegExp(`^${key}\\s{2,}${value}`, 'm');
/** An amount as `zi` prints it, in a pattern. */
export const z = (li: bigint) => `${formatZi(li).replace('.', '\\.')} Zi`;
