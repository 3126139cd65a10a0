import type { Block } from './block.ts';
import { targetFromDifficulty } from './difficulty.ts';
import { equalBytes, keyId, toHex } from './encoding.ts';
import { ValidationError, ZiError } from './errors.ts';
import { type Hash, hashToBigInt } from './hash.ts';
import type { BlockHeader } from './header.ts';
import { verify } from './keys.ts';
import { blockVotes, indexed, txBody } from './ledger.ts';
import type { NetworkParams } from './params.ts';
import { signedMessage } from './sig-jobs.ts';
import { type SigBatch, type SigItem, SignatureVerifier } from './sig-verifier.ts';
import type { Transaction } from './transaction.ts';
import type { ExtraSignature, TxRulesRegistry } from './tx-rules.ts';

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
    return this.ids.has(keyId(txid));
  }

  add(txid: Hash): void {
    if (this.ids.size >= this.max) this.ids.delete(this.ids.values().next().value as string);
    this.ids.add(keyId(txid));
  }
}

export interface CheckDeps {
  params: NetworkParams;
  rules: TxRulesRegistry;
  genesis: Hash;
  cache?: VerifiedTxCache;
  verifier?: SignatureVerifier;
}

/** The earliest timestamp a child of a block stamped `parentTimestamp` may carry. */
export function earliestChildTime(parentTimestamp: number, params: NetworkParams): number {
  return parentTimestamp + params.Tsec * 1000;
}

/** A signature to verify; `extra` names a kind's own (whose failure has its own code), else it is the envelope's. */
interface Signature extends SigItem {
  extra?: ExtraSignature;
}

function signatureError(tx: Transaction, s: Signature): ValidationError {
  const txid = toHex(tx.hash());
  if (s.extra) return new ValidationError(s.extra.code, s.extra.message, { txid });
  return new ValidationError('BAD_SIGNATURE', 'signature does not verify (or is not low-S)', { txid });
}

/**
 * Everything stateless about a transaction except its signatures, which it
 * adds to `out`: the envelope's and any its kind adds, so that a block
 * verifies all of them as one batch.
 */
function checkTransactionBody(tx: Transaction, deps: CheckDeps, out: Signature[]): void {
  const { params, rules } = deps;
  if (tx.size > params.maxTxBytes) {
    throw new ValidationError('TX_TOO_LARGE', `transaction is ${tx.size} bytes, at most ${params.maxTxBytes}`);
  }
  const body = txBody(tx, rules, deps);
  const kind = rules.get(tx.kind);
  kind.check?.(tx, body, params);
  out.push({ sig: tx.signature, msg: tx.unsignedBytes(), pub: tx.sender, sighash: true });
  if (kind.signatures) for (const extra of kind.signatures(tx, body)) out.push({ ...extra, extra });
}

export function checkTransaction(tx: Transaction, deps: CheckDeps): void {
  if (deps.cache?.has(tx.hash())) return;
  const sigs: Signature[] = [];
  checkTransactionBody(tx, deps, sigs);
  for (const s of sigs) {
    if (!verify(s.sig, signedMessage(s, deps.genesis), s.pub)) throw signatureError(tx, s);
  }
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

/** Signatures that go to the verifier's threads before the rest of a block's are laid out. */
const FIRST_BATCH_SIGS = 128;

/** A block whose stateless checks passed but for its signatures, which are being verified meanwhile. */
export interface BlockCheck {
  /** Resolves when every signature verifies; else throws the first bad one's error. */
  finish(): Promise<void>;
}

/**
 * The stateless checks of a block. Everything but the signatures is checked
 * before this returns (throwing ValidationError); the signatures, all of the
 * block's as one batch, are verified on the verifier's threads while the
 * caller goes on (chain.ts applies the block meanwhile), until `finish`.
 */
export function startBlockCheck(block: Block, deps: CheckDeps): BlockCheck {
  checkHeader(block.header, deps.params);
  if (block.size > deps.params.maxBlockBytes) {
    throw new ValidationError('BLOCK_TOO_LARGE', `block is ${block.size} bytes, at most ${deps.params.maxBlockBytes}`);
  }
  const unverified: Transaction[] = [];
  const sigs: Signature[] = [];
  /** The index in the block of each signature's transaction. */
  const owner: number[] = [];
  const verifier = deps.verifier ?? inlineVerifier();
  /** Signatures being verified, each batch from its first index in `sigs`. */
  const batches: { batch: SigBatch; from: number }[] = [];
  let sent = 0;
  const send = () => {
    batches.push({ batch: verifier.begin(sigs.slice(sent), deps.genesis), from: sent });
    sent = sigs.length;
  };
  try {
    block.txs.forEach((tx, i) => {
      if (deps.cache?.has(tx.hash())) return;
      try {
        checkTransactionBody(tx, deps, sigs);
      } catch (err) {
        throw indexed(err, 'tx', i);
      }
      while (owner.length < sigs.length) owner.push(i);
      unverified.push(tx);
      // The threads start on the first signatures while this thread lays out the rest.
      if (sent === 0 && sigs.length >= FIRST_BATCH_SIGS) send();
    });
    const votes = blockVotes(block, deps.rules, deps);
    if (votes.length > 0) deps.rules.voteRules!.check?.(votes, block, deps.params);
    if (sigs.length > sent) send();
    // The rest of the checks run beside the signatures.
    if (!equalBytes(block.computeMerkleRoot(), block.header.merkleRoot)) {
      throw new ValidationError('BAD_MERKLE_ROOT', 'merkle root does not match the transactions and votes');
    }
    const seen = new Set<string>();
    block.txs.forEach((tx, i) => {
      const id = keyId(tx.hash());
      if (seen.has(id)) {
        throw new ValidationError('DUPLICATE_TX', `transaction ${toHex(tx.hash())} appears twice`, { txIndex: i });
      }
      seen.add(id);
    });
  } catch (err) {
    for (const b of batches) b.batch.abort();
    throw err;
  }
  return {
    async finish() {
      for (const [k, { batch, from }] of batches.entries()) {
        const bad = await batch.finish();
        if (bad === -1) continue;
        for (const later of batches.slice(k + 1)) later.batch.abort();
        const i = owner[from + bad]!;
        throw indexed(signatureError(block.txs[i]!, sigs[from + bad]!), 'tx', i);
      }
      // Remembered after the block is through: nothing on its path reads them (a reorg that returns them to the pool does).
      const cache = deps.cache;
      if (cache && unverified.length > 0) {
        setImmediate(() => {
          for (const tx of unverified) cache.add(tx.hash());
        });
      }
    },
  };
}

export async function checkBlock(block: Block, deps: CheckDeps): Promise<void> {
  await startBlockCheck(block, deps).finish();
}

/** Where no verifier is given: every signature on this thread (made on first use: it warns if libsecp256k1 is missing). */
let inline: SignatureVerifier | undefined;
const inlineVerifier = (): SignatureVerifier => (inline ??= new SignatureVerifier(0));

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
  const earliest = earliestChildTime(ctx.parentTimestamp, params);
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
