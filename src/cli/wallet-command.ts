import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { addressOf, formatAddress, parseAddress, RESERVED_ADDRESS } from '../chain/address.ts';
import { formatZi, parseAmount } from '../chain/amount.ts';
import { ZiError } from '../chain/errors.ts';
import { generatePrivateKey, parsePrivateKeyHex, publicKeyOf } from '../chain/keys.ts';
import type { NetworkParams } from '../chain/params.ts';
import { TX_KINDS } from '../chain/transaction.ts';
import { transferRules } from '../chain/tx-rules.ts';
import { resolveNetwork, wholeNumber } from '../node/config.ts';
import { encryptKey, readKeystore, writeKeystore } from '../wallet/keystore.ts';
import { readPassphrase } from '../wallet/passphrase.ts';
import { type Activity, activityText } from './activity.ts';
import { clientOptions, connect, walletOption } from './client.ts';
import { required } from './options.ts';
import { print, table } from './output.ts';
import { signAndSend, type WalletFlags, walletFile } from './tx-sender.ts';

export class WalletError extends ZiError<'BAD_KEY_FILE'> {}

const clientWalletOptions = (cmd: Command) => walletOption(clientOptions(cmd));

const passphraseHelp = 'read the passphrase from this file (or set ZI_PASSPHRASE; otherwise you are asked)';

async function saveNewKey(flags: WalletFlags, key: Uint8Array): Promise<string> {
  const params = resolveNetwork(flags.network);
  const address = formatAddress(addressOf(publicKeyOf(key)), params.hrp);
  const passphrase = await readPassphrase({
    passphraseFile: flags.passphraseFile,
    confirm: true,
    prompt: 'New passphrase: ',
  });
  const file = walletFile(flags);
  await writeKeystore(file, await encryptKey(key, passphrase, address));
  return address;
}

/**
 * One history row: a mining reward or a transaction as `gettransaction`
 * shows it (`gethistory`), or a fund payout (`getfundpayouts`).
 */
type HistoryRow = {
  type: 'reward' | 'tx' | 'fund';
  height: number;
  time: string;
  block?: string;
  txid?: string;
} & Record<string, string | number | undefined>;

const short = (id: unknown) => `${String(id).slice(0, 16)}…`;
const signed = (sign: '+' | '-', li: bigint) => `${sign}${formatZi(li)} Zi`;

/**
 * What an entry did to this address: an amount (+ in, - out, in Zi) and
 * who was on the other side, for every kind. Fees are shown apart from the
 * amount; a payout's fee is paid by the escrow, not the Solver.
 */
export function historyEntry(
  r: HistoryRow,
  address: string,
  params: Pick<NetworkParams, 'subsidy' | 'hrp'>,
): { amount: string; counterparty: string } {
  if (r.type === 'reward') return { amount: `${signed('+', params.subsidy)} + fees`, counterparty: 'mining reward' };
  const li = (v: unknown) => BigInt(String(v ?? 0));
  if (r.type === 'fund') {
    const of = `${formatZi(li(r.paid))} Zi to ${r.payees} payee${r.payees === 1 ? '' : 's'}`;
    return { amount: signed('+', li(r.amount)), counterparty: `from the shared fund (its payout of ${of})` };
  }
  const fee = r.from === address && r.kind !== 'payout' ? ` (fee ${r.fee} Li)` : '';
  switch (r.kind) {
    case 'transfer':
      if (r.from === address && r.to === address) return { amount: '0 Zi', counterparty: `to yourself${fee}` };
      if (r.from === address) {
        const to = r.to === formatAddress(RESERVED_ADDRESS, params.hrp) ? 'the shared fund (000)' : r.to;
        return { amount: signed('-', li(r.amount)), counterparty: `to ${to}${fee}` };
      }
      return { amount: signed('+', li(r.amount)), counterparty: `from ${r.from}` };
    case 'stake':
      return { amount: signed('-', li(r.amount)), counterparty: `staked as a Validator${fee}` };
    case 'unstake':
      return { amount: '+stake', counterparty: `the whole stake back${fee}` };
    case 'contract':
      return { amount: signed('-', li(r.budget)), counterparty: `into the escrow of contract ${short(r.txid)}${fee}` };
    case 'topup':
      return {
        amount: signed('-', li(r.amount)),
        counterparty: `into the escrow of contract ${short(r.contract)}${fee}`,
      };
    case 'payout':
      return {
        amount: signed('+', li(r.mcus) * li(r.price)),
        counterparty: `from the escrow of contract ${short(r.contract)} for ${Number(r.mcus).toLocaleString('en')} MCUs`,
      };
    case 'close':
      return r.refund === undefined
        ? { amount: '+? Zi', counterparty: `escrow back from contract ${short(r.contract)}${fee}` }
        : { amount: signed('+', li(r.refund)), counterparty: `escrow back from contract ${short(r.contract)}${fee}` };
    default:
      return r.from === address
        ? { amount: `${r.kind}`, counterparty: `sent${fee}` }
        : { amount: `${r.kind}`, counterparty: `from ${r.from}` };
  }
}

export function walletCommand(program: Command): void {
  const wallet = program.command('wallet').description('keys, balances and payments');

  clientWalletOptions(wallet.command('create').description('create a new key in an encrypted keystore'))
    .option('--passphrase-file <file>', passphraseHelp)
    .action(async (flags: WalletFlags) => {
      const address = await saveNewKey(flags, generatePrivateKey());
      print({ address, wallet: walletFile(flags) }, flags.json ?? false, () =>
        table([
          ['address', address],
          ['wallet', walletFile(flags)],
        ]),
      );
    });

  clientWalletOptions(wallet.command('import').description('import a private key (64 hex characters) from a file'))
    .option('--key-file <file>', 'file holding the private key in hex (required)')
    .option('--passphrase-file <file>', passphraseHelp)
    .action(async (flags: WalletFlags & { keyFile?: string }) => {
      const keyFile = required(flags.keyFile, '--key-file', 'key.hex');
      let hex: string;
      try {
        hex = (await readFile(keyFile, 'utf8')).trim();
      } catch (err) {
        throw new WalletError('BAD_KEY_FILE', `cannot read ${keyFile}: ${(err as Error).message}`);
      }
      const address = await saveNewKey(flags, parsePrivateKeyHex(hex));
      print({ address, wallet: walletFile(flags) }, flags.json ?? false, () => `imported ${address}`);
    });

  clientWalletOptions(wallet.command('address').description('show the wallet address (no passphrase needed)')).action(
    async (flags: WalletFlags) => {
      const { address } = await readKeystore(walletFile(flags));
      print({ address }, flags.json ?? false, () => address);
    },
  );

  clientWalletOptions(wallet.command('balance').description('balance and nonce of the wallet (or --address)'))
    .option('--address <address>', 'any address instead of the wallet')
    .action(async (flags: WalletFlags & { address?: string }) => {
      const address = flags.address ?? (await readKeystore(walletFile(flags))).address;
      // Checked here, so a typo is named even when no node runs.
      parseAddress(address, resolveNetwork(flags.network).hrp);
      const { rpc } = await connect(flags);
      const acct = await rpc.call<{ balance: string; nonce: string; pending: string[] }>('getaccount', { address });
      const act = await rpc.call<Activity>('getactivity', { address });
      print({ ...acct, active: act.active, activity: act }, flags.json ?? false, () =>
        table([
          ['address', address],
          ['balance', `${formatZi(BigInt(acct.balance))} Zi`],
          ['nonce', acct.nonce],
          ['pending', acct.pending.length],
          ['activity', activityText(act)],
        ]),
      );
    });

  clientWalletOptions(wallet.command('send').description('send Zi: AMOUNT is Zi (1.5) or Li (250li)'))
    .argument('<to>', 'receiving address')
    .argument('<amount>', 'amount, e.g. 1.5 (Zi) or 250li')
    .option('--fee <amount>', 'fee (default: the network minimum for the transaction size)')
    .option('--passphrase-file <file>', passphraseHelp)
    .option('--wait', 'wait until the payment is in a block', false)
    .action(async (toText: string, amountText: string, flags: WalletFlags & { fee?: string; wait: boolean }) => {
      const client = await connect(flags);
      const to = parseAddress(toText, client.params.hrp);
      const amount = parseAmount(amountText);
      const { tx, txid, height } = await signAndSend(
        flags,
        { kind: TX_KINDS.transfer, payload: transferRules.encode({ to, amount }) },
        { fee: flags.fee === undefined ? undefined : parseAmount(flags.fee, '--fee'), wait: flags.wait, client },
      );
      const out = {
        txid,
        to: toText,
        amount,
        fee: tx.fee,
        nonce: tx.nonce,
        ...(height === undefined ? {} : { height }),
      };
      print(out, flags.json ?? false, () =>
        table([
          ['txid', txid],
          ['sent', `${formatZi(amount)} Zi to ${toText}`],
          ['fee', `${tx.fee} Li`],
          ['status', height === undefined ? 'pending (see: zi chain tx TXID)' : `confirmed in block ${height}`],
        ]),
      );
    });

  clientWalletOptions(
    wallet.command('history').description('transactions, mining rewards and fund payouts, newest first'),
  )
    .option('--limit <n>', 'how many entries, 1 to 1000', '20')
    .option('--address <address>', 'any address instead of the wallet')
    .option('--no-rewards', 'leave out mining rewards (on a mining node they are most entries)')
    .action(async (flags: WalletFlags & { limit: string; address?: string; rewards: boolean }) => {
      const limit = wholeNumber(flags.limit, '--limit', 1, 1000);
      const address = flags.address ?? (await readKeystore(walletFile(flags))).address;
      // Checked here, so a typo is named even when no node runs.
      parseAddress(address, resolveNetwork(flags.network).hrp);
      const { rpc, params } = await connect(flags);
      const [txs, fund] = await Promise.all([
        rpc.call<HistoryRow[]>('gethistory', { address, limit, rewards: flags.rewards }),
        rpc.call<HistoryRow[]>('getfundpayouts', { address, limit }),
      ]);
      // Newest first; at one height the payout came after the block's transactions (they made the fund pay).
      const rows = [...fund, ...txs].sort((a, b) => b.height - a.height).slice(0, limit);
      print(rows, flags.json ?? false, () => {
        if (rows.length === 0) return 'no transactions yet';
        return rows
          .map((r) => {
            const e = historyEntry(r, address, params);
            return [r.height, r.time, e.amount.padStart(22), e.counterparty, r.txid ?? r.block].join('  ');
          })
          .join('\n');
      });
    });
}
