import { credit, debit } from './accounts.ts';
import { ADDRESS_SIZE, type Address } from './address.ts';
import { decodeExact, Writer } from './encoding.ts';
import { DecodeError, ValidationError } from './errors.ts';
import type { NetworkParams } from './params.ts';
import type { StateWriter } from './state.ts';
import { type Transaction, TX_KINDS, txKindName } from './transaction.ts';

/** What a transaction's rules may know besides the state. */
export interface TxContext {
  params: NetworkParams;
  /** Height and timestamp of the block being built or connected. */
  height: number;
  timestamp: number;
}

/**
 * The small interface through which the core runs a kind's rules without
 * importing its domain. The core has already checked the signature, the
 * nonce and the fee, and debited the fee, before `apply` runs.
 */
export interface TxRules<Body = unknown> {
  kind: number;
  /** Strict: the payload holds exactly one canonical body. */
  decode(payload: Uint8Array, params: NetworkParams): Body;
  encode(body: Body): Uint8Array;
  /** Stateless checks beyond decoding (called once per tx, cached with it). */
  check?(tx: Transaction, body: Body, params: NetworkParams): void;
  /** Li the transaction moves out of the sender's balance besides its fee. */
  spends(body: Body): bigint;
  /**
   * Node policy before the mempool takes a transaction from outside (RPC,
   * gossip): checks too costly or machine-dependent for consensus, such as
   * compiling contract code in the sandbox. `origin` names who sent it (a
   * peer id, or 'rpc'), for per-origin budgets.
   */
  admit?(tx: Transaction, body: Body, params: NetworkParams, origin: string): Promise<void>;
  apply(state: StateWriter, tx: Transaction, body: Body, ctx: TxContext): void;
  /** Who pays the fee, when not the sender (a payout's fee comes from its contract's escrow). */
  payFee?(state: StateWriter, tx: Transaction, body: Body): void;
  /** Addresses besides the sender that the transaction touches (history index). */
  parties?(body: Body): Address[];
  /** A JSON view for RPC and CLI. */
  toJSON(body: Body, format: (a: Address) => string): Record<string, unknown>;
}

/** Per-block hooks for domains that keep block-level bookkeeping. */
export interface BlockHook {
  afterBlock?(state: StateWriter, ctx: TxContext): void;
}

export class TxRulesRegistry {
  private readonly byKind = new Map<number, TxRules>();
  readonly hooks: BlockHook[] = [];

  register<B>(rules: TxRules<B>): this {
    if (this.byKind.has(rules.kind)) throw new Error(`rules for kind ${rules.kind} registered twice`);
    this.byKind.set(rules.kind, rules as TxRules);
    return this;
  }

  addHook(hook: BlockHook): this {
    this.hooks.push(hook);
    return this;
  }

  get(kind: number): TxRules {
    const rules = this.byKind.get(kind);
    if (rules === undefined) {
      throw new ValidationError(
        'KIND_NOT_ACTIVE',
        `transactions of kind ${txKindName(kind) ?? kind} are not accepted yet`,
        {
          kind,
        },
      );
    }
    return rules;
  }
}

export interface TransferBody {
  to: Address;
  amount: bigint;
}

export const transferRules: TxRules<TransferBody> = {
  kind: TX_KINDS.transfer,
  decode(payload) {
    return decodeExact(payload, ADDRESS_SIZE + 8, 'transfer', (r) => {
      const to = r.bytes(ADDRESS_SIZE, 'transfer.to');
      const amount = r.u64('transfer.amount');
      if (amount === 0n)
        throw new DecodeError('BAD_VALUE', 'a transfer moves at least 1 Li', { what: 'transfer.amount' });
      return { to, amount };
    });
  },
  encode(body) {
    return new Writer(ADDRESS_SIZE + 8).bytes(body.to).u64(body.amount).finish();
  },
  spends: (body) => body.amount,
  apply(state, tx, body) {
    debit(state, tx.from, body.amount);
    credit(state, body.to, body.amount);
  },
  parties: (body) => [body.to],
  toJSON: (body, format) => ({ to: format(body.to), amount: body.amount }),
};

/** The registry of a node with no domains yet: transfers only. */
export function coreRules(): TxRulesRegistry {
  return new TxRulesRegistry().register(transferRules);
}
