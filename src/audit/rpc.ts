import { formatAddress } from '../chain/address.ts';
import type { Chain } from '../chain/chain.ts';
import { toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import { defineMethod, type RpcMethod } from '../rpc/methods.ts';
import {
  type AuditRecord,
  fundBalance,
  getAudit,
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
  return {
    contract: toHex(id),
    validator: formatAddress(a.validator, hrp),
    bidder: formatAddress(a.bidder, hrp),
    status: STATUS[a.status] ?? 'unknown',
    round: a.round,
    verdict: a.verdict === VALID ? 'valid' : a.verdict === 0 ? 'invalid' : null,
    heldFees: a.heldFees,
    closedHeight: a.closedHeight,
    appealPayment: a.appealPayment,
    appealWindowEnds: window === null ? null : new Date(window).toISOString(),
    votes: a.votes.map((v) => ({
      miner: formatAddress(v.voter, hrp),
      round: v.round,
      verdict: v.verdict === VALID ? 'valid' : 'invalid',
      height: v.height,
    })),
  };
}

/** The audit domain's JSON-RPC methods (docs/RPC.md). */
export function auditRpcMethods(chain: ChainView): Record<string, RpcMethod> {
  return {
    getaudit: defineMethod({
      description: "A contract's audit: round, votes with their miners and blocks, verdict, and the appeal window.",
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
