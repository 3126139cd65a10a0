import type { Block } from './block.ts';
import { targetFromDifficulty } from './difficulty.ts';
import { equalBytes, toHex } from './encoding.ts';
import { ValidationError, ZiError } from './errors.ts';
import { type Hash, hashToBigInt } from './hash.ts';
import type { BlockHeader } from './header.ts';
import { verify } from './keys.ts';
import { txBody } from './ledger.ts';
import type { NetworkParams } from './params.ts';
import type { SignatureVerifier } from './sig-verifier.ts';
import type { Transaction } from './transaction.ts';
import type { TxRulesRegistry } from './tx-rules.ts';

/**
 * Stateless checks (a value on its own) apart from contextual ones (a value
 * against its parent and the clock), as bcoin does: stateless results can be
 * cached and done in any order, contextual ones cannot.
 */

/** Txids whose signature and stateless rules already passed: a block full of mempool txs costs no re-verification. */
export class VerifiedTxCache {
  private readonly ids = new Set<string>();
  private readonly max: number;
  constructor(max = 100_000) {
    this.max = max;
  }

  has(txid: Hash): boolean {
    return this.ids.has(toHex(txid));
  }

  add(txid: Hash): void {
    if (this.ids.size >= this.max) this.ids.delete(this.ids.values().next().value as string);
    this.ids.add(toHex(txid));
  }
}

export interface CheckDeps {
  params: NetworkParams;
  rules: TxRulesRegistry;
  genesis: Hash;
  cache?: VerifiedTxCache;
  verifier?: SignatureVerifier;
}

/** Everything stateless about a transaction except its signature. */
function checkTransactionBody(tx: Transaction, deps: CheckDeps): void {
  const { params, rules } = deps;
  if (tx.size > params.maxTxBytes) {
    throw new ValidationError('TX_TOO_LARGE', `transaction is ${tx.size} bytes, at most ${params.maxTxBytes}`);
  }
  const body = txBody(tx, rules, deps);
  rules.get(tx.kind).check?.(tx, body, params);
}

function badSignature(tx: Transaction): ValidationError {
  return new ValidationError('BAD_SIGNATURE', 'signature does not verify (or is not low-S)', {
    txid: toHex(tx.hash()),
  });
}

export function checkTransaction(tx: Transaction, deps: CheckDeps): void {
  if (deps.cache?.has(tx.hash())) return;
  checkTransactionBody(tx, deps);
  if (!verify(tx.signature, tx.sigHash(deps.genesis), tx.sender)) throw badSignature(tx);
  deps.cache?.add(tx.hash());
}

/** Proof of work against the header's own claimed difficulty. */
export function checkHeader(header: BlockHeader, params: NetworkParams): void {
  if (header.difficulty < params.Dmin * 65536 || header.difficulty > params.Dmax * 65536) {
    throw new ValidationError(
      'BAD_DIFFICULTY',
      `difficulty ${header.difficulty / 65536} is outside the network's range`,
    );
  }
  if (hashToBigInt(header.hash()) >= targetFromDifficulty(header.difficulty)) {
    throw new ValidationError('BAD_POW', 'block hash does not meet its target');
  }
}

export async function checkBlock(block: Block, deps: CheckDeps): Promise<void> {
  checkHeader(block.header, deps.params);
  if (block.size > deps.params.maxBlockBytes) {
    throw new ValidationError('BLOCK_TOO_LARGE', `block is ${block.size} bytes, at most ${deps.params.maxBlockBytes}`);
  }
  if (!equalBytes(block.computeMerkleRoot(), block.header.merkleRoot)) {
    throw new ValidationError('BAD_MERKLE_ROOT', 'merkle root does not match the transactions');
  }
  const seen = new Set<string>();
  const unverified: { tx: Transaction; index: number }[] = [];
  block.txs.forEach((tx, i) => {
    const id = toHex(tx.hash());
    if (seen.has(id)) throw new ValidationError('DUPLICATE_TX', `transaction ${id} appears twice`, { txIndex: i });
    seen.add(id);
    if (deps.cache?.has(tx.hash())) return;
    try {
      checkTransactionBody(tx, deps);
    } catch (err) {
      throw txError(err, i);
    }
    unverified.push({ tx, index: i });
  });
  const items = unverified.map(({ tx }) => ({ sig: tx.signature, msg: tx.sigHash(deps.genesis), pub: tx.sender }));
  const bad = deps.verifier
    ? await deps.verifier.firstInvalid(items)
    : items.findIndex((it) => !verify(it.sig, it.msg, it.pub));
  if (bad !== -1) throw txError(badSignature(unverified[bad]!.tx), unverified[bad]!.index);
  for (const { tx } of unverified) deps.cache?.add(tx.hash());
}

function txError(err: unknown, i: number): unknown {
  if (err instanceof ZiError)
    return new ValidationError(err.code, `tx ${i}: ${err.message}`, { ...err.meta, txIndex: i });
  return err;
}

export interface HeaderContext {
  parentHeight: number;
  parentTimestamp: number;
  /** The difficulty the consensus requires after this parent. */
  expectedDifficulty: number;
  now: number;
}

/** Thrown for a block stamped too far ahead: not invalid, just early (never banned for). */
export class FutureBlockError extends ZiError<'FUTURE_BLOCK', { timestamp: number; now: number }> {}

export function verifyHeaderContext(header: BlockHeader, ctx: HeaderContext, params: NetworkParams): void {
  if (header.height !== ctx.parentHeight + 1) {
    throw new ValidationError(
      'BAD_HEIGHT',
      `height ${header.height} does not follow parent height ${ctx.parentHeight}`,
    );
  }
  const earliest = ctx.parentTimestamp + params.Tsec * 1000;
  if (header.timestamp < earliest) {
    throw new ValidationError('TOO_SOON', `block is ${earliest - header.timestamp} ms earlier than parent + T allows`);
  }
  if (header.timestamp > ctx.now + params.futureLimitMs) {
    throw new FutureBlockError('FUTURE_BLOCK', `block timestamp is ${header.timestamp - ctx.now} ms in the future`, {
      timestamp: header.timestamp,
      now: ctx.now,
    });
  }
  if (header.difficulty !== ctx.expectedDifficulty) {
    throw new ValidationError(
      'WRONG_DIFFICULTY',
      `difficulty ${header.difficulty}, expected ${ctx.expectedDifficulty}`,
    );
  }
}
