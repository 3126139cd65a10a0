import type { Address } from '../../src/chain/address.ts';
import { voteId } from '../../src/chain/block.ts';
import { decodeExact, type Reader, toHex, Writer } from '../../src/chain/encoding.ts';
import { DecodeError, ValidationError } from '../../src/chain/errors.ts';
import type { StateReader } from '../../src/chain/state.ts';
import { dbKey, u32be } from '../../src/chain/store/layout.ts';
import { type ConsensusDomain, coreRules, type TxRulesRegistry } from '../../src/chain/tx-rules.ts';
import type { NodeDomain } from '../../src/node/domain.ts';

/**
 * FAKE, test-only votes section, on a prefix no domain owns. It exercises
 * the core's votes section apart from the audit domain's real one, so that reorg, kill -9 and sync tests cover blocks that
 * hold votes. A vote is 1–64 bytes; one starting 0xff is refused (BAD_VOTE),
 * the same vote twice in a block is DUPLICATE_VOTE. Applying a vote records
 * its block height and miner under 0x7f ‖ vote id; a hook records what it was
 * told of each block under 0x7e ‖ height, so tests see both undone on a reorg.
 */
const VOTE_RECORD = 0x7f;
const HOOK_RECORD = 0x7e;

export const fakeVotes: ConsensusDomain = {
  name: 'fake-votes',
  owns: [0x70, 0x7f],
  votes: {
    decode(bytes) {
      if (bytes.length > 64) throw new DecodeError('TOO_LARGE', 'a fake vote is at most 64 bytes');
      return bytes;
    },
    encode: (item) => item as Uint8Array,
    check(items) {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        const v = item as Uint8Array;
        if (v[0] === 0xff)
          throw new ValidationError('BAD_VOTE', 'the fake section refuses this vote', { voteIndex: i });
        if (seen.has(toHex(v))) throw new ValidationError('DUPLICATE_VOTE', 'a vote appears twice', { voteIndex: i });
        seen.add(toHex(v));
      });
    },
    apply(state, item, ctx) {
      const key = dbKey(VOTE_RECORD, voteId(item as Uint8Array));
      if (state.get(key)) throw new ValidationError('VOTED_BEFORE', 'this vote is already on the chain');
      state.put(key, new Writer(24).u32(ctx.height).bytes(ctx.miner).finish());
    },
    toJSON: (item) => ({ vote: toHex(item as Uint8Array) }),
  },
  hooks: [
    {
      afterBlock(state, ctx) {
        const w = new Writer(64).bytes(ctx.hash).u64(BigInt(ctx.timestamp)).bytes(ctx.miner);
        state.put(dbKey(HOOK_RECORD, u32be(ctx.height)), w.u16(ctx.block.votes.length).finish());
      },
    },
  ],
};

/** The vote a fake-voting miner puts in the block at `height`. */
export const voteFor = (height: number, miner: Address): Uint8Array =>
  new Writer(24).bytes(new TextEncoder().encode('v')).u32(height).bytes(miner).finish();

/** A node domain that mines one fake vote into every block. */
export const fakeVotingDomain: NodeDomain<never> = {
  name: 'fake-votes',
  consensus: fakeVotes,
  start: async () => ({ votes: (at) => [voteFor(at.height, at.miner)], stop: async () => {} }),
};

export function votesRules(): TxRulesRegistry {
  return coreRules({ guardWrites: true }).registerDomain(fakeVotes);
}

/** Where a vote was applied, if it is on the chain. */
export function voteRecord(state: StateReader, vote: Uint8Array): { height: number; miner: string } | undefined {
  const raw = state.get(dbKey(VOTE_RECORD, voteId(vote)));
  if (!raw) return undefined;
  return decodeExact(raw, 24, 'vote record', (r: Reader) => ({ height: r.u32(), miner: toHex(r.bytes(20)) }));
}

/** What the hook was told of the block at a height. */
export function hookRecord(
  state: StateReader,
  height: number,
): { hash: string; timestamp: number; miner: string; votes: number } | undefined {
  const raw = state.get(dbKey(HOOK_RECORD, u32be(height)));
  if (!raw) return undefined;
  return decodeExact(raw, 64, 'hook record', (r: Reader) => ({
    hash: toHex(r.bytes(32)),
    timestamp: Number(r.u64()),
    miner: toHex(r.bytes(20)),
    votes: r.u16(),
  }));
}
