import { type Address, formatAddress, parseAddress } from '../chain/address.ts';
import type { Chain } from '../chain/chain.ts';
import { equalBytes, toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import { defineMethod, type RpcMethod } from '../rpc/methods.ts';
import { eligible } from './assignment.ts';
import { delegatedInWindow, stakeRequirement } from './rules.ts';
import {
  decodeReservation,
  FLAG_BANNED,
  getStake,
  listValidators,
  STATE_RESERVATION,
  type StakeRecord,
} from './state.ts';

export class ValidatorNotFoundError extends ZiError<'NOT_FOUND'> {}

/** What the validator methods read: the chain's state at the tip. */
type ChainView = Pick<Chain, 'params' | 'state' | 'height' | 'tip' | 'store'>;

function view(chain: ChainView, address: Address, s: StakeRecord) {
  const p = chain.params;
  const maturesAt = s.height + p.stakeMaturity;
  return {
    address: formatAddress(address, p.hrp),
    amount: s.amount,
    reserved: s.reserved,
    free: s.amount - s.reserved,
    contracts: s.contracts,
    stakeTxid: toHex(s.txid),
    stakedAt: s.height,
    maturesAt,
    matured: chain.height + 1 >= maturesAt,
    banned: (s.flags & FLAG_BANNED) !== 0,
  };
}

/** The validator domain's JSON-RPC methods (docs/RPC.md). */
export function validatorRpcMethods(chain: ChainView): Record<string, RpcMethod> {
  const p = chain.params;
  return {
    getvalidator: defineMethod({
      description: 'A Validator: stake, free and reserved Li, maturity, ban, and the contracts it is assigned.',
      params: [{ name: 'address', type: 'string', maxLength: 100 }],
      handler: async ({ address: text }) => {
        const address = parseAddress(text, p.hrp);
        const s = getStake(chain.state, address);
        if (!s) throw new ValidatorNotFoundError('NOT_FOUND', `${text} has no stake`);
        const assigned = [];
        for await (const [key, value] of chain.store.stateEntries(new Uint8Array([STATE_RESERVATION]))) {
          const r = decodeReservation(value);
          if (equalBytes(r.validator, address)) assigned.push({ contract: toHex(key.subarray(1)), reserved: r.amount });
        }
        return { ...view(chain, address, s), assigned };
      },
    }),
    listvalidators: defineMethod({
      description: 'Every Validator with its stake and state, in order of first stake.',
      params: [],
      handler: () => listValidators(chain.state).map((a) => view(chain, a, getStake(chain.state, a)!)),
    }),
    getstakerequirement: defineMethod({
      description:
        'R, the stake a Validator must hold now (M × max(1, delegated contracts opened in the window)), and whether a budget would find an eligible Validator.',
      params: [{ name: 'budget', type: 'bigint', min: 0n, max: (1n << 64n) - 1n, optional: true }],
      handler: ({ budget }) => {
        const now = chain.tip.header.timestamp;
        const need = budget ?? 0n;
        const next = chain.height + 1;
        const covering = listValidators(chain.state).filter((a) => eligible(getStake(chain.state, a)!, need, next, p));
        return {
          required: stakeRequirement(chain.state, now, p),
          unit: p.stakeUnit,
          delegatedInWindow: delegatedInWindow(chain.state, now, p),
          maturityBlocks: p.stakeMaturity,
          ...(budget === undefined ? {} : { budget: need, eligibleValidators: covering.length }),
        };
      },
    }),
  };
}
