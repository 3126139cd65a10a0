import { credit, debit, getAccount, putAccount } from './accounts.ts';
import type { Block } from './block.ts';
import { ValidationError, ZiError } from './errors.ts';
import type { StateWriter } from './state.ts';
import type { Transaction } from './transaction.ts';
import type { TxContext, TxRulesRegistry } from './tx-rules.ts';

/**
 * The state machine: pure functions of (state, block). The caller hands in an
 * overlay, so a failed block leaves nothing behind and a connected one yields
 * its undo data from the overlay's recorded previous values.
 */

const bodies = new WeakMap<Transaction, unknown>();

export function txBody<B = unknown>(tx: Transaction, rules: TxRulesRegistry, ctx: Pick<TxContext, 'params'>): B {
  if (!bodies.has(tx)) bodies.set(tx, rules.get(tx.kind).decode(tx.payload, ctx.params));
  return bodies.get(tx) as B;
}

export function applyTransaction(state: StateWriter, tx: Transaction, rules: TxRulesRegistry, ctx: TxContext): void {
  const body = txBody(tx, rules, ctx);
  const acct = getAccount(state, tx.from);
  if (tx.nonce !== acct.nonce) {
    throw new ValidationError(
      tx.nonce < acct.nonce ? 'NONCE_USED' : 'NONCE_GAP',
      `nonce ${tx.nonce}, expected ${acct.nonce}`,
      {
        nonce: tx.nonce,
        expected: acct.nonce,
      },
    );
  }
  putAccount(state, tx.from, { ...acct, nonce: acct.nonce + 1n });
  const kind = rules.get(tx.kind);
  kind.apply(state, tx, body, ctx);
  // Taken after the kind's effects, so what a transaction brings in can pay for it.
  if (kind.payFee) kind.payFee(state, tx, body);
  else debit(state, tx.from, tx.fee);
}

/** Applies every transaction, then pays the miner subsidy plus fees. */
export function applyBlock(state: StateWriter, block: Block, rules: TxRulesRegistry, ctx: TxContext): { fees: bigint } {
  let fees = 0n;
  block.txs.forEach((tx, i) => {
    try {
      applyTransaction(state, tx, rules, ctx);
    } catch (err) {
      if (err instanceof ZiError) {
        throw new ValidationError(err.code, `tx ${i}: ${err.message}`, { ...err.meta, txIndex: i }, { cause: err });
      }
      throw err;
    }
    fees += tx.fee;
  });
  credit(state, block.header.miner, ctx.params.subsidy + fees);
  for (const hook of rules.hooks) hook.afterBlock?.(state, ctx);
  return { fees };
}
