import { getAccount } from '../chain/accounts.ts';
import { isActive } from '../chain/activity.ts';
import { formatAddress, parseAddress } from '../chain/address.ts';
import type { Chain } from '../chain/chain.ts';
import { equalBytes, toHex } from '../chain/encoding.ts';
import { defineMethod, type RpcMethod } from '../rpc/methods.ts';
import { fundVoteOf, fundVoters, getPayout, payoutHeights } from './fund.ts';
import { fundOutlook } from './fund-rules.ts';

type ChainView = Pick<Chain, 'params' | 'state' | 'tip' | 'entryAtHeight'>;

/** Payouts looked through for one address's (each holds 1 Zi × |active|, so they are few). */
const PAYOUTS_SCANNED = 10_000;

/** The shared fund's JSON-RPC methods (docs/RPC.md); votes and gifts are transactions (sendrawtransaction). */
export function fundRpcMethods(chain: ChainView): Record<string, RpcMethod> {
  const hrp = chain.params.hrp;
  const fmt = (a: Uint8Array) => formatAddress(a, hrp);
  return {
    getfundpayouts: defineMethod({
      description:
        'Newest first, the fund payouts an address received: they move coins without a transaction of theirs, so gethistory cannot list them (zi wallet history merges them in).',
      params: [
        { name: 'address', type: 'string', maxLength: 100 },
        { name: 'limit', type: 'integer', min: 1, max: 1000, optional: true },
      ],
      handler: ({ address: text, limit }) => {
        const payee = parseAddress(text, hrp);
        const out = [];
        for (const height of payoutHeights(chain.state, PAYOUTS_SCANNED).reverse()) {
          const p = getPayout(chain.state, height)!;
          const share = p.shares.find((s) => equalBytes(s.payee, payee));
          if (share === undefined) continue;
          const entry = chain.entryAtHeight(height);
          const time = entry ? new Date(entry.header.timestamp).toISOString() : undefined;
          out.push({ type: 'fund', height, time, amount: share.amount, paid: p.paid, payees: p.shares.length });
          if (out.length >= (limit ?? 50)) break;
        }
        return out;
      },
    }),
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
