import { Transaction, TX_KINDS } from '../../src/chain/transaction.ts';
import {
  type ContractBody,
  closeRules,
  contractRules,
  payoutRules,
  signPayout,
  topupRules,
} from '../../src/market/contract-tx.ts';
import type { Range } from '../../src/market/ranges.ts';
import type { Keypair } from './chain.ts';

export const SQUARE_CODE = `
const size = 1000000;
function input(i) { return i; }
function mcu(x) { return x * x; }
`;

export function contractBody(overrides: Partial<ContractBody> = {}): ContractBody {
  return {
    code: SQUARE_CODE,
    price: 1_000n,
    budget: 2_000_000n,
    sampleRate: 10,
    growth: 2,
    maxBatch: 64,
    validation: 0,
    validationFee: 0n,
    memoryMiB: 64,
    timeoutMs: 5_000,
    ...overrides,
  };
}

export function postContract(
  bidder: Keypair,
  nonce: bigint,
  genesis: Uint8Array,
  body = contractBody(),
  fee = 100_000n,
) {
  return Transaction.sign(
    { kind: TX_KINDS.contract, nonce, fee, payload: contractRules.encode(body) },
    bidder.priv,
    genesis,
  );
}

export function topup(from: Keypair, contract: Uint8Array, amount: bigint, nonce: bigint, genesis: Uint8Array) {
  return Transaction.sign(
    { kind: TX_KINDS.topup, nonce, fee: 1_000n, payload: topupRules.encode({ contract, amount }) },
    from.priv,
    genesis,
  );
}

export function closeContract(from: Keypair, contract: Uint8Array, nonce: bigint, genesis: Uint8Array) {
  return Transaction.sign(
    { kind: TX_KINDS.close, nonce, fee: 1_000n, payload: closeRules.encode({ contract }) },
    from.priv,
    genesis,
  );
}

/** A payout sent by the Solver and co-signed by `authority`. */
export function payout(
  solver: Keypair,
  authority: Keypair,
  contract: Uint8Array,
  ranges: Range[],
  nonce: bigint,
  genesis: Uint8Array,
  opts: { price?: bigint; cid?: Uint8Array; timestamp?: number; fee?: bigint } = {},
) {
  const price = opts.price ?? 1_000n;
  const cid = opts.cid ?? new Uint8Array([1, 0x55, 0x12, 0x20, ...new Uint8Array(32).fill(7)]);
  const timestamp = opts.timestamp ?? 1_800_000_000_000;
  const fee = opts.fee ?? 1_000n;
  const authoritySig = signPayout(
    { contract, solver: solver.address, ranges, price, fee, timestamp, cid },
    authority.priv,
  );
  return Transaction.sign(
    {
      kind: TX_KINDS.payout,
      nonce,
      fee,
      cid,
      payload: payoutRules.encode({ contract, ranges, price, timestamp, authority: authority.pub, authoritySig }),
    },
    solver.priv,
    genesis,
  );
}
