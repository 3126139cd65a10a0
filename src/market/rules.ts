import { TX_KINDS } from '../chain/transaction.ts';
import type { BlockHook, ConsensusDomain } from '../chain/tx-rules.ts';
import { getContract, putContract, STATUS_OPEN, VALIDATION_DELEGATED } from './contract-state.ts';
import { closeRules, contractRules, payoutRules, topupRules } from './contract-tx.ts';
import { marketPort, validatorPort } from './ports.ts';

/**
 * A delegated contract gets its Validator once its block is known: the
 * assignment key needs the block's hash (DESIGN.md §5), which no
 * transaction rule can see. The validator domain picks it and reserves the
 * budget; the market records who it is.
 */
const assignValidators: BlockHook = {
  afterBlock(state, ctx) {
    const validators = validatorPort(ctx);
    if (!validators) return;
    for (const tx of ctx.block.txs) {
      if (tx.kind !== TX_KINDS.contract) continue;
      const id = tx.hash();
      const c = getContract(state, id);
      if (!c || c.validation !== VALIDATION_DELEGATED || c.status !== STATUS_OPEN) continue;
      const validator = validators.assign(state, id, c.escrow, ctx);
      if (validator) putContract(state, id, { ...c, validator });
    }
  },
};

/** The market's consensus rules: contract, topup, payout, close, over the state prefix it owns (layout.ts). */
export const marketConsensus: ConsensusDomain = {
  name: 'market',
  owns: [0x10, 0x1f],
  rules: [contractRules, topupRules, payoutRules, closeRules],
  hooks: [assignValidators],
  ports: (own) => ({ market: marketPort(own) }),
};
