import { credit, debit } from '../chain/accounts.ts';
import { isActive } from '../chain/activity.ts';
import type { Address } from '../chain/address.ts';
import { formatZi } from '../chain/amount.ts';
import { decodeExact, Writer } from '../chain/encoding.ts';
import { DecodeError, ValidationError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import type { NetworkParams } from '../chain/params.ts';
import type { StateReader, StateWriter } from '../chain/state.ts';
import { TX_KINDS } from '../chain/transaction.ts';
import type { BlockContext, ConsensusDomain, TxContext, TxRules } from '../chain/tx-rules.ts';
import {
  assignmentKey,
  assignmentsFit,
  assignmentsPerBlock,
  type Candidate,
  chooseValidator,
  requiredStake,
  windowDays,
} from './assignment.ts';
import {
  addReservedFor,
  addValidator,
  countDelegated,
  countOpened,
  dayOf,
  delegatedOnDay,
  FLAG_BANNED,
  getReservation,
  getStake,
  listValidators,
  openedIn,
  putReservation,
  putStake,
  removeReservedFor,
  removeValidator,
  reservedFor,
  validatorCount,
} from './state.ts';

export interface StakeBody {
  amount: bigint;
}

/** Delegated contracts opened in the activity window ending at `now` (counted per UTC day of block time). */
export function delegatedInWindow(state: StateReader, now: number, params: NetworkParams): number {
  const today = dayOf(now);
  let n = 0;
  for (let d = today - windowDays(params) + 1; d <= today; d++) n += delegatedOnDay(state, d);
  return n;
}

/** R at block time `now`. */
export function stakeRequirement(state: StateReader, now: number, params: NetworkParams): bigint {
  return requiredStake(delegatedInWindow(state, now, params), params);
}

/**
 * `stake` (to 000): makes the sender a Validator, or adds to its stake. The
 * sender must be active (DESIGN.md §3), and the stake it then holds at least
 * R. The Li is held in the stake record, not in any account.
 */
export const stakeRules: TxRules<StakeBody> = {
  kind: TX_KINDS.stake,
  decode: (payload) =>
    decodeExact(payload, 8, 'stake', (r) => {
      const amount = r.u64('stake.amount');
      if (amount === 0n) throw new DecodeError('BAD_VALUE', 'a stake is at least 1 Li', { what: 'stake.amount' });
      return { amount };
    }),
  encode: (b) => new Writer(8).u64(b.amount).finish(),
  spends: (b) => b.amount,
  apply(state, tx, b, ctx) {
    if (!isActive(state, tx.from, ctx.timestamp, ctx.params)) {
      throw new ValidationError(
        'NOT_ACTIVE',
        `a Validator's address must be active: party to ${ctx.params.activeTxCount} transactions in the last ${windowDays(ctx.params)} days`,
      );
    }
    const held = getStake(state, tx.from);
    if (held && held.flags & FLAG_BANNED) throw new ValidationError('BANNED', 'a banned Validator cannot stake');
    const required = stakeRequirement(state, ctx.timestamp, ctx.params);
    const amount = (held?.amount ?? 0n) + b.amount;
    if (amount < required) {
      throw new ValidationError(
        'STAKE_TOO_SMALL',
        `a stake must be at least R = ${formatZi(required)} Zi, this makes ${formatZi(amount)} Zi`,
        {
          required,
          amount,
        },
      );
    }
    if (!held) {
      // The block's delegated contracts each weigh every Validator, this one too.
      const opened = openedIn(state, ctx.height);
      const validators = validatorCount(state);
      if (!assignmentsFit(opened, validators + 1, ctx.params)) {
        throw new ValidationError(
          'ASSIGNMENTS_FULL',
          `this block opens ${opened} delegated contracts, as many as ${validators} Validators allow: a new Validator stakes in the next block`,
          { opened },
        );
      }
    }
    debit(state, tx.from, b.amount);
    if (held) {
      putStake(state, tx.from, { ...held, amount });
      return;
    }
    putStake(state, tx.from, {
      amount,
      reserved: 0n,
      txid: tx.hash(),
      height: ctx.height,
      position: ctx.position,
      contracts: 0,
      flags: 0,
    });
    addValidator(state, tx.from);
  },
  toJSON: (b) => ({ amount: b.amount }),
};

/** `unstake` (kind 9): the whole stake back, when nothing is reserved (STAKE_LOCKED otherwise). */
export const unstakeRules: TxRules<Record<string, never>> = {
  kind: TX_KINDS.unstake,
  decode: (payload) => decodeExact(payload, 0, 'unstake', () => ({})),
  encode: () => new Uint8Array(0),
  spends: () => 0n,
  apply(state, tx) {
    const held = getStake(state, tx.from);
    if (!held) throw new ValidationError('NO_STAKE', 'this address holds no stake');
    if (held.reserved > 0n || held.contracts > 0) {
      throw new ValidationError(
        'STAKE_LOCKED',
        `${formatZi(held.reserved)} Zi is reserved for ${held.contracts} ${held.contracts === 1 ? 'contract' : 'contracts'}: each is released once the contract is closed and its audit ends (zi validator status lists them; an audit needs three miners' votes)`,
        {
          reserved: held.reserved,
        },
      );
    }
    if (held.flags & FLAG_BANNED)
      throw new ValidationError('STAKE_LOCKED', 'a banned stake is held until its appeal window closes');
    putStake(state, tx.from, undefined);
    removeValidator(state, tx.from);
    credit(state, tx.from, held.amount);
  },
  toJSON: () => ({}),
};

/**
 * What the validator domain offers the market (its `validator` port): who
 * validates a delegated contract, and the reservations that keep a
 * Validator from signing away more than it has at stake.
 */
export interface ValidatorPort {
  /** A delegated contract opened by a transaction of the block at `ctx.height`: ASSIGNMENTS_FULL past the block's limit. */
  admit(state: StateWriter, ctx: TxContext): void;
  /** Picks the Validator of a delegated contract opened in `ctx.block` and reserves `budget` of its stake. */
  assign(state: StateWriter, contract: Hash, budget: bigint, ctx: BlockContext): Address | undefined;
  /** Reserves more for an assigned contract (a topup): STAKE_EXCEEDED when the free stake does not cover it. */
  reserve(state: StateWriter, contract: Hash, amount: bigint): void;
  /** Frees a contract's reservation. */
  release(state: StateWriter, contract: Hash): void;
  /** R at block time `now`. */
  requiredStake(state: StateReader, now: number, params: NetworkParams): bigint;
  /** The Validator a contract's stake is reserved with, if any. */
  reservationOf(state: StateReader, contract: Hash): Address | undefined;
  /** The contracts a Validator's stake is reserved for. */
  reservedFor(state: StateReader, validator: Address): Hash[];
  /** An Invalid verdict bans at once (no new assignments, no unstake); an appeal won lifts it. */
  setBanned(state: StateWriter, validator: Address, banned: boolean): void;
  /** The stake leaves the Validator for good (a lost appeal, or its window closed): returns the Li. */
  forfeit(state: StateWriter, validator: Address): bigint;
}

function validatorPort(own: (state: StateWriter) => StateWriter): ValidatorPort {
  const port: ValidatorPort = {
    admit(outer, ctx) {
      const state = own(outer);
      const validators = validatorCount(state);
      const allowed = assignmentsPerBlock(validators, ctx.params);
      if (!assignmentsFit(openedIn(state, ctx.height) + 1, validators, ctx.params)) {
        throw new ValidationError(
          'ASSIGNMENTS_FULL',
          `a block opens at most ${allowed} delegated ${allowed === 1 ? 'contract' : 'contracts'} among ${validators} Validators, and this one has them: post it again after the next block`,
          { allowed },
        );
      }
      countOpened(state, ctx.height);
    },
    assign(outer, contract, budget, ctx) {
      const state = own(outer);
      countDelegated(state, ctx.timestamp);
      const candidates: Candidate[] = listValidators(state).map((address) => ({
        address,
        stake: getStake(state, address)!,
      }));
      const key = assignmentKey(ctx.hash, contract);
      const chosen = chooseValidator(candidates, key, budget, ctx.height, ctx.params);
      if (!chosen) return undefined;
      const s = chosen.stake;
      putStake(state, chosen.address, { ...s, reserved: s.reserved + budget, contracts: s.contracts + 1 });
      putReservation(state, contract, { validator: chosen.address, amount: budget });
      addReservedFor(state, chosen.address, contract);
      return chosen.address;
    },
    reserve(outer, contract, amount) {
      const state = own(outer);
      const r = getReservation(state, contract);
      if (!r) return;
      const s = getStake(state, r.validator)!;
      const free = s.amount - s.reserved;
      if (free < amount) {
        throw new ValidationError(
          'STAKE_EXCEEDED',
          `the Validator's free stake is ${free} Li, the topup needs ${amount} Li`,
          {
            free,
            needed: amount,
          },
        );
      }
      putStake(state, r.validator, { ...s, reserved: s.reserved + amount });
      putReservation(state, contract, { ...r, amount: r.amount + amount });
    },
    release(outer, contract) {
      const state = own(outer);
      const r = getReservation(state, contract);
      if (!r) return;
      const s = getStake(state, r.validator)!;
      putStake(state, r.validator, { ...s, reserved: s.reserved - r.amount, contracts: s.contracts - 1 });
      putReservation(state, contract, undefined);
      removeReservedFor(state, r.validator, contract);
    },
    requiredStake: (state, now, params) => stakeRequirement(state, now, params),
    reservationOf: (state, contract) => getReservation(state, contract)?.validator,
    reservedFor: (state, validator) => reservedFor(state, validator),
    setBanned(outer, validator, banned) {
      const state = own(outer);
      const s = getStake(state, validator);
      if (!s) return;
      putStake(state, validator, { ...s, flags: banned ? s.flags | FLAG_BANNED : s.flags & ~FLAG_BANNED });
    },
    forfeit(outer, validator) {
      const state = own(outer);
      const s = getStake(state, validator);
      if (!s) return 0n;
      // Last first: each release then takes the set's last member, and moves no other.
      for (const id of reservedFor(state, validator).reverse()) port.release(state, id);
      putStake(state, validator, undefined);
      removeValidator(state, validator);
      return s.amount;
    },
  };
  return port;
}

/** The validator domain's consensus half (state 0x20–0x2f). */
export const validatorConsensus: ConsensusDomain = {
  name: 'validator',
  owns: [0x20, 0x2f],
  rules: [stakeRules, unstakeRules],
  ports: (own) => ({ validator: validatorPort(own) }),
};
