import { credit, debit } from '../chain/accounts.ts';
import { type Address, addressOf, RESERVED_ADDRESS } from '../chain/address.ts';
import { decodeExact, equalBytes, Writer } from '../chain/encoding.ts';
import { DecodeError, ValidationError, ZiError } from '../chain/errors.ts';
import { type Hash, sha256 } from '../chain/hash.ts';
import { PUBKEY_SIZE, SIGNATURE_SIZE, sign } from '../chain/keys.ts';
import { Transaction, TX_KINDS } from '../chain/transaction.ts';
import type { TxRules } from '../chain/tx-rules.ts';
import { cidOf } from '../content/cid.ts';
import { checkContractCode, MAX_CONTRACT_CODE_BYTES } from '../sandbox/code.ts';
import { MAX_SAMPLE_RATE } from '../sandbox/sampling.ts';
import { mayAuthorize } from './authorize.ts';
import {
  addOpenProblems,
  type ContractRecord,
  getRefund,
  hasValidator,
  putContract,
  putPaidBatch,
  putRefund,
  requireContract,
  STATUS_CLOSED,
  STATUS_OPEN,
  VALIDATION_BIDDER,
  VALIDATION_DELEGATED,
} from './contract-state.ts';
import { leasesFor } from './leases.ts';
import { PaidRanges } from './paid-ranges.ts';
import { auditPort, validatorPort } from './ports.ts';
import { MAX_PAYOUT_RANGES, type Range, rangeCount, readRanges, writeRanges } from './ranges.ts';

/** A contract must be able to pay for this many MCUs when it opens (whitepaper §3). */
export const MIN_BUDGET_MCUS = 1000n;
export const MAX_GROWTH = 16;
export const MAX_BATCH_LIMIT = 10_000_000;
/** Per mille of each batch recomputed when a contract does not say (DESIGN.md §4 "Sampling"). */
export const DEFAULT_SAMPLE_RATE = 10;

export interface ContractBody {
  code: string;
  /** Li per MCU paid to Solvers. */
  price: bigint;
  budget: bigint;
  /** Per mille of each batch that validation recomputes, 1–1000 (docs/PROTOCOL.md "Sampling"). */
  sampleRate: number;
  /** Each lease is this many times the previous one (1, 2, 4, … by default). */
  growth: number;
  maxBatch: number;
  validation: number;
  /** Li per MCU for the Validator of a delegated contract; 0 for bidder validation. */
  validationFee: bigint;
  /** Sandbox limits the contract declares (bounded by each node's policy). */
  memoryMiB: number;
  timeoutMs: number;
}

export interface TopupBody {
  contract: Hash;
  amount: bigint;
}

export interface PayoutBody {
  contract: Hash;
  ranges: Range[];
  /** Li per MCU the Solver expects: must equal the contract's price. */
  price: bigint;
  /** When the authority signed (ms); informational, as the paper's metadata has it. */
  timestamp: number;
  authority: Uint8Array;
  authoritySig: Uint8Array;
}

export interface CloseBody {
  contract: Hash;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function nonZero(v: bigint, what: string): bigint {
  if (v === 0n) throw new DecodeError('BAD_VALUE', `${what} must be at least 1`, { what });
  return v;
}

/** The record of a contract as its transaction opens it at `height`. */
export function openedRecord(bidder: Address, b: ContractBody, height: number): ContractRecord {
  return {
    bidder,
    price: b.price,
    validationFee: b.validationFee,
    validation: b.validation,
    escrow: b.budget,
    heldFees: 0n,
    paidMcus: 0n,
    status: STATUS_OPEN,
    growth: b.growth,
    maxBatch: b.maxBatch,
    sampleRate: b.sampleRate,
    openedHeight: height,
    closedHeight: 0,
    firstPayoutHeight: 0,
    lastPayoutHeight: 0,
    validator: RESERVED_ADDRESS,
    validatorPayouts: 0,
  };
}

export const contractRules: TxRules<ContractBody> = {
  kind: TX_KINDS.contract,
  decode(payload) {
    return decodeExact(payload, MAX_CONTRACT_CODE_BYTES + 64, 'contract', (r) => {
      const raw = r.varBytes(4, MAX_CONTRACT_CODE_BYTES, 'contract.code');
      let code: string;
      try {
        code = utf8.decode(raw);
      } catch {
        throw new DecodeError('BAD_VALUE', 'contract code is not UTF-8', { what: 'contract.code' });
      }
      const price = nonZero(r.u64('contract.price'), 'contract.price');
      const budget = r.u64('contract.budget');
      const sampleRate = r.u16('contract.sampleRate');
      const growth = r.u8('contract.growth');
      const maxBatch = r.u32('contract.maxBatch');
      const validation = r.u8('contract.validation');
      const validationFee = r.u64('contract.validationFee');
      const memoryMiB = r.u16('contract.memoryMiB');
      const timeoutMs = r.u32('contract.timeoutMs');
      if (sampleRate < 1 || sampleRate > MAX_SAMPLE_RATE) {
        throw new DecodeError('BAD_VALUE', `sampleRate must be 1..${MAX_SAMPLE_RATE} per mille`);
      }
      if (growth < 1 || growth > MAX_GROWTH) throw new DecodeError('BAD_VALUE', `growth must be 1..${MAX_GROWTH}`);
      if (maxBatch < 1 || maxBatch > MAX_BATCH_LIMIT) {
        throw new DecodeError('BAD_VALUE', `maxBatch must be 1..${MAX_BATCH_LIMIT}`);
      }
      if (validation !== VALIDATION_BIDDER && validation !== VALIDATION_DELEGATED) {
        throw new DecodeError('BAD_VALUE', 'validation is 0 (bidder) or 1 (delegated)');
      }
      if ((validation === VALIDATION_BIDDER) !== (validationFee === 0n)) {
        throw new DecodeError('NON_CANONICAL', 'a validation fee goes with delegated validation, and only with it');
      }
      if (memoryMiB < 8 || memoryMiB > 1024) throw new DecodeError('BAD_VALUE', 'memoryMiB must be 8..1024');
      if (timeoutMs < 1 || timeoutMs > 300_000) throw new DecodeError('BAD_VALUE', 'timeoutMs must be 1..300000');
      return { code, price, budget, sampleRate, growth, maxBatch, validation, validationFee, memoryMiB, timeoutMs };
    });
  },
  encode(b) {
    const code = new TextEncoder().encode(b.code);
    return new Writer(code.length + 64)
      .varBytes(code, 4)
      .u64(b.price)
      .u64(b.budget)
      .u16(b.sampleRate)
      .u8(b.growth)
      .u32(b.maxBatch)
      .u8(b.validation)
      .u64(b.validationFee)
      .u16(b.memoryMiB)
      .u32(b.timeoutMs)
      .finish();
  },
  check(_tx, b, params) {
    const minimum = minimumBudget(b, params.minFeePerByte);
    if (b.budget < minimum) {
      throw new ValidationError(
        'BUDGET_TOO_SMALL',
        `budget ${b.budget} Li is below 1,000 MCUs × (price + validation fee) plus their payouts' fees = ${minimum} Li`,
        {
          budget: b.budget,
          minimum,
        },
      );
    }
    // Syntactic only (a pinned parser, no execution): block validity never depends on running code.
    try {
      checkContractCode(b.code);
    } catch (err) {
      if (err instanceof ZiError) throw new ValidationError(err.code, err.message, err.meta, { cause: err });
      throw err;
    }
  },
  spends: (b) => b.budget,
  apply(state, tx, b, ctx) {
    // Assigned after the block (its hash is the key): counted now, so a template knows the limit.
    if (b.validation === VALIDATION_DELEGATED) validatorPort(ctx)?.admit(state, ctx);
    debit(state, tx.from, b.budget);
    putContract(state, tx.hash(), openedRecord(tx.from, b, ctx.height));
    addOpenProblems(state, 1);
  },
  toJSON: (b) => ({
    codeBytes: new TextEncoder().encode(b.code).length,
    price: b.price,
    budget: b.budget,
    sampleRate: b.sampleRate,
    growth: b.growth,
    maxBatch: b.maxBatch,
    validation: b.validation === VALIDATION_DELEGATED ? 'delegated' : 'bidder',
    validationFee: b.validationFee,
    memoryMiB: b.memoryMiB,
    timeoutMs: b.timeoutMs,
  }),
};

function openContract(state: Parameters<TxRules['apply']>[0], id: Hash) {
  const c = requireContract(state, id);
  if (c.status !== STATUS_OPEN) throw new ValidationError('CONTRACT_CLOSED', 'the contract is closed');
  return c;
}

export const topupRules: TxRules<TopupBody> = {
  kind: TX_KINDS.topup,
  decode: (payload) =>
    decodeExact(payload, 40, 'topup', (r) => ({
      contract: r.bytes(32, 'topup.contract'),
      amount: nonZero(r.u64('topup.amount'), 'topup.amount'),
    })),
  encode: (b) => new Writer(40).bytes(b.contract).u64(b.amount).finish(),
  spends: (b) => b.amount,
  apply(state, tx, b, ctx) {
    const c = openContract(state, b.contract);
    // A Validator never vouches for more than it has at stake (DESIGN.md §5).
    if (hasValidator(c)) validatorPort(ctx)?.reserve(state, b.contract, b.amount);
    debit(state, tx.from, b.amount);
    putContract(state, b.contract, { ...c, escrow: c.escrow + b.amount });
  },
  toJSON: (b) => ({ contract: Buffer.from(b.contract).toString('hex'), amount: b.amount }),
};

const PAYOUT_TAG = new TextEncoder().encode('zi/payout/v1');

/**
 * What the contract's authority signs: the Solver (who sends the payout and
 * is paid), the contract, the ranges, the price, the time and the CID of the
 * results. The Solver's own signature and nonce make the transaction; the
 * authority's co-signature makes it a payout (docs/PROTOCOL.md).
 */
export function payoutMessage(p: {
  contract: Hash;
  solver: Address;
  ranges: readonly Range[];
  price: bigint;
  /** The transaction fee, which the contract's escrow pays: the authority agrees to it. */
  fee: bigint;
  timestamp: number;
  cid: Uint8Array;
}): Hash {
  const w = new Writer(128).bytes(PAYOUT_TAG).bytes(p.contract).bytes(p.solver);
  writeRanges(w, p.ranges, 2);
  w.u64(p.price).u64(p.fee).u64(BigInt(p.timestamp)).varBytes(p.cid, 1);
  return sha256(w.finish());
}

export function signPayout(p: Parameters<typeof payoutMessage>[0], authorityKey: Uint8Array): Uint8Array {
  return sign(payoutMessage(p), authorityKey);
}

export const payoutRules: TxRules<PayoutBody> = {
  kind: TX_KINDS.payout,
  decode: (payload) =>
    decodeExact(payload, 32 + 2 + 16 * MAX_PAYOUT_RANGES + 16 + PUBKEY_SIZE + SIGNATURE_SIZE, 'payout', (r) => {
      const contract = r.bytes(32, 'payout.contract');
      const ranges = readRanges(r, 2, MAX_PAYOUT_RANGES, 'payout.ranges');
      if (ranges.length === 0) throw new DecodeError('BAD_VALUE', 'a payout pays for at least one range');
      const price = nonZero(r.u64('payout.price'), 'payout.price');
      const timestamp = r.u64('payout.timestamp');
      if (timestamp > BigInt(Number.MAX_SAFE_INTEGER))
        throw new DecodeError('BAD_VALUE', 'payout timestamp out of range');
      const authority = r.bytes(PUBKEY_SIZE, 'payout.authority');
      const authoritySig = r.bytes(SIGNATURE_SIZE, 'payout.authoritySig');
      return { contract, ranges, price, timestamp: Number(timestamp), authority, authoritySig };
    }),
  encode(b) {
    const w = new Writer(256).bytes(b.contract);
    writeRanges(w, b.ranges, 2);
    return w.u64(b.price).u64(BigInt(b.timestamp)).bytes(b.authority).bytes(b.authoritySig).finish();
  },
  check(tx) {
    if (tx.cid === undefined) throw new ValidationError('MISSING_CID', 'a payout names the CID of its results');
  },
  signatures: (tx, b) => [
    {
      sig: b.authoritySig,
      msg: payoutMessage({ ...b, solver: tx.from, fee: tx.fee, cid: tx.cid! }),
      pub: b.authority,
      code: 'BAD_AUTHORITY_SIGNATURE',
      message: "the contract authority's signature does not verify",
    },
  ],
  spends: () => 0n,
  apply(state, tx, b, ctx) {
    const c = openContract(state, b.contract);
    if (!mayAuthorize(c, addressOf(b.authority)))
      throw new ValidationError('NOT_AUTHORITY', "the payout is not signed by the contract's authority");
    if (b.price !== c.price)
      throw new ValidationError('WRONG_PRICE', `price ${b.price} Li, the contract pays ${c.price} Li`);
    // Only the trie nodes this payout's ranges fall in are read and written
    // (paid-ranges.ts): a contract fragmented into many ranges costs each
    // later payout the trie's depth, not a rewrite of the whole set.
    const paid = PaidRanges.open(state, b.contract);
    if (!b.ranges.every((r) => paid.isFree(r)))
      throw new ValidationError('RANGE_ALREADY_PAID', 'a range of this payout is already paid');
    const mcus = BigInt(rangeCount(b.ranges));
    const pay = mcus * c.price;
    // No Validator, no validation fee (DESIGN.md §5).
    const held = hasValidator(c) ? mcus * c.validationFee : 0n;
    const byValidator = hasValidator(c) && equalBytes(addressOf(b.authority), c.validator);
    const needed = pay + held + tx.fee;
    if (needed > c.escrow) {
      throw new ValidationError(
        'ESCROW_EXHAUSTED',
        `payout needs ${needed} Li with its fee, escrow holds ${c.escrow} Li`,
        {
          needed,
          escrow: c.escrow,
        },
      );
    }
    putContract(state, b.contract, {
      ...c,
      escrow: c.escrow - pay - held - tx.fee,
      heldFees: c.heldFees + held,
      paidMcus: c.paidMcus + mcus,
      firstPayoutHeight: c.firstPayoutHeight || ctx.height,
      lastPayoutHeight: ctx.height,
      validatorPayouts: c.validatorPayouts + (byValidator ? 1 : 0),
    });
    paid.add(b.ranges);
    paid.save(state);
    for (const r of b.ranges) putPaidBatch(state, b.contract, { ...r, cid: tx.cid!, byValidator });
    credit(state, tx.from, pay);
  },
  // The Bidder pays its payouts' fees from escrow (checked with the payout above),
  // so a Solver with no coins can be paid for a single MCU.
  payFee() {},
  toJSON: (b, format) => ({
    contract: Buffer.from(b.contract).toString('hex'),
    ranges: b.ranges.map((r) => [r.start, r.end]),
    mcus: rangeCount(b.ranges),
    price: b.price,
    signedAt: new Date(b.timestamp).toISOString(),
    authority: format(addressOf(b.authority)),
  }),
};

/**
 * The fee a payout pays: the minimum relay fee, minFeePerByte × its size.
 * Every field but the ranges and the CID is fixed-width, so zeros stand in for
 * the rest (the fee's own value, the signatures, the nonce).
 */
export function payoutFee(minFeePerByte: bigint, p: { ranges: readonly Range[]; cid: Uint8Array }): bigint {
  const zeros = (n: number) => new Uint8Array(n);
  const payload = payoutRules.encode({
    contract: zeros(32),
    ranges: [...p.ranges],
    price: 0n,
    timestamp: 0,
    authority: zeros(PUBKEY_SIZE),
    authoritySig: zeros(SIGNATURE_SIZE),
  });
  const tx = Transaction.create({
    kind: TX_KINDS.payout,
    sender: zeros(PUBKEY_SIZE),
    nonce: 0n,
    fee: 0n,
    cid: p.cid,
    payload,
    signature: zeros(SIGNATURE_SIZE),
  });
  return minFeePerByte * BigInt(tx.size);
}

/** A batch's results are addressed by a CIDv1 of their SHA-256; every such CID has this length. */
const RESULTS_CID = cidOf(new Uint8Array(0)).bytes;

/** The fee of one batch's payout (one range, a results CID): every such payout has the same size. */
export function batchPayoutFee(minFeePerByte: bigint): bigint {
  return payoutFee(minFeePerByte, { ranges: [{ start: 0, end: 1 }], cid: RESULTS_CID });
}

/**
 * What a contract must hold when it opens (whitepaper §3): its first 1,000
 * MCUs at price + validation fee, and "the transaction fees", the fees of the
 * payouts (one range each) that pay those MCUs to one Solver on the lease
 * schedule 1, g, g², … up to the maximum batch.
 */
export function minimumBudget(
  b: Pick<ContractBody, 'price' | 'validationFee' | 'growth' | 'maxBatch'>,
  minFeePerByte: bigint,
): bigint {
  const payouts = BigInt(leasesFor(Number(MIN_BUDGET_MCUS), b.growth, b.maxBatch));
  const fee = batchPayoutFee(minFeePerByte);
  return MIN_BUDGET_MCUS * (b.price + b.validationFee) + payouts * fee;
}

export const closeRules: TxRules<CloseBody> = {
  kind: TX_KINDS.close,
  decode: (payload) => decodeExact(payload, 32, 'close', (r) => ({ contract: r.bytes(32, 'close.contract') })),
  encode: (b) => new Writer(32).bytes(b.contract).finish(),
  spends: () => 0n,
  apply(state, tx, b, ctx) {
    const c = openContract(state, b.contract);
    if (!equalBytes(tx.from, c.bidder)) throw new ValidationError('NOT_BIDDER', 'only the Bidder closes its contract');
    // Unused escrow returns. What a Validator signed goes to audit (DESIGN.md §6),
    // its validation fees held until the verdict; with nothing it signed, the
    // contract settles now: the held fees (of payouts a since-banned Validator
    // signed) go back with the escrow, and any reservation is released.
    const audited = hasValidator(c) && c.validatorPayouts > 0;
    const back = audited ? c.escrow : c.escrow + c.heldFees;
    credit(state, c.bidder, back);
    putRefund(state, b.contract, back);
    const closed = {
      ...c,
      escrow: 0n,
      heldFees: audited ? c.heldFees : 0n,
      status: STATUS_CLOSED,
      closedHeight: ctx.height,
    };
    putContract(state, b.contract, closed);
    addOpenProblems(state, -1);
    if (audited) auditPort(ctx)?.open(state, b.contract, closed, ctx);
    else if (hasValidator(c)) validatorPort(ctx)?.release(state, b.contract);
  },
  toJSON: (b, _format, state) => {
    const refund = state && getRefund(state, b.contract);
    return { contract: Buffer.from(b.contract).toString('hex'), ...(refund === undefined ? {} : { refund }) };
  },
};
