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
  appeal: { payment: string; result: 'won' | 'lost' | null } | null;
  appealWindowEnds: string | null;
  votes: { miner: string; round: number; verdict: string; height: number; paid: string | null }[];
  moved: { what: string; li: string; to: string; minted: boolean }[];
  held: { what: string; li: string | null }[];
}

const zi = (li: string | bigint) => `${formatZi(BigInt(li))} Zi`;

function summary(a: AuditView): string {
  const verdict =
    a.verdict === null
      ? `round ${a.round}, ${a.votes.filter((v) => v.round === a.round).length} votes so far`
      : a.verdict;
  return `${a.contract}  ${a.status.padEnd(24)}  ${verdict}`;
}

/** Who an amount went to, in words: the audit's parties by their role. */
function party(a: AuditView, to: string): string {
  if (to === 'fund') return 'the shared fund';
  if (to === a.validator) return `the Validator ${to}`;
  if (to === a.bidder) return `the Bidder ${to}`;
  return to;
}

function voteLine(v: AuditView['votes'][number]): string {
  const round = v.round === 3 ? 'appeal ' : `round ${v.round}`;
  const paid = v.paid === null ? 'round not decided' : BigInt(v.paid) > 0n ? `earned ${zi(v.paid)}` : 'earned nothing';
  return `  ${round}  block ${String(v.height).padEnd(6)}  ${v.verdict.padEnd(7)}  ${v.miner}  ${paid}`;
}

/** Vote fees as one line per kind (each voter's is on its vote line); every other move on its own. */
function movedLines(a: AuditView): string[] {
  const rows: [string, string][] = [];
  for (const [what, source] of [
    ['vote fee', 'minted'],
    ['appeal vote fee', 'out of the appeal payment'],
  ] as const) {
    const fees = a.moved.filter((m) => m.what === what);
    if (fees.length === 0) continue;
    const total = fees.reduce((n, m) => n + BigInt(m.li), 0n);
    const each = fees.length === 1 ? 'to its one voter' : `${zi(fees[0]!.li)} to each of ${fees.length} voters`;
    rows.push([`${what}s`, `${zi(total)} ${source}, ${each}`]);
  }
  for (const m of a.moved) {
    if (m.what.endsWith('vote fee')) continue;
    const back = m.what === 'appeal payment' && m.to === a.validator ? ' (the rest, returned)' : '';
    rows.push([m.what, `${zi(m.li)} to ${party(a, m.to)}${back}`]);
  }
  if (rows.length === 0) return ['  nothing yet'];
  return table(rows)
    .split('\n')
    .map((line) => `  ${line}`);
}

/** The appeal window as it stands: open, used by an appeal, or closed unappealed (block time). */
function windowLine(a: AuditView): string | undefined {
  if (a.appealWindowEnds === null) return undefined;
  if (a.appeal) return `appealed inside it (open until ${a.appealWindowEnds})`;
  if (a.status === 'final') return `closed at ${a.appealWindowEnds}, not appealed`;
  return `open until ${a.appealWindowEnds} (block time)`;
}

/** An appeal's payment and what its outcome meant for the Validator. */
function appealLine(appeal: NonNullable<AuditView['appeal']>): string {
  const paid = `${zi(appeal.payment)} paid`;
  if (appeal.result === null) return `${paid}, nine votes deciding`;
  return appeal.result === 'won'
    ? `${paid}, won: the ban is lifted, the stake stays with the Validator`
    : `${paid}, lost: the stake and the rest of the payment went to the shared fund`;
}

function heldLine(a: AuditView, stake: string | undefined): string {
  const what = a.held.map((h) =>
    h.what === 'stake'
      ? `the Validator's stake${stake === undefined ? '' : ` (${zi(stake)})`}`
      : `${h.what} ${zi(h.li!)}`,
  );
  const until =
    a.status === 'open'
      ? 'until the verdict'
      : a.status === 'appealing'
        ? 'until the appeal is decided'
        : `until the appeal window ends (${a.appealWindowEnds})`;
  return `${what.join(', ')} ${until}`;
}

export function auditCommand(program: Command): void {
  const audit = program
    .command('audit')
    .description("miners' audits of Validators: rounds, votes, verdicts, appeal windows");

  withClientOptions(
    audit
      .command('status')
      .description(
        "a contract's audit: round, each vote with its miner, block and fee, verdict, appeal, what moved and what is held",
      )
      .argument('<id>', 'contract id'),
  ).action(async (id: string, flags: ClientFlags) => {
    const { rpc } = await connect(flags);
    const a = await rpc.call<AuditView>('getaudit', { id: hexId(id, 'a contract id') });
    // The stake is the validator domain's: its amount comes from there while the audit holds it.
    const stake = a.held.some((h) => h.what === 'stake')
      ? await rpc
          .call<{ amount: string }>('getvalidator', { address: a.validator })
          .then((v) => v.amount)
          .catch(() => undefined)
      : undefined;
    print(a, flags.json ?? false, () =>
      [
        table([
          ['contract', a.contract],
          ['validator', a.validator],
          ['bidder', a.bidder],
          ['status', a.status],
          ['round', a.round],
          ['verdict', a.verdict ?? 'not yet'],
          ...(a.appeal ? ([['appeal', appealLine(a.appeal)]] as [string, unknown][]) : []),
          ...(windowLine(a) ? ([['appeal window', windowLine(a)]] as [string, unknown][]) : []),
          ...(a.held.length > 0 ? ([['held', heldLine(a, stake)]] as [string, unknown][]) : []),
        ]),
        'votes:',
        ...(a.votes.length === 0 ? ['  none yet'] : a.votes.map(voteLine)),
        'moved:',
        ...movedLines(a),
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
