import { getAccount } from '../chain/accounts.ts';
import { isActive } from '../chain/activity.ts';
import { formatAddress, parseAddress } from '../chain/address.ts';
import type { Chain } from '../chain/chain.ts';
import { toHex } from '../chain/encoding.ts';
import { defineMethod, type RpcMethod } from '../rpc/methods.ts';
import { fundVoteOf, fundVoters, getPayout, payoutHeights } from './fund.ts';
import { fundOutlook } from './fund-rules.ts';

type ChainView = Pick<Chain, 'params' | 'state' | 'tip'>;

/** The shared fund's JSON-RPC method (docs/RPC.md); votes and gifts are transactions (sendrawtransaction). */
export function fundRpcMethods(chain: ChainView): Record<string, RpcMethod> {
  const hrp = chain.params.hrp;
  const fmt = (a: Uint8Array) => formatAddress(a, hrp);
  return {
    getfund: defineMethod({
      description:
        'The shared fund: balance, the threshold (1 Zi per active address) and |active|, the tally by payee with what each would get now, recent payouts, and one address’s vote.',
      params: [{ name: 'address', type: 'string', maxLength: 100, optional: true }],
      handler: ({ address: text }) => {
        const now = chain.tip.header.timestamp;
        const o = fundOutlook(chain.state, now, chain.params);
        const tally = new Map<string, { payee: string; voters: number; weight: bigint; share: bigint }>();
        for (const b of o.ballots) {
          const id = toHex(b.payee);
          const row = tally.get(id) ?? { payee: fmt(b.payee), voters: 0, weight: 0n, share: 0n };
          row.voters++;
          row.weight += b.weight;
          tally.set(id, row);
        }
        for (const s of o.shares) tally.get(toHex(s.payee))!.share = s.amount;
        const heights = payoutHeights(chain.state, 10).reverse();
        const mine = text === undefined ? undefined : parseAddress(text, hrp);
        const vote = mine && fundVoteOf(chain.state, mine);
        return {
          balance: o.balance,
          threshold: o.threshold,
          active: o.active,
          due: o.due,
          voters: fundVoters(chain.state).length,
          countedVoters: o.ballots.length,
          tally: [...tally.values()].sort((a, b) => (b.weight > a.weight ? 1 : b.weight < a.weight ? -1 : 0)),
          payouts: heights.map((h) => {
            const p = getPayout(chain.state, h)!;
            return {
              height: h,
              paid: p.paid,
              shares: p.shares.map((s) => ({ payee: fmt(s.payee), amount: s.amount })),
            };
          }),
          ...(mine === undefined
            ? {}
            : {
                you: {
                  address: fmt(mine),
                  vote: vote ? fmt(vote) : null,
                  active: isActive(chain.state, mine, now, chain.params),
                  weight: getAccount(chain.state, mine).balance,
                },
              }),
        };
      },
    }),
  };
}
