import { getAccount } from './accounts.ts';
import { ADDRESS_SIZE, type Address } from './address.ts';
import { decodeExact, joinFixed, splitFixed, Writer } from './encoding.ts';
import type { NetworkParams } from './params.ts';
import type { StateReader, StateWriter } from './state.ts';
import { listAppend, listDrop, listItems, listLength } from './state-list.ts';
import { STATE_ACTIVE_BUCKET, STATE_ACTIVE_BUCKETS, STATE_ACTIVE_COUNT, stateKey } from './store/layout.ts';

/**
 * |active addresses| — the shared fund's threshold (DESIGN.md §6) — kept
 * exactly without ever scanning the accounts. An address is active until its
 * activeTxCount-th latest transaction plus the window (its `activeUntil`);
 * block timestamps only grow, so an address's activeUntil only grows too.
 * Each counted address is listed in the bucket (a 720th of the window) its
 * activeUntil falls in; each block uncounts the addresses of the buckets that
 * ended before it, and `activeCount` checks the bucket the block is in one
 * address at a time. A transaction that moves an address to a later bucket
 * lists it there and leaves a stale entry behind, which the sweep skips.
 * Being state, all of it is undone with the block.
 */

/** When an address with this activity stops being active, or undefined if it has too few transactions. */
export function activeUntil(activity: readonly number[], params: NetworkParams): number | undefined {
  // Length first: a negative index is a slow property lookup, and most accounts hold too few.
  if (activity.length < params.activeTxCount) return undefined;
  const oldest = activity[activity.length - params.activeTxCount];
  return oldest === undefined ? undefined : oldest + params.activeWindowMs;
}

const bucketOf = (until: number, params: NetworkParams): number =>
  Math.floor(until / Math.max(1, Math.floor(params.activeWindowMs / 720)));

const COUNT_KEY = new Uint8Array([STATE_ACTIVE_COUNT]);
const BUCKETS_KEY = new Uint8Array([STATE_ACTIVE_BUCKETS]);
const u64 = (n: number) => new Writer(8).u64(BigInt(n)).finish();
const bucketKey = (b: number) => stateKey(STATE_ACTIVE_BUCKET, u64(b));

interface Counter {
  /** Addresses listed in a bucket not yet swept, each once. */
  counted: number;
  /** Buckets below this one have been swept. */
  swept: number;
}

function getCounter(state: StateReader): Counter {
  const raw = state.get(COUNT_KEY);
  return raw === undefined
    ? { counted: 0, swept: 0 }
    : decodeExact(raw, 12, 'active count', (r) => ({ counted: r.u32(), swept: Number(r.u64()) }));
}

function putCounter(state: StateWriter, c: Counter): void {
  state.put(COUNT_KEY, new Writer(12).u32(c.counted).u64(BigInt(c.swept)).finish());
}

function listed(state: StateReader, bucket: number): Address[] {
  return listItems(state, bucketKey(bucket), ADDRESS_SIZE, 'an active bucket');
}

function buckets(state: StateReader): number[] {
  const raw = state.get(BUCKETS_KEY);
  return raw === undefined
    ? []
    : splitFixed(raw, 8, 'the active buckets').map((b) => Number(new DataView(b.buffer).getBigUint64(0)));
}

function putBuckets(state: StateWriter, list: readonly number[]): void {
  if (list.length === 0) state.del(BUCKETS_KEY);
  else state.put(BUCKETS_KEY, joinFixed(list.map(u64), 8));
}

/** Keeps the count in step with one address's activity going from `before` to `after` (one more transaction). */
export function noteActivity(
  state: StateWriter,
  address: Address,
  before: readonly number[],
  after: readonly number[],
  params: NetworkParams,
): void {
  const was = activeUntil(before, params);
  const now = activeUntil(after, params);
  // Most transactions are by addresses with too few to count: no read of the counter for them.
  if (now === undefined) return;
  const c = getCounter(state);
  const wasCounted = was !== undefined && bucketOf(was, params) >= c.swept;
  const b = bucketOf(now, params);
  const isCounted = b >= c.swept;
  if (isCounted && (!wasCounted || b !== bucketOf(was!, params))) {
    if (listLength(state, bucketKey(b)) === 0) {
      const all = buckets(state);
      putBuckets(
        state,
        [...all, b].sort((x, y) => x - y),
      );
    }
    listAppend(state, bucketKey(b), address, ADDRESS_SIZE);
  }
  if (isCounted !== wasCounted) putCounter(state, { ...c, counted: c.counted + (isCounted ? 1 : -1) });
}

/** Whether the address's activeUntil is in bucket `b` (its entry there is not stale), and when. */
function untilIn(state: StateReader, address: Address, b: number, params: NetworkParams): number | undefined {
  const until = activeUntil(getAccount(state, address).activity, params);
  return until !== undefined && bucketOf(until, params) === b ? until : undefined;
}

/** Uncounts the addresses of every bucket that ended before the block at `timestamp` (run once per block). */
export function sweepActive(state: StateWriter, timestamp: number, params: NetworkParams): void {
  const c = getCounter(state);
  const current = bucketOf(timestamp, params);
  if (current <= c.swept) return;
  const all = buckets(state);
  const done = all.filter((b) => b < current);
  let counted = c.counted;
  for (const b of done) {
    // An address is listed at most once per bucket: only a later bucket lists it again.
    for (const a of listed(state, b)) if (untilIn(state, a, b, params) !== undefined) counted--;
    listDrop(state, bucketKey(b));
  }
  if (done.length > 0) putBuckets(state, all.slice(done.length));
  putCounter(state, { counted, swept: current });
}

/** |active addresses| at block time `timestamp`, from a state swept up to it. */
export function activeCount(state: StateReader, timestamp: number, params: NetworkParams): number {
  const { counted } = getCounter(state);
  const b = bucketOf(timestamp, params);
  let expired = 0;
  for (const a of listed(state, b)) {
    const until = untilIn(state, a, b, params);
    if (until !== undefined && until <= timestamp) expired++;
  }
  return counted - expired;
}
