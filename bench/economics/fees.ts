// Minimum fees of the transactions the attacks send, priced the way the
// wallet prices them (minFeePerByte × the signed size), from real
// transactions built with the node's own encoders.
import { addressOf } from '../../src/chain/address.ts';
import { sha256 } from '../../src/chain/hash.ts';
import { publicKeyOf } from '../../src/chain/keys.ts';
import type { NetworkParams } from '../../src/chain/params.ts';
import { Transaction, TX_KINDS } from '../../src/chain/transaction.ts';
import { transferRules } from '../../src/chain/tx-rules.ts';
import { cidOf } from '../../src/content/cid.ts';
import { VALIDATION_DELEGATED } from '../../src/market/contract-state.ts';
import { closeRules, contractRules, DEFAULT_SAMPLE_RATE, payoutFee } from '../../src/market/contract-tx.ts';

const KEY = sha256(new TextEncoder().encode('zi/econ/key'));
const GENESIS = new Uint8Array(32);

/** The smallest useful contract: what a re-rolling or self-dealing Bidder posts. */
export const MINIMAL_CODE = 'const size = null;\nfunction input(i) { return i; }\nfunction mcu(x) { return x; }\n';

function minFee(params: NetworkParams, kind: number, payload: Uint8Array): bigint {
  const tx = Transaction.sign({ kind, nonce: 0n, fee: 0n, payload }, KEY, GENESIS);
  return params.minFeePerByte * BigInt(tx.size);
}

export function transferFee(params: NetworkParams): bigint {
  return minFee(params, TX_KINDS.transfer, transferRules.encode({ to: addressOf(publicKeyOf(KEY)), amount: 1n }));
}

export function delegatedContractFee(params: NetworkParams): bigint {
  const payload = contractRules.encode({
    code: MINIMAL_CODE,
    price: 11n,
    budget: 1n << 40n,
    sampleRate: DEFAULT_SAMPLE_RATE,
    growth: 2,
    maxBatch: 1_048_576,
    validation: VALIDATION_DELEGATED,
    validationFee: 1n,
    memoryMiB: 128,
    timeoutMs: 10_000,
  });
  return minFee(params, TX_KINDS.contract, payload);
}

export function closeFee(params: NetworkParams): bigint {
  return minFee(params, TX_KINDS.close, closeRules.encode({ contract: new Uint8Array(32) }));
}

/** One payout of a single range of MCUs, as a Solver submits it (results addressed by a CIDv1). */
export function singlePayoutFee(params: NetworkParams, mcus: number): bigint {
  return payoutFee(params.minFeePerByte, { ranges: [{ start: 0, end: mcus }], cid: cidOf(new Uint8Array(0)).bytes });
}
