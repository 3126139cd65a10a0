import { RESERVED_ADDRESS } from '../chain/address.ts';
import { toHex } from '../chain/encoding.ts';
import type { Log } from '../chain/log.ts';
import { Transaction, TX_KINDS } from '../chain/transaction.ts';
import { transferRules } from '../chain/tx-rules.ts';
import type { PayoutSink, SolverProgress } from './solver.ts';

/**
 * A bootstrap Solver that keeps only its costs (whitepaper §3, DESIGN.md §6):
 * what a paid batch earns above `costPerMcu` × its MCUs is owed to the shared
 * fund, and sent there as a plain transfer to 000 once it is worth the fee.
 */
export function surplusOf(earned: bigint, mcus: number, costPerMcu: bigint): bigint {
  const s = earned - BigInt(mcus) * costPerMcu;
  return s > 0n ? s : 0n;
}

/** A gift waits until it is at least this many times its own fee, so fees do not eat the fund's share. */
export const GIFT_FEE_MULTIPLE = 20n;

export interface SurplusDeps {
  solver: { on(event: 'progress', listener: (p: SolverProgress) => void): unknown };
  mempool: PayoutSink;
  key: Uint8Array;
  address: Uint8Array;
  genesisHash: Uint8Array;
  minFeePerByte: bigint;
  costPerMcu: bigint;
  logger: Log;
}

export class SurplusToFund {
  /** Surplus not yet given (it stays while a gift is refused, e.g. before the payout is mined). */
  owed = 0n;
  given = 0n;
  gifts = 0;
  private earned = 0n;
  private sending?: Promise<void>;
  private readonly d: SurplusDeps;

  constructor(d: SurplusDeps) {
    this.d = d;
    d.solver.on('progress', (p) => {
      this.owed += surplusOf(p.earned - this.earned, p.batch, d.costPerMcu);
      this.earned = p.earned;
      void this.flush();
    });
  }

  private gift(amount: bigint, fee: bigint): Transaction {
    const { key, genesisHash, mempool, address } = this.d;
    const payload = transferRules.encode({ to: RESERVED_ADDRESS, amount });
    return Transaction.sign(
      { kind: TX_KINDS.transfer, nonce: mempool.nextNonce(address), fee, payload },
      key,
      genesisHash,
    );
  }

  /** Sends what is owed, less the gift's own fee, when that is worth it (one gift at a time). */
  flush(): Promise<void> {
    this.sending ??= this.send().finally(() => {
      this.sending = undefined;
    });
    return this.sending;
  }

  private async send(): Promise<void> {
    const fee = BigInt(this.gift(1n, 0n).size) * this.d.minFeePerByte;
    if (this.owed < GIFT_FEE_MULTIPLE * fee) return;
    const amount = this.owed - fee;
    try {
      const tx = this.gift(amount, fee);
      await this.d.mempool.accept(tx);
      this.owed -= amount + fee;
      this.given += amount;
      this.gifts++;
      this.d.logger.info(
        { amount: `${amount} Li`, fee: `${fee} Li`, txid: toHex(tx.hash()) },
        'surplus sent to the shared fund',
      );
    } catch (err) {
      // Kept for the next paid batch: the payout that earned it may not be mined yet.
      this.d.logger.debug({ err: (err as Error).message }, 'surplus gift waits');
    }
  }
}
