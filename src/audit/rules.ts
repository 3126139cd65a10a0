import { credit, debit } from '../chain/accounts.ts';
import type { Address } from '../chain/address.ts';
import { decodeExact, equalBytes, toHex, Writer } from '../chain/encoding.ts';
import { ValidationError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import type { StateWriter } from '../chain/state.ts';
import { TX_KINDS } from '../chain/transaction.ts';
import type { BlockContext, BlockHook, ConsensusDomain, TxContext, TxRules, VoteSection } from '../chain/tx-rules.ts';
import { fundPayout, fundPort, fundVoteRules } from './fund-rules.ts';
import { roundVerdict, votePay } from './pay.ts';
import { auditPorts } from './ports.ts';
import {
  type AuditRecord,
  addMinted,
  addPending,
  addToFund,
  dequeueWindow,
  firstWindow,
  getAudit,
  INVALID,
  pendingVerdict,
  putAudit,
  queueWindow,
  ROUND_VOTES,
  removePending,
  STATUS_APPEALING,
  STATUS_FINAL,
  STATUS_INVALID,
  STATUS_OPEN,
  VALID,
} from './state.ts';
import { type AuditVote, checkVotes, decodeVote, encodeVote } from './votes.ts';

export { VOTE_FEE_MCUS } from './pay.ts';

/** Opens the audit of a closed contract whose Validator co-signed payouts (the market calls it through the `audit` port). */
function openAudit(
  state: StateWriter,
  contract: Hash,
  c: { validator: Address; bidder: Address; validationFee: bigint; heldFees: bigint },
  ctx: TxContext,
): void {
  putAudit(state, contract, {
    validator: c.validator,
    bidder: c.bidder,
    validationFee: c.validationFee,
    heldFees: c.heldFees,
    closedHeight: ctx.height,
    round: 1,
    status: STATUS_OPEN,
    verdict: pendingVerdict,
    verdictTime: 0,
    appealPayment: 0n,
    forfeited: 0n,
    votes: [],
  });
  addPending(state, contract);
}

/** Pays each winning vote `each`, minted (audit rounds) or out of the appeal payment. */
function payVoters(state: StateWriter, winners: readonly { voter: Address }[], each: bigint): bigint {
  for (const w of winners) credit(state, w.voter, each);
  return each * BigInt(winners.length);
}

function settle(state: StateWriter, contract: Hash, a: AuditRecord, decided: number, ctx: BlockContext): AuditRecord {
  const { validators, market } = auditPorts(ctx.ports);
  const winners = a.votes.filter((v) => v.round === a.round && v.verdict === decided);
  if (a.round < 3) {
    // Minted only to the verdict's side, never more than the contract paid in validation fees.
    addMinted(state, payVoters(state, winners, votePay(a, a.round)));
    if (decided === VALID) {
      market.settleFees(state, contract, a.validator);
      validators.release(state, contract);
      removePending(state, contract);
      return { ...a, status: STATUS_FINAL, verdict: VALID };
    }
    // Invalid: banned at once; its other open contracts fall back to their Bidders. A closed one
    // under audit keeps its reservation until its own audit ends: else an appeal won here would
    // leave nothing reserved, and the Validator could unstake before that audit judged it.
    validators.setBanned(state, a.validator, true);
    for (const other of validators.reservedFor(state, a.validator)) {
      if (!equalBytes(other, contract) && market.dropValidator(state, other)) validators.release(state, other);
    }
    queueWindow(state, contract);
    return { ...a, status: STATUS_INVALID, verdict: INVALID, verdictTime: ctx.timestamp };
  }
  // An appeal: its voters are paid out of the appeal payment, not minted.
  const rest = a.appealPayment - payVoters(state, winners, votePay(a, 3));
  removePending(state, contract);
  if (decided === VALID) {
    validators.setBanned(state, a.validator, false);
    market.settleFees(state, contract, a.validator);
    validators.release(state, contract);
    credit(state, a.validator, rest);
    return { ...a, status: STATUS_FINAL, verdict: VALID };
  }
  const forfeited = validators.forfeit(state, a.validator);
  addToFund(state, forfeited + rest);
  market.settleFees(state, contract, a.bidder);
  return { ...a, status: STATUS_FINAL, forfeited };
}

export const auditVotes: VoteSection<AuditVote> = {
  decode: (bytes) => decodeVote(bytes),
  encode: encodeVote,
  check: (items) => checkVotes(items),
  apply(state, v, ctx) {
    const a = getAudit(state, v.contract);
    if (!a) throw new ValidationError('NOT_UNDER_AUDIT', `contract ${toHex(v.contract)} is not under audit`);
    if (a.status !== STATUS_OPEN && a.status !== STATUS_APPEALING) {
      throw new ValidationError('AUDIT_CLOSED', 'this audit takes no more votes');
    }
    if (v.round !== a.round) throw new ValidationError('WRONG_ROUND', `the audit is in round ${a.round}`);
    if (ctx.height <= a.closedHeight)
      throw new ValidationError('TOO_EARLY', 'an audit takes votes from the block after the close');
    if (a.votes.some((x) => equalBytes(x.voter, ctx.miner))) {
      throw new ValidationError('ALREADY_VOTED', 'this miner address has voted on this contract');
    }
    let next: AuditRecord = {
      ...a,
      votes: [...a.votes, { voter: ctx.miner, round: v.round, verdict: v.verdict, height: ctx.height }],
    };
    const inRound = next.votes.filter((x) => x.round === next.round);
    if (inRound.length === ROUND_VOTES[next.round]) {
      const decided = roundVerdict(next.round, inRound);
      // A split first round goes to nine fresh votes; every other full round decides.
      next = decided === undefined ? { ...next, round: 2 } : settle(state, v.contract, next, decided, ctx);
    }
    putAudit(state, v.contract, next);
  },
  toJSON: (v) => ({
    contract: toHex(v.contract),
    round: v.round,
    verdict: v.verdict === VALID ? 'valid' : 'invalid',
    ...(v.failingIndex === undefined ? {} : { failingIndex: v.failingIndex }),
  }),
};

/** An Invalid verdict not appealed in time is final: the stake goes to the fund, the fees to the Bidder. */
const finality: BlockHook = {
  afterBlock(state, ctx) {
    for (let id = firstWindow(state); id !== undefined; id = firstWindow(state)) {
      const a = getAudit(state, id)!;
      // Appealed since: the appeal settles it.
      if (a.status === STATUS_INVALID) {
        if (ctx.timestamp < a.verdictTime + ctx.params.appealWindowMs) return;
        finalize(state, id, a, ctx);
      }
      dequeueWindow(state);
    }
  },
};

function finalize(state: StateWriter, id: Hash, a: AuditRecord, ctx: BlockContext): void {
  const { validators, market } = auditPorts(ctx.ports);
  const forfeited = validators.forfeit(state, a.validator);
  addToFund(state, forfeited);
  market.settleFees(state, id, a.bidder);
  putAudit(state, id, { ...a, status: STATUS_FINAL, forfeited });
  removePending(state, id);
}

export interface AppealBody {
  contract: Hash;
  /** The most the Validator agrees to pay; the appeal costs the current R. */
  maxPayment: bigint;
}

/** `appeal` (to 000): the banned Validator asks nine fresh votes to decide again, inside the window, paying R. */
export const appealRules: TxRules<AppealBody> = {
  kind: TX_KINDS.appeal,
  decode: (payload) =>
    decodeExact(payload, 40, 'appeal', (r) => ({
      contract: r.bytes(32, 'appeal.contract'),
      maxPayment: r.u64('appeal.maxPayment'),
    })),
  encode: (b) => new Writer(40).bytes(b.contract).u64(b.maxPayment).finish(),
  spends: (b) => b.maxPayment,
  apply(state, tx, b, ctx) {
    const a = getAudit(state, b.contract);
    // An Invalid verdict never appealed (round 3 is the appeal): in its window, or final since it closed.
    if (!a || a.verdict !== INVALID || a.round === 3 || (a.status !== STATUS_INVALID && a.status !== STATUS_FINAL))
      throw new ValidationError('NOT_APPEALABLE', 'no Invalid verdict to appeal on this contract');
    if (!equalBytes(tx.from, a.validator))
      throw new ValidationError('NOT_VALIDATOR', "only the contract's Validator appeals");
    const closes = a.verdictTime + ctx.params.appealWindowMs;
    if (a.status === STATUS_FINAL || ctx.timestamp >= closes) {
      throw new ValidationError(
        'APPEAL_WINDOW_CLOSED',
        `the appeal window closed at ${new Date(closes).toISOString()} (block time)`,
        { closes },
      );
    }
    const price = auditPorts(ctx.ports).validators.requiredStake(state, ctx.timestamp, ctx.params);
    if (price > b.maxPayment) {
      throw new ValidationError('APPEAL_UNDERPAID', `an appeal costs R = ${price} Li now`, { price });
    }
    debit(state, tx.from, price);
    putAudit(state, b.contract, { ...a, status: STATUS_APPEALING, round: 3, appealPayment: price });
  },
  toJSON: (b) => ({ contract: toHex(b.contract), maxPayment: b.maxPayment }),
};

/** What the audit domain offers the market (its `audit` port). */
export function auditPort(own: (state: StateWriter) => StateWriter) {
  return {
    open: (state: StateWriter, contract: Hash, c: Parameters<typeof openAudit>[2], ctx: TxContext) =>
      openAudit(own(state), contract, c, ctx),
  };
}

/** The audit domain's consensus half, the shared fund's with it (state 0x30–0x3f). */
export const auditConsensus: ConsensusDomain = {
  name: 'audit',
  owns: [0x30, 0x3f],
  rules: [appealRules, fundVoteRules],
  votes: auditVotes as VoteSection,
  // The payout comes after finality, so a stake forfeited in this block counts towards it.
  hooks: [finality, fundPayout],
  ports: (own) => ({ audit: auditPort(own), fund: fundPort(own) }),
};
