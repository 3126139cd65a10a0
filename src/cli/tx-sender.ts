import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { parseAddress } from '../chain/address.ts';
import { parseAmount } from '../chain/amount.ts';
import { toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import { Transaction, type TxFields } from '../chain/transaction.ts';
import { defaultDatadir, resolveNetwork, walletPath } from '../node/config.ts';
import type { RpcClient } from '../node/rpc/client.ts';
import { decryptKey, readKeystore } from '../wallet/keystore.ts';
import { readPassphrase } from '../wallet/passphrase.ts';
import { type Client, type ClientFlags, clientOptions, connect, walletOption } from './client.ts';

export interface WalletFlags extends ClientFlags {
  wallet?: string;
  passphraseFile?: string;
}

export class SendError extends ZiError<'NOT_CONFIRMED'> {}

/** A command's node options, and with `wallet` the options of one that signs and sends a transaction. */
export function withClientOptions(cmd: Command, wallet = false): Command {
  clientOptions(cmd);
  if (!wallet) return cmd;
  return walletOption(cmd)
    .option('--passphrase-file <file>', 'read the passphrase from this file (or set ZI_PASSPHRASE)')
    .option('--fee <amount>', 'transaction fee (default: the network minimum)')
    .option('--wait', 'wait until the transaction is in a block', false);
}

export type SendFlags = WalletFlags & { fee?: string; wait: boolean };

export function sendOpts(flags: SendFlags) {
  return { fee: flags.fee === undefined ? undefined : parseAmount(flags.fee, '--fee'), wait: flags.wait };
}

export function sentStatus(height: number | undefined): string {
  return height === undefined ? 'pending (see: zi chain tx TXID)' : `confirmed in block ${height}`;
}

export function walletFile(flags: WalletFlags): string {
  if (flags.wallet) return flags.wallet;
  const params = resolveNetwork(flags.network);
  return walletPath(flags.datadir ?? defaultDatadir(params.name));
}

export interface Sent {
  tx: Transaction;
  txid: string;
  /** Set when --wait saw the transaction in a block. */
  height?: number;
}

/**
 * Unlocks the wallet, signs one transaction at the sender's next nonce with
 * the minimum fee for its size (unless a fee is given), submits it through the
 * node and optionally waits for it to be mined.
 */
export async function signAndSend(
  flags: WalletFlags,
  fields: Omit<TxFields, 'sender' | 'signature' | 'nonce' | 'fee'>,
  opts: { fee?: bigint; wait?: boolean; client?: Client } = {},
): Promise<Sent> {
  const { rpc, params } = opts.client ?? (await connect(flags));
  const file = await readKeystore(walletFile(flags));
  parseAddress(file.address, params.hrp);
  const key = await decryptKey(file, await readPassphrase({ passphraseFile: flags.passphraseFile }));
  try {
    const info = await rpc.call<{ genesis: string }>('getinfo');
    const acct = await rpc.call<{ nextNonce: string }>('getaccount', { address: file.address });
    const genesis = new Uint8Array(Buffer.from(info.genesis, 'hex'));
    const build = (fee: bigint) => Transaction.sign({ ...fields, nonce: BigInt(acct.nextNonce), fee }, key, genesis);
    // The fee field is fixed-width, so one trial signature prices the transaction.
    const fee = opts.fee ?? params.minFeePerByte * BigInt(build(0n).size);
    const tx = build(fee);
    const txid = await rpc.call<string>('sendrawtransaction', { tx: toHex(tx.toBytes()) });
    const height = opts.wait ? await waitForConfirmation(rpc, txid) : undefined;
    return { tx, txid, ...(height === undefined ? {} : { height }) };
  } finally {
    key.fill(0);
  }
}

export async function waitForConfirmation(rpc: RpcClient, txid: string, timeoutMs = 10 * 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const tx = await rpc.call<{ status: string; height?: number }>('gettransaction', { txid });
    if (tx.status === 'confirmed' && tx.height !== undefined) return tx.height;
    await sleep(250);
  }
  throw new SendError('NOT_CONFIRMED', `transaction ${txid} is not in a block yet; it is still pending`);
}
