import { LowWorkBlockError, OrphanBlockError } from '../chain/chain.ts';
import { FutureBlockError } from '../chain/checks.ts';
import { DecodeError, ValidationError, ZiError } from '../chain/errors.ts';
import { MempoolError } from '../chain/mempool.ts';
import { SandboxError } from '../sandbox/errors.ts';

/** Misconduct seen on the wire that is not a chain rule: framing, limits, manners. */
export class PeerError extends ZiError<
  | 'MALFORMED'
  | 'OVERSIZED'
  | 'UNEXPECTED'
  | 'OUT_OF_ORDER'
  | 'WRONG_GENESIS'
  | 'RATE_LIMITED'
  | 'TIMEOUT'
  | 'BAD_RESPONSE'
  | 'BANNED'
> {}

/** gossipsub's three answers: forward, drop quietly, drop and blame the sender. */
export type Verdict = 'accept' | 'ignore' | 'reject';

export interface Judgement {
  verdict: Verdict;
  /** Points added to the peer's misconduct score; BAN_SCORE bans. */
  penalty: number;
  /** Stable code for logs and peer info. */
  reason: string;
}

/** A peer whose score reaches this is disconnected and banned. */
export const BAN_SCORE = 100;

/** Transaction errors that no honest relay can produce: they do not depend on our state. */
const TX_FAULTS = new Set(['BAD_SIGNATURE', 'TX_TOO_LARGE']);

/** libp2p's stream and length-prefix errors, by name (they are not exported as classes everywhere). */
const FRAMING_FAULTS = new Set([
  'InvalidDataLengthError',
  'InvalidDataLengthLengthError',
  'InvalidMessageLengthError',
  'StreamBufferError',
]);

/**
 * Mempool refusals an honest relay seldom causes (it checked the same rules
 * on its own view): each costs a point or two, so only floods add up.
 * NONCE_USED, ALREADY_KNOWN and MEMPOOL_FULL follow from blocks and timing
 * alone and stay free.
 */
const MEMPOOL_PENALTIES: Partial<Record<MempoolError['code'], number>> = {
  FEE_TOO_LOW: 2,
  NONCE_GAP: 1,
  REPLACEMENT_UNDERPRICED: 1,
  TOO_MANY_PENDING: 1,
};

/** Points for a block stamped too far ahead of our clock: never a ban alone, 100 of them are. */
const FUTURE_BLOCK_PENALTY = 1;
/**
 * Points for an unrequested block on a chain more than RACE_BLOCKS behind
 * our tip, unless it is an honest partition's (see judge).
 */
const LOW_WORK_PENALTY = 2;
/**
 * How far behind our tip, in our newest blocks' work, a relayer's own best
 * chain may be and still count as an honest partition: a miner on its own
 * fork for minutes of devnet blocks or hours of mainnet ones. Further back
 * (a chain forked at genesis at the lowest difficulty) it is a flood.
 */
export const PARTITION_BLOCKS = 144;

/** What judge needs to know of a block's relayer and of our chain. */
export interface RelayContext {
  /** The chainwork the peer last told us its best chain has (its status), if it did. */
  peerWork?: bigint;
  /** Our main chain's work PARTITION_BLOCKS below the tip. */
  partitionWork: bigint;
}

/**
 * The one place that decides what an error costs the peer it came from.
 * `what` says where it arose: a gossiped block or tx, or a sync request or
 * response. The rule: bad data that cannot depend on our own view (decoding,
 * proof of work, signatures, consensus rules of a block) bans at once;
 * data that may just be early or late (a future block, an unknown parent, a
 * nonce gap, a chain with less work) costs a little, so one slip never
 * bans but a flood adds up (Bitcoin Core scores unconnecting headers the same way).
 */
export function judge(err: unknown, what: 'block' | 'tx' | 'request' | 'response', relay?: RelayContext): Judgement {
  if (err instanceof FutureBlockError) return { verdict: 'ignore', penalty: FUTURE_BLOCK_PENALTY, reason: err.code };
  // Free: a block whose parent we lack is what an honest miner sends after
  // every race it won (we kept the block we saw first). A relayer that
  // cannot serve the ancestors is judged when we ask for them (sync.ts: UNEXPECTED).
  if (err instanceof OrphanBlockError) return { verdict: 'ignore', penalty: 0, reason: err.code };
  if (err instanceof LowWorkBlockError) {
    // A peer relaying the tip of its own best chain, not far behind ours (a
    // partition, a miner on its own fork), is honest: it has not seen our
    // chain yet, and will follow it once it has.
    const partition =
      relay?.peerWork !== undefined && err.meta.work >= relay.peerWork && err.meta.work >= relay.partitionWork;
    const penalty = err.code === 'LOW_WORK' && !partition ? LOW_WORK_PENALTY : 0;
    return { verdict: 'ignore', penalty, reason: err.code };
  }
  if (err instanceof MempoolError) {
    return { verdict: 'ignore', penalty: MEMPOOL_PENALTIES[err.code] ?? 0, reason: err.code };
  }
  if (err instanceof DecodeError) return { verdict: 'reject', penalty: BAN_SCORE, reason: `DECODE_${err.code}` };
  if (err instanceof ValidationError) {
    if (what === 'tx' && !TX_FAULTS.has(err.code)) return { verdict: 'ignore', penalty: 5, reason: err.code };
    return { verdict: 'reject', penalty: BAN_SCORE, reason: err.code };
  }
  if (err instanceof PeerError) {
    const penalty =
      err.code === 'RATE_LIMITED'
        ? 2
        : err.code === 'TIMEOUT'
          ? 5
          : err.code === 'UNEXPECTED' || err.code === 'OUT_OF_ORDER'
            ? 20
            : BAN_SCORE;
    return { verdict: penalty >= BAN_SCORE ? 'reject' : 'ignore', penalty, reason: err.code };
  }
  if (err instanceof SandboxError) {
    // Contract code at admission that hangs, bloats or kills its sandbox
    // costs us a process: a few such from one peer add up to a ban.
    const costly = err.code === 'TIMEOUT' || err.code === 'MEMORY_LIMIT' || err.code === 'CRASHED';
    return { verdict: 'ignore', penalty: costly ? 10 : 5, reason: `SANDBOX_${err.code}` };
  }
  if (err instanceof ZiError) {
    // A peer past its sandbox-time budget for contract admission (node
    // policy, which p2p may not import): known by its code.
    if (err.code === 'ADMISSION_BUDGET') return { verdict: 'ignore', penalty: 2, reason: err.code };
    // Any other typed error is ours (store, shutdown): the peer is not to blame.
    return { verdict: 'ignore', penalty: 0, reason: err.code };
  }
  const name = (err as { name?: string } | undefined)?.name ?? '';
  const message = (err as { message?: string } | undefined)?.message ?? '';
  if (FRAMING_FAULTS.has(name) || message.startsWith('Read buffer overflow')) {
    return { verdict: 'reject', penalty: BAN_SCORE, reason: 'OVERSIZED' };
  }
  if (name === 'TimeoutError' || name === 'AbortError') return { verdict: 'ignore', penalty: 5, reason: 'TIMEOUT' };
  if (name === 'UnexpectedEOFError') return { verdict: 'ignore', penalty: 2, reason: 'EOF' };
  return { verdict: 'ignore', penalty: 0, reason: name || 'ERROR' };
}

export interface BanEntry {
  peer: string;
  until: number;
  reason: string;
}

export interface PeerBookOptions {
  /** How long a ban lasts. */
  banMs?: number;
  /** Misconduct points halve over this time, so rare slips never add up to a ban. */
  halfLifeMs?: number;
  /** Bans kept at most; the one ending soonest goes first. */
  maxBans?: number;
  clock?: () => number;
}

/** Misconduct scores and the ban list, keyed by peer id (many honest peers may share one IP). */
export class PeerBook {
  private readonly scores = new Map<string, { points: number; at: number }>();
  private readonly banned = new Map<string, BanEntry>();
  readonly banMs: number;
  private readonly halfLifeMs: number;
  private readonly maxBans: number;
  private readonly clock: () => number;

  constructor(opts: PeerBookOptions = {}) {
    this.banMs = opts.banMs ?? 60 * 60 * 1000;
    this.halfLifeMs = opts.halfLifeMs ?? 10 * 60 * 1000;
    this.maxBans = opts.maxBans ?? 10_000;
    this.clock = opts.clock ?? Date.now;
  }

  score(peer: string): number {
    const s = this.scores.get(peer);
    if (s === undefined) return 0;
    return s.points * 0.5 ** ((this.clock() - s.at) / this.halfLifeMs);
  }

  /** Adds points; returns true when this pushed the peer over the ban line. */
  penalize(peer: string, points: number, reason: string): boolean {
    if (points <= 0) return false;
    const now = this.clock();
    const total = this.score(peer) + points;
    this.scores.set(peer, { points: total, at: now });
    // Rounded, so five 20-point breaches in a row ban although the first ones decayed a hair meanwhile.
    if (Math.round(total) < BAN_SCORE || this.isBanned(peer)) return false;
    this.ban(peer, reason);
    return true;
  }

  ban(peer: string, reason: string, ms = this.banMs): void {
    if (this.banned.size >= this.maxBans && !this.banned.has(peer)) {
      let first: BanEntry | undefined;
      for (const b of this.banned.values()) if (!first || b.until < first.until) first = b;
      if (first) this.banned.delete(first.peer);
    }
    this.banned.set(peer, { peer, until: this.clock() + ms, reason });
  }

  isBanned(peer: string): boolean {
    const b = this.banned.get(peer);
    if (b === undefined) return false;
    if (b.until > this.clock()) return true;
    // Served its time: back with a clean slate.
    this.banned.delete(peer);
    this.scores.delete(peer);
    return false;
  }

  unban(peer: string): boolean {
    this.scores.delete(peer);
    return this.banned.delete(peer);
  }

  bans(): BanEntry[] {
    return [...this.banned.keys()].filter((p) => this.isBanned(p)).map((p) => ({ ...this.banned.get(p)! }));
  }

  forget(peer: string): void {
    if (!this.banned.has(peer) && this.score(peer) < 1) this.scores.delete(peer);
  }
}
