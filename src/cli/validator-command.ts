import type { Command } from 'commander';
import { appealRules } from '../audit/rules.ts';
import { formatZi, parseAmount } from '../chain/amount.ts';
import { fromHex } from '../chain/encoding.ts';
import { TX_KINDS } from '../chain/transaction.ts';
import { RpcError } from '../rpc/errors.ts';
import { stakeRules } from '../validator/rules.ts';
import { readKeystore } from '../wallet/keystore.ts';
import { requireActive } from './activity.ts';
import { type ClientFlags, connect, walletOption } from './client.ts';
import { hexId } from './options.ts';
import { counted, print, table } from './output.ts';
import { type SendFlags, sendOpts, sentStatus, signAndSend, walletFile, withClientOptions } from './tx-sender.ts';

interface ValidatorView {
  address: string;
  amount: string;
  reserved: string;
  free: string;
  contracts: number;
  maturesAt: number;
  matured: boolean;
  banned: boolean;
  stakedAt: number;
  assigned?: { contract: string; reserved: string }[];
}

const zi = (li: string) => `${formatZi(BigInt(li))} Zi`;

function stateOf(v: ValidatorView): string {
  if (v.banned) return 'banned';
  return v.matured ? 'matured' : `matures at block ${v.maturesAt}`;
}

export function validatorCommand(program: Command): void {
  const validator = program
    .command('validator')
    .description('stake to validate delegated contracts for their Bidders (run the node with --validator)');

  withClientOptions(
    validator
      .command('stake')
      .description('stake AMOUNT (Zi, or 250li) to 000: needs an active address and at least R in all')
      .argument('<amount>', 'amount, e.g. 5 (Zi)'),
    true,
  ).action(async (amountText: string, flags: SendFlags) => {
    const amount = parseAmount(amountText, 'the stake');
    const client = await connect(flags);
    await requireActive(client.rpc, (await readKeystore(walletFile(flags))).address, "a Validator's address");
    const r = await client.rpc.call<{ required: string }>('getstakerequirement');
    const { txid, height } = await signAndSend(
      flags,
      { kind: TX_KINDS.stake, payload: stakeRules.encode({ amount }) },
      { ...sendOpts(flags), client },
    );
    print({ txid, amount, required: r.required, height }, flags.json ?? false, () =>
      table([
        ['stake', `${formatZi(amount)} Zi`],
        ['required now (R)', zi(r.required)],
        ['transaction', txid],
        ['status', sentStatus(height)],
      ]),
    );
  });

  withClientOptions(
    validator.command('unstake').description('take the whole stake back (refused while anything is reserved)'),
    true,
  ).action(async (flags: SendFlags) => {
    const { txid, height } = await signAndSend(
      flags,
      { kind: TX_KINDS.unstake, payload: new Uint8Array(0) },
      sendOpts(flags),
    );
    print({ txid, height }, flags.json ?? false, () =>
      table([
        ['unstake', txid],
        ['status', sentStatus(height)],
      ]),
    );
  });

  withClientOptions(
    validator
      .command('appeal')
      .description('appeal an Invalid verdict inside its window, paying the current R: nine fresh votes decide again')
      .argument('<id>', 'contract id')
      .option('--max <amount>', 'the most you agree to pay (default: R now)'),
    true,
  ).action(async (id: string, flags: SendFlags & { max?: string }) => {
    const client = await connect(flags);
    const r = await client.rpc.call<{ required: string }>('getstakerequirement');
    const maxPayment = flags.max === undefined ? BigInt(r.required) : parseAmount(flags.max, '--max');
    const contract = fromHex(hexId(id, 'a contract id'), 32);
    const { txid, height } = await signAndSend(
      flags,
      { kind: TX_KINDS.appeal, payload: appealRules.encode({ contract, maxPayment }) },
      { ...sendOpts(flags), client },
    );
    print({ txid, maxPayment, height }, flags.json ?? false, () =>
      table([
        ['appeal', txid],
        ['pays at most', `${formatZi(maxPayment)} Zi`],
        ['status', sentStatus(height)],
      ]),
    );
  });

  walletOption(
    withClientOptions(
      validator
        .command('status')
        .description("a Validator's stake, free and reserved Li, assigned contracts, held fees, maturity and ban")
        .argument('[address]', 'default: the wallet'),
    ),
  ).action(async (address: string | undefined, flags: ClientFlags & { wallet?: string }) => {
    const who = address ?? (await readKeystore(walletFile(flags))).address;
    const { rpc } = await connect(flags);
    const { required } = await rpc.call<{ required: string }>('getstakerequirement');
    const least = `${zi(required)} (the least a stake may be now)`;
    let v: ValidatorView;
    try {
      v = await rpc.call<ValidatorView>('getvalidator', { address: who });
    } catch (err) {
      if (!(err instanceof RpcError && err.code === 'NOT_FOUND')) throw err;
      // Not a Validator (yet, or any more): what it takes to become one.
      print({ address: who, staked: false, required }, flags.json ?? false, () =>
        table([
          ['address', who],
          ['stake', 'none: zi validator stake AMOUNT (at least R, from an active address)'],
          ['R', least],
        ]),
      );
      return;
    }
    const contracts = await Promise.all(
      (v.assigned ?? []).map((a) =>
        rpc.call<{ id: string; heldFees: string; status: string }>('getcontract', { id: a.contract }),
      ),
    );
    const held = contracts.reduce((n, c) => n + BigInt(c.heldFees), 0n);
    print({ ...v, staked: true, required, heldFees: held }, flags.json ?? false, () =>
      [
        table([
          ['address', v.address],
          ['stake', zi(v.amount)],
          ['free', zi(v.free)],
          ['reserved', `${zi(v.reserved)} for ${counted(v.contracts, 'contract')}`],
          ['held fees', `${formatZi(held)} Zi (validation fees awaiting audit)`],
          ['state', stateOf(v)],
          ['R', least],
        ]),
        ...contracts.map((c, i) => `  ${c.id}  ${c.status.padEnd(6)}  reserved ${zi(v.assigned![i]!.reserved)}`),
      ].join('\n'),
    );
  });

  withClientOptions(validator.command('list').description('every Validator with its stake and state')).action(
    async (flags: ClientFlags) => {
      const { rpc } = await connect(flags);
      const list = await rpc.call<ValidatorView[]>('listvalidators');
      print(list, flags.json ?? false, () =>
        list.length === 0
          ? 'no Validators'
          : list.map((v) => `${v.address}  stake ${zi(v.amount)}  free ${zi(v.free)}  ${stateOf(v)}`).join('\n'),
      );
    },
  );
}
