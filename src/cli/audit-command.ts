import type { Command } from 'commander';
import { formatZi } from '../chain/amount.ts';
import { type ClientFlags, connect } from './client.ts';
import { hexId } from './options.ts';
import { print, table } from './output.ts';
import { withClientOptions } from './tx-sender.ts';

interface AuditView {
  contract: string;
  validator: string;
  bidder: string;
  status: string;
  round: number;
  verdict: string | null;
  heldFees: string;
  closedHeight: number;
  appealPayment: string;
  appealWindowEnds: string | null;
  votes: { miner: string; round: number; verdict: string; height: number }[];
}

function summary(a: AuditView): string {
  const verdict =
    a.verdict === null
      ? `round ${a.round}, ${a.votes.filter((v) => v.round === a.round).length} votes so far`
      : a.verdict;
  return `${a.contract}  ${a.status.padEnd(24)}  ${verdict}`;
}

export function auditCommand(program: Command): void {
  const audit = program
    .command('audit')
    .description("miners' audits of Validators: rounds, votes, verdicts, appeal windows");

  withClientOptions(
    audit
      .command('status')
      .description("a contract's audit: round, each vote with its miner and block, verdict, what moved")
      .argument('<id>', 'contract id'),
  ).action(async (id: string, flags: ClientFlags) => {
    const { rpc } = await connect(flags);
    const a = await rpc.call<AuditView>('getaudit', { id: hexId(id, 'a contract id') });
    print(a, flags.json ?? false, () =>
      [
        table([
          ['contract', a.contract],
          ['validator', a.validator],
          ['status', a.status],
          ['round', a.round],
          ['verdict', a.verdict ?? 'not yet'],
          ['held fees', `${formatZi(BigInt(a.heldFees))} Zi (to the Validator if Valid, to the Bidder if Invalid)`],
          ...(a.appealWindowEnds ? ([['appeal window ends', a.appealWindowEnds]] as [string, unknown][]) : []),
          ...(BigInt(a.appealPayment) > 0n
            ? ([['appeal payment', `${formatZi(BigInt(a.appealPayment))} Zi`]] as [string, unknown][])
            : []),
        ]),
        ...a.votes.map((v) => `  round ${v.round}  block ${v.height}  ${v.verdict.padEnd(7)}  ${v.miner}`),
      ].join('\n'),
    );
  });

  withClientOptions(
    audit.command('list').description('contracts under audit, appealing or in their appeal window'),
  ).action(async (flags: ClientFlags) => {
    const { rpc } = await connect(flags);
    const r = await rpc.call<{ audits: AuditView[]; fund: string; minted: string }>('listaudits');
    print(r, flags.json ?? false, () =>
      [
        r.audits.length === 0 ? 'no audits under way' : r.audits.map(summary).join('\n'),
        `shared fund: ${formatZi(BigInt(r.fund))} Zi`,
      ].join('\n'),
    );
  });
}
