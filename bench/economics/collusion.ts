// Validator–Solver collusion. Part 1 runs the validator domain's own rules
// (assignment, reservation, topups: src/validator/rules.ts) for a corrupt
// Validator that signs away every Li it may: Bidders' loss never passes its
// stake. Part 2 asks whether that bound deters: a Validator that fakes a
// fraction of each contract's batches, acquitted, is freed to do it again.
import type { Address } from '../../src/chain/address.ts';
import { equalBytes } from '../../src/chain/encoding.ts';
import { ZiError } from '../../src/chain/errors.ts';
import type { Hash } from '../../src/chain/hash.ts';
import { LI_PER_ZI, NETWORKS } from '../../src/chain/params.ts';
import type { BlockContext } from '../../src/chain/tx-rules.ts';
import { type ValidatorPort, validatorConsensus } from '../../src/validator/rules.ts';
import { addValidator, putStake } from '../../src/validator/state.ts';
import { atLeast, choose, runAppeal, runAudit, unanimousThenNine, type Verdict } from './audit-model.ts';
import { MemoryState } from './memory-state.ts';
import { Rng } from './random.ts';
import { fixed, table, whole, zi } from './table.ts';

export interface CollusionOptions {
  stakes: readonly number[];
  contracts: number;
  batches: number;
  faked: readonly number[];
  shares: readonly number[];
  trials: number;
  seed: string;
}

export const COLLUSION_DOC: CollusionOptions = {
  stakes: [100, 1000, 10_000],
  contracts: 3000,
  batches: 100,
  faked: [1, 10, 50, 100],
  shares: [0, 0.3],
  trials: 20_000,
  seed: 'collusion',
};

const params = NETWORKS.mainnet;
const HONEST = 9;

export interface ReservationRow {
  stake: bigint;
  offered: number;
  assigned: number;
  topups: number;
  refused: number;
  signedAway: bigint;
  worstRatio: number;
}

function reservation(stakeZi: number, o: CollusionOptions): ReservationRow {
  const rng = new Rng(`${o.seed}/reserve/${stakeZi}`);
  const state = new MemoryState();
  const port = validatorConsensus.ports!((s) => s).validator as ValidatorPort;
  const corrupt: Address = new Uint8Array(20).fill(0xcc);
  const addresses: Address[] = [corrupt];
  const stake = BigInt(stakeZi) * LI_PER_ZI;
  putStake(state, corrupt, {
    amount: stake,
    reserved: 0n,
    txid: rng.bytes32(),
    height: 1,
    position: 0,
    contracts: 0,
    flags: 0,
  });
  for (let i = 0; i < HONEST; i++) {
    const a = Uint8Array.of(...new Uint8Array(19), i + 1);
    addresses.push(a);
    const amount = BigInt(100 + rng.int(9900)) * LI_PER_ZI;
    putStake(state, a, {
      amount,
      reserved: 0n,
      txid: rng.bytes32(),
      height: 1,
      position: i + 1,
      contracts: 0,
      flags: 0,
    });
  }
  for (const a of addresses) addValidator(state, a);
  const honestOpen: { id: Hash; until: number }[] = [];
  let assigned = 0;
  let topups = 0;
  let refused = 0;
  let signedAway = 0n;
  let worst = 0;
  for (let c = 0; c < o.contracts; c++) {
    const height = 1000 + Math.floor(c / 3);
    for (let i = honestOpen.length - 1; i >= 0; i--) {
      if (honestOpen[i]!.until <= height) {
        port.release(state, honestOpen[i]!.id);
        honestOpen.splice(i, 1);
      }
    }
    // assign reads only these of the block's context (the key needs its hash).
    const ctx = {
      params,
      height,
      timestamp: params.genesisTimestamp + height * 60_000,
      position: 0,
      hash: rng.bytes32(),
    } as BlockContext;
    const id = rng.bytes32();
    const budget = BigInt(Math.ceil(10 ** (3 * rng.next()))) * LI_PER_ZI;
    const who = port.assign(state, id, budget, ctx);
    if (!who) continue;
    if (!equalBytes(who, corrupt)) {
      honestOpen.push({ id, until: height + 1 + rng.int(200) });
      continue;
    }
    // The corrupt Validator signs its accomplice's bogus payouts for the whole escrow, and
    // for every topup the Bidder manages to add; its contracts stay reserved (under audit).
    assigned++;
    signedAway += budget;
    while (rng.chance(0.5)) {
      topups++;
      const more = BigInt(1 + rng.int(2 * Number(budget / LI_PER_ZI))) * LI_PER_ZI;
      try {
        port.reserve(state, id, more);
        signedAway += more;
      } catch (err) {
        if (!(err instanceof ZiError) || err.code !== 'STAKE_EXCEEDED') throw err;
        refused++;
      }
    }
    worst = Math.max(worst, Number(signedAway) / Number(stake));
  }
  return { stake, offered: o.contracts, assigned, topups, refused, signedAway, worstRatio: worst };
}

export interface DeterrenceRow {
  share: number;
  faked: number;
  q: number;
  designExact: number;
  designMc: number;
  /** Bidders' expected loss before the Validator is convicted for good, in stakes. */
  designLoss: number;
  evidenceExact: number;
  evidenceLoss: number;
}

/** P(an honest auditor's 3 batches, drawn uniformly from n, include one of the m faked). */
export function detection(n: number, m: number): number {
  return 1 - choose(n - m, 3) / choose(n, 3);
}

function deterrence(share: number, m: number, o: CollusionOptions): DeterrenceRow {
  const n = o.batches;
  const q = detection(n, m);
  const a = (1 - share) * q;
  // Found guilty, then the appeal (9 new votes, majority) upholds it.
  const designExact = unanimousThenNine(a) * atLeast(9, 5, a);
  // Proposed: an Invalid vote names a failing index; every later honest voter re-runs that one index.
  const evidenceExact = unanimousThenNine(a, 1 - share) * atLeast(9, 5, 1 - share);
  const rng = new Rng(`${o.seed}/deter/${share}/${m}`);
  const auditor = (): Verdict => {
    if (rng.chance(share)) return 'valid';
    const seen = new Set<number>();
    while (seen.size < 3) seen.add(rng.int(n));
    return [...seen].some((b) => b < m) ? 'invalid' : 'valid';
  };
  let convicted = 0;
  for (let t = 0; t < o.trials; t++) {
    if (runAudit(auditor).verdict === 'invalid' && runAppeal(auditor) === 'invalid') convicted++;
  }
  const f = m / n;
  return {
    share,
    faked: f,
    q,
    designExact,
    designMc: convicted / o.trials,
    designLoss: f / designExact,
    evidenceExact,
    evidenceLoss: f / evidenceExact,
  };
}

export function collusion(o: CollusionOptions): {
  reservations: ReservationRow[];
  deterrence: DeterrenceRow[];
  text: string;
} {
  const reservations = o.stakes.map((s) => reservation(s, o));
  const deter = o.shares.flatMap((p) => o.faked.map((m) => deterrence(p, m, o)));
  const loss = (x: number) => (x >= 1000 ? '> 1,000×' : `${x.toFixed(2)}×`);
  const text = [
    `Part 1: the real assignment and reservation rules; 1 corrupt and ${HONEST} honest Validators (100–10,000 Zi), ${whole(o.contracts)} delegated contracts of 1–1,000 Zi, 3 a block; the corrupt Validator signs away every contract it gets and every topup it is allowed; its reservations are never released (its audits pending), honest ones are after 1–200 blocks. Seed "${o.seed}".`,
    '',
    table(
      [
        'corrupt stake',
        'contracts it got',
        'topups tried',
        'refused STAKE_EXCEEDED',
        'signed away',
        '÷ stake, worst moment',
      ],
      reservations.map((r) => [
        `${zi(r.stake, 0)} Zi`,
        whole(r.assigned),
        whole(r.topups),
        whole(r.refused),
        `${zi(r.signedAway, 0)} Zi`,
        fixed(r.worstRatio),
      ]),
    ),
    '',
    `Part 2: each contract in ${o.batches} equal batches, of which the Validator fakes a fraction; an honest auditor checks 3 batches drawn uniformly (DESIGN.md §6) and catches a fake batch it draws; the colluding miners (the share) vote Valid. "Convicted" = found Invalid and upheld on appeal; Monte Carlo ${whole(o.trials)} audits a row. Bidders' expected loss = what the Validator signs away per acquittal × the expected number of audits until conviction, in units of its stake.`,
    '',
    table(
      [
        'colluding share',
        'batches faked',
        'auditor catches',
        'convicted: design (exact)',
        '(MC)',
        "Bidders' loss ÷ stake",
        'convicted: proposed evidence rule (exact)',
        "Bidders' loss ÷ stake",
      ],
      deter.map((r) => [
        `${Math.round(r.share * 100)} %`,
        `${Math.round(r.faked * 100)} %`,
        fixed(r.q),
        fixed(r.designExact),
        fixed(r.designMc),
        loss(r.designLoss),
        fixed(r.evidenceExact),
        loss(r.evidenceLoss),
      ]),
    ),
  ].join('\n');
  return { reservations, deterrence: deter, text };
}
