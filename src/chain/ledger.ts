import {
  type Account,
  accountKey,
  credit,
  getAccount,
  lessBalance,
  putAccount,
  readAccount,
  spend,
  writeAccount,
} from './accounts.ts';
import { noteActivity, sweepActive } from './active-count.ts';
import { appendActivity, recordActivity, withActivity } from './activity.ts';
import { type Address, RESERVED_ADDRESS } from './address.ts';
import type { Block } from './block.ts';
import { equalBytes, keyId, toHex } from './encoding.ts';
import { ValidationError, ZiError } from './errors.ts';
import type { StateWriter } from './state.ts';
import type { Transaction } from './transaction.ts';
import {
  type BlockContext,
  type TransferBody,
  type TxContext,
  type TxRulesRegistry,
  transferRules,
} from './tx-rules.ts';

/**
 * The state machine: pure functions of (state, block). The caller hands in an
 * overlay, so a failed block leaves nothing behind and a connected one yields
 * its undo data from the overlay's recorded previous values.
 */

const votes = new WeakMap<Uint8Array, unknown>();

export function txBody<B = unknown>(tx: Transaction, rules: TxRulesRegistry, ctx: Pick<TxContext, 'params'>): B {
  const decode = rules.get(tx.kind).decode;
  return tx.decodedPayload(decode, ctx.params, () => decode(tx.payload, ctx.params)) as B;
}

/** A block's votes, decoded by the domain that registered the section. */
export function blockVotes(block: Block, rules: TxRulesRegistry, ctx: Pick<TxContext, 'params'>): unknown[] {
  if (block.votes.length === 0) return [];
  const section = rules.voteRules;
  if (section === undefined) {
    throw new ValidationError('SECTION_NOT_ACTIVE', 'this network does not accept audit votes yet');
  }
  return block.votes.map((v, i) => {
    if (!votes.has(v)) {
      try {
        votes.set(v, section.decode(v, ctx.params));
      } catch (err) {
        throw indexed(err, 'vote', i);
      }
    }
    return votes.get(v);
  });
}

/** The parties of a transaction besides its sender, each once. */
export function otherParties(tx: Transaction, rules: TxRulesRegistry, ctx: Pick<TxContext, 'params'>): Address[] {
  const others = rules.get(tx.kind).parties?.(txBody(tx, rules, ctx)) ?? [];
  if (others.length === 1) return equalBytes(others[0]!, tx.from) ? [] : others;
  const seen = new Set([toHex(tx.from)]);
  const out: Address[] = [];
  for (const a of others) {
    const id = toHex(a);
    if (!seen.has(id)) {
      seen.add(id);
      out.push(a);
    }
  }
  return out;
}

export function applyTransaction(state: StateWriter, tx: Transaction, rules: TxRulesRegistry, ctx: TxContext): void {
  const body = txBody(tx, rules, ctx);
  const from = { key: accountKey(tx.from), id: '' };
  from.id = keyId(from.key);
  const acct = readAccount(state, from.key, from.id);
  if (tx.nonce !== acct.nonce) {
    throw new ValidationError(
      tx.nonce < acct.nonce ? 'NONCE_USED' : 'NONCE_GAP',
      `nonce ${tx.nonce}, expected ${acct.nonce}`,
      { nonce: tx.nonce, expected: acct.nonce },
    );
  }
  const { rules: kind, state: scoped } = rules.forKind(tx.kind, state);
  if (kind === transferRules && fusedTransfer(scoped, tx, body as TransferBody, acct, from, ctx)) return;
  putAccount(state, tx.from, { ...acct, nonce: acct.nonce + 1n });
  kind.apply(scoped, tx, body, ctx);
  // Taken after the kind's effects, so what a transaction brings in can pay
  // for it; the sender's activity goes with it (one write), and after the
  // kind's rules, so a rule asking whether the sender is active sees its
  // earlier transactions only.
  if (kind.payFee) {
    kind.payFee(scoped, tx, body);
    recordActivity(state, tx.from, ctx.timestamp, ctx.params);
  } else {
    const after = lessBalance(getAccount(state, tx.from), tx.fee);
    putAccount(state, tx.from, withActivity(state, tx.from, after, ctx.timestamp, ctx.params));
  }
  for (const a of otherParties(tx, rules, ctx)) recordActivity(state, a, ctx.timestamp, ctx.params);
}

/**
 * A transfer between two user accounts, fused: one read and one write of each
 * account, where the general path reads and writes the sender three times and
 * the recipient twice (most of a block's apply time, and garbage). The same
 * checks in the same order, the same errors, values, activity and first-write
 * order as the general path (test/chain/ledger.test.ts runs both on the same
 * transfers). One to itself or to 000 takes the general path: false.
 */
function fusedTransfer(
  state: StateWriter,
  tx: Transaction,
  body: TransferBody,
  sender: Account,
  /** The sender's account key and its keyId, as applyTransaction read it. */
  from: { key: Uint8Array; id: string },
  ctx: TxContext,
): boolean {
  const { to, amount } = body;
  if (equalBytes(to, tx.from) || equalBytes(to, RESERVED_ADDRESS)) return false;
  const paid = spend(sender.balance, amount);
  const toKey = accountKey(to);
  const toId = keyId(toKey);
  const recipient = readAccount(state, toKey, toId);
  const left = spend(paid, tx.fee);
  const sent = appendActivity(sender.activity, ctx.timestamp, ctx.params);
  const received = appendActivity(recipient.activity, ctx.timestamp, ctx.params);
  writeAccount(state, from.key, { balance: left, nonce: sender.nonce + 1n, activity: sent }, from.id);
  writeAccount(state, toKey, { balance: recipient.balance + amount, nonce: recipient.nonce, activity: received }, toId);
  noteActivity(state, tx.from, sender.activity, sent, ctx.params);
  noteActivity(state, to, recipient.activity, received, ctx.params);
  return true;
}

/**
 * Applies every transaction, then the votes, then pays the miner subsidy plus
 * fees and brings the active count to the block's time, then runs the hooks.
 */
export function applyBlock(state: StateWriter, block: Block, rules: TxRulesRegistry, ctx: TxContext): { fees: bigint } {
  const bctx: BlockContext = { ...ctx, miner: block.header.miner, hash: block.hash(), block };
  let fees = 0n;
  block.txs.forEach((tx, i) => {
    try {
      applyTransaction(state, tx, rules, { ...ctx, position: i });
    } catch (err) {
      throw indexed(err, 'tx', i);
    }
    fees += tx.fee;
  });
  const items = blockVotes(block, rules, ctx);
  const section = items.length > 0 ? rules.votes(state) : undefined;
  items.forEach((item, i) => {
    try {
      section!.section.apply(section!.state, item, bctx);
    } catch (err) {
      throw indexed(err, 'vote', i);
    }
  });
  credit(state, block.header.miner, ctx.params.subsidy + fees);
  sweepActive(state, ctx.timestamp, ctx.params);
  for (const { hook, state: scoped } of rules.hooks(state)) hook.afterBlock(scoped, bctx);
  return { fees };
}

/** A rule's error as the block's: which transaction or vote broke it. */
export function indexed(err: unknown, what: 'tx' | 'vote', i: number): unknown {
  if (!(err instanceof ZiError)) return err;
  const at = what === 'tx' ? { txIndex: i } : { voteIndex: i };
  return new ValidationError(err.code, `${what} ${i}: ${err.message}`, { ...err.meta, ...at }, { cause: err });
}
