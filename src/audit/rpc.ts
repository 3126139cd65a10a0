import { formatAddress } from '../chain/address.ts';
import type { Chain } from '../chain/chain.ts';
import { toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import { defineMethod, type RpcMethod } from '../rpc/methods.ts';
import { auditOutcome } from './moves.ts';
import {
  type AuditRecord,
  fundBalance,
  getAudit,
  INVALID,
  mintedByAudits,
  pendingAudits,
  STATUS_APPEALING,
  STATUS_FINAL,
  STATUS_INVALID,
  VALID,
} from './state.ts';

export class AuditNotFoundError extends ZiError<'NOT_FOUND'> {}

const STATUS = {
  1: 'open',
  [STATUS_INVALID]: 'invalid (appeal window)',
  [STATUS_APPEALING]: 'appealing',
  [STATUS_FINAL]: 'final',
} as Record<number, string>;

type ChainView = Pick<Chain, 'params' | 'state' | 'tip'>;

function view(chain: ChainView, id: Hash, a: AuditRecord) {
  const hrp = chain.params.hrp;
  const window = a.verdictTime === 0 ? null : a.verdictTime + chain.params.appealWindowMs;
  const { paid, moved, held } = auditOutcome(a);
  const appealed = a.round === 3;
  return {
    contract: toHex(id),
    validator: formatAddress(a.validator, hrp),
    bidder: formatAddress(a.bidder, hrp),
    status: STATUS[a.status] ?? 'unknown',
    round: a.round,
    verdict: a.verdict === VALID ? 'valid' : a.verdict === INVALID ? 'invalid' : null,
    heldFees: a.heldFees,
    closedHeight: a.closedHeight,
    appealPayment: a.appealPayment,
    appeal: appealed
      ? {
          payment: a.appealPayment,
          result: a.status === STATUS_APPEALING ? null : a.verdict === VALID ? 'won' : 'lost',
        }
      : null,
    appealWindowEnds: window === null ? null : new Date(window).toISOString(),
    votes: a.votes.map((v, i) => ({
      miner: formatAddress(v.voter, hrp),
      round: v.round,
      verdict: v.verdict === VALID ? 'valid' : 'invalid',
      height: v.height,
      paid: paid[i],
    })),
    moved: moved.map((m) => ({
      what: m.what,
      li: m.li,
      to: m.to === 'fund' ? 'fund' : formatAddress(m.to, hrp),
      minted: m.minted,
    })),
    held: held.map((h) => ({ what: h.what, li: h.li ?? null })),
  };
}

/** The audit domain's JSON-RPC methods (docs/RPC.md). */
export function auditRpcMethods(chain: ChainView): Record<string, RpcMethod> {
  return {
    getaudit: defineMethod({
      description:
        "A contract's audit: round, votes with their miners, blocks and what each earned, verdict, appeal, what was moved (vote fees, held fees, stake, appeal payment) and what is still held, and the appeal window.",
      params: [{ name: 'id', type: 'bytes', bytes: 32 }],
      handler: ({ id }) => {
        const a = getAudit(chain.state, id);
        if (!a) throw new AuditNotFoundError('NOT_FOUND', `contract ${toHex(id)} has no audit`);
        return view(chain, id, a);
      },
    }),
    listaudits: defineMethod({
      description:
        'Contracts under audit, appealing, or in their appeal window; and the fund and the Li audits minted.',
      params: [],
      handler: () => ({
        audits: pendingAudits(chain.state).map((id) => view(chain, id, getAudit(chain.state, id)!)),
        fund: fundBalance(chain.state),
        minted: mintedByAudits(chain.state),
      }),
    }),
  };
}
