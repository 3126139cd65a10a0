import type { Command } from 'commander';
import { fundVoteRules } from '../audit/fund-rules.ts';
import { parseAddress, RESERVED_ADDRESS } from '../chain/address.ts';
import { formatZi, parseAmount } from '../chain/amount.ts';
import { equalBytes } from '../chain/encoding.ts';
import { TX_KINDS } from '../chain/transaction.ts';
import { transferRules } from '../chain/tx-rules.ts';
import { ConfigError } from '../node/config.ts';
import { readKeystore } from '../wallet/keystore.ts';
import { requireActive } from './activity.ts';
import { type ClientFlags, connect, walletOption } from './client.ts';
import { counted, print, table } from './output.ts';
import { type SendFlags, sendOpts, sentStatus, signAndSend, walletFile, withClientOptions } from './tx-sender.ts';

interface FundView {
  balance: string;
  threshold: string;
  active: number;
  due: boolean;
  voters: number;
  countedVoters: number;
  tally: { payee: string; voters: number; weight: string; share: string }[];
  payouts: { height: number; paid: string; shares: { payee: string; amount: string }[] }[];
  you?: { address: string; vote: string | null; active: boolean; weight: string };
}

const zi = (li: string) => `${formatZi(BigInt(li))} Zi`;

function render(f: FundView): string {
  const lines = [
    table([
      ['balance', zi(f.balance)],
      ['pays out at', `${zi(f.threshold)} (1 Zi × ${counted(f.active, 'active address', 'active addresses')})`],
      ['votes', `${f.countedVoters} counted of ${f.voters} (a voter must be active)`],
      ...(f.you
        ? ([
            [
              'your vote',
              f.you.vote === null
                ? 'none (zi fund vote ADDRESS; every payout clears the votes)'
                : `${f.you.vote}${f.you.active ? `, weight ${zi(f.you.weight)}` : ' (not counted: you are not active)'}`,
            ],
          ] as [string, unknown][])
        : []),
    ]),
  ];
  if (f.tally.length > 0) {
    lines.push('tally (weight = the voters’ balances; share = what each payee would get now):');
    for (const t of f.tally) {
      lines.push(`  ${t.payee}  ${counted(t.voters, 'voter')}  weight ${zi(t.weight)}  share ${zi(t.share)}`);
    }
  }
  for (const p of f.payouts)
    lines.push(`paid out ${zi(p.paid)} in block ${p.height} to ${counted(p.shares.length, 'payee')}`);
  return lines.join('\n');
}

export function fundCommand(program: Command): void {
  const fund = program
    .command('fund')
    .description('the shared network fund: its balance and threshold, votes by active addresses, gifts');

  walletOption(
    withClientOptions(
      fund
        .command('status')
        .description('balance, threshold, |active|, the tally by payee, recent payouts, and your own vote')
        .argument('[address]', 'whose vote to show (default: the wallet, if there is one)'),
    ),
  ).action(async (address: string | undefined, flags: ClientFlags & { wallet?: string }) => {
    const who =
      address ??
      (await readKeystore(walletFile(flags))
        .then((k) => k.address)
        .catch(() => undefined));
    const { rpc } = await connect(flags);
    const f = await rpc.call<FundView>('getfund', who === undefined ? {} : { address: who });
    print(f, flags.json ?? false, () => render(f));
  });

  withClientOptions(
    fund
      .command('vote')
      .description('vote for the address the fund should pay (needs an active address; your latest vote counts)')
      .argument('<address>', 'the payee'),
    true,
  ).action(async (payeeText: string, flags: SendFlags) => {
    const client = await connect(flags);
    const payee = parseAddress(payeeText, client.params.hrp);
    if (equalBytes(payee, RESERVED_ADDRESS))
      throw new ConfigError('BAD_OPTION', 'vote for a payee: the fund cannot go to 000');
    await requireActive(client.rpc, (await readKeystore(walletFile(flags))).address, "a voter's address");
    const { txid, height } = await signAndSend(
      flags,
      { kind: TX_KINDS.fundvote, payload: fundVoteRules.encode({ payee }) },
      { ...sendOpts(flags), client },
    );
    print({ txid, payee: payeeText, height }, flags.json ?? false, () =>
      table([
        ['fund vote', payeeText],
        ['transaction', txid],
        ['status', sentStatus(height)],
      ]),
    );
  });

  withClientOptions(
    fund
      .command('give')
      .description('give AMOUNT (Zi, or 250li) to the fund: a plain transfer to 000')
      .argument('<amount>', 'amount, e.g. 2 (Zi)'),
    true,
  ).action(async (amountText: string, flags: SendFlags) => {
    const amount = parseAmount(amountText, 'the gift');
    const { txid, height } = await signAndSend(
      flags,
      { kind: TX_KINDS.transfer, payload: transferRules.encode({ to: RESERVED_ADDRESS, amount }) },
      sendOpts(flags),
    );
    print({ txid, amount, height }, flags.json ?? false, () =>
      table([
        ['gift to the fund', `${formatZi(amount)} Zi`],
        ['transaction', txid],
        ['status', sentStatus(height)],
      ]),
    );
  });
}
