import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Block } from '../../src/chain/block.ts';
import { checkHeader, earliestChildTime } from '../../src/chain/checks.ts';
import { toHex, Writer } from '../../src/chain/encoding.ts';
import type { BlockHeader } from '../../src/chain/header.ts';
import type { Log } from '../../src/chain/log.ts';
import { STATUS_INVALID } from '../../src/chain/store/chaindb.ts';
import { Transaction, TX_KINDS } from '../../src/chain/transaction.ts';
import { encodeBlockFrame, encodeHeaders, encodeStatus, REQUEST } from '../../src/p2p/messages.ts';
import { localStatus } from '../../src/p2p/status.ts';
import { openTestChain, startTestNode, until } from '../p2p/net.ts';
import { devnet, keypair, ManualClock, mineMany, transfer } from '../support/chain.ts';
import { votesRules } from '../support/votes.ts';
import { blockOn, gossipRaw, gossipTo, names, rawPeer, sleep, type Tip, tipOf } from './support.ts';

/**
 * Bitcoin Core's feature_block, for Zi: one table of bad blocks, each sent
 * to one node by one peer over gossip and then over sync, with the reasons
 * the node logs for that peer (judge()'s codes, in order) and whether it bans.
 * The RPC has no block submission (docs/RPC.md), so there is no third path.
 */

/** The reasons the node logs for the sender, in order, and whether the last one bans it. */
interface Outcome {
  codes: string[];
  ban: boolean;
}
const ban = (code: string): Outcome => ({ codes: [code], ban: true });
const costs = (...codes: string[]): Outcome => ({ codes, ban: false });

interface Made {
  bytes: Uint8Array;
  header: BlockHeader;
}

interface Ctx {
  tip: Tip;
  /** The chain's tip's parent. */
  parent: Tip;
  genesis: Tip;
  /** Differs per path, so the two runs send different blocks. */
  miner: Uint8Array;
  /** Blocks made by earlier rows of this run, by row name. */
  made: Map<string, Block>;
  now: number;
}

interface Row {
  name: string;
  make(c: Ctx): Made | Block;
  gossip: Outcome;
  /** When sync differs from gossip. */
  sync?: Outcome;
}

const rich = keypair();
const genesisHash = () => tc.chain.genesisHash;
let tc: Awaited<ReturnType<typeof openTestChain>>;

const pay = (nonce: bigint, amount = 1_000n) => transfer(rich, keypair().address, amount, nonce, genesisHash());

function withBadPow(b: Block): Block {
  for (let n = 1n; ; n++) {
    const header = b.header.withNonce(b.header.nonce + n);
    try {
      checkHeader(header, devnet);
    } catch {
      return Block.create(header, b.txs, b.votes);
    }
  }
}

/** A block whose encoded bytes break the format: what `patch` makes of an ordinary block's. */
function patched(b: Block, patch: (bytes: Buffer) => Uint8Array): Made {
  return { bytes: patch(Buffer.from(b.toBytes())), header: b.header };
}

const DOUBLE_SPEND = 'double spend: one nonce twice';

const ROWS: Row[] = [
  { name: 'proof of work not met', make: (c) => withBadPow(blockOn(c.tip, c)), gossip: ban('BAD_POW') },
  {
    name: 'difficulty below the network minimum',
    make: (c) => blockOn(c.tip, { ...c, difficulty: devnet.Dmin * 65536 - 1 }),
    gossip: ban('BAD_DIFFICULTY'),
  },
  {
    name: 'difficulty above what the chain requires',
    make: (c) => blockOn(c.tip, { ...c, difficulty: (devnet.Dmin + 1) * 65536 }),
    gossip: ban('WRONG_DIFFICULTY'),
  },
  {
    name: 'height that does not follow its parent',
    make: (c) => blockOn({ ...c.tip, height: c.tip.height + 1 }, c),
    gossip: ban('BAD_HEIGHT'),
  },
  {
    name: 'stamped earlier than parent + T',
    make: (c) => blockOn(c.tip, { ...c, timestamp: earliestChildTime(c.tip.timestamp, devnet) - 1 }),
    gossip: ban('TOO_SOON'),
  },
  {
    name: 'stamped beyond the future limit',
    make: (c) => blockOn(c.tip, { ...c, timestamp: c.now + devnet.futureLimitMs + 60_000 }),
    gossip: costs('FUTURE_BLOCK'),
    // Its header is held back until the clock catches up: its body is never asked for.
    sync: costs(),
  },
  {
    name: 'merkle root that does not match',
    make: (c) => Block.create(blockOn(c.tip, { ...c, txs: [pay(0n)] }).header, [pay(0n, 2_000n)]),
    gossip: ban('BAD_MERKLE_ROOT'),
  },
  {
    name: 'transaction with a bad signature',
    make: (c) => blockOn(c.tip, { ...c, txs: [Transaction.create({ ...pay(0n), signature: randomBytes(64) })] }),
    gossip: ban('BAD_SIGNATURE'),
  },
  {
    name: 'the same transaction twice',
    make: (c) => {
      const tx = pay(0n);
      return blockOn(c.tip, { ...c, txs: [tx, tx] });
    },
    gossip: ban('DUPLICATE_TX'),
  },
  { name: DOUBLE_SPEND, make: (c) => blockOn(c.tip, { ...c, txs: [pay(0n), pay(0n)] }), gossip: ban('NONCE_USED') },
  {
    name: 'built on a block found invalid',
    make: (c) => blockOn(tipOf(c.made.get(DOUBLE_SPEND)!), c),
    gossip: ban('INVALID_PARENT'),
  },
  {
    name: 'spends more than the sender holds',
    make: (c) => blockOn(c.tip, { ...c, txs: [pay(0n, 10n ** 18n)] }),
    gossip: ban('INSUFFICIENT_FUNDS'),
  },
  {
    name: 'transaction of a kind not active here',
    make: (c) => {
      const stake = Transaction.sign(
        { kind: TX_KINDS.stake, nonce: 0n, fee: 1_000n, payload: new Uint8Array(8) },
        rich.priv,
        genesisHash(),
      );
      return blockOn(c.tip, { ...c, txs: [stake] });
    },
    gossip: ban('KIND_NOT_ACTIVE'),
  },
  {
    name: 'transaction of an unknown kind',
    make: (c) => {
      const tx = pay(0n);
      return patched(blockOn(c.tip, { ...c, txs: [tx] }), (bytes) => {
        bytes[bytes.indexOf(Buffer.from(tx.toBytes())) + 1] = 0xee;
        return bytes;
      });
    },
    gossip: ban('DECODE_UNKNOWN_KIND'),
  },
  {
    name: 'larger than a block may be',
    make: (c) => {
      const votes = Array.from({ length: Math.ceil(devnet.maxBlockBytes / 1024) }, () => new Uint8Array(1022));
      return blockOn(c.tip, { ...c, votes });
    },
    gossip: ban('DECODE_TOO_LARGE'),
    // Over the sync protocol's frame limit: refused from its length prefix.
    sync: ban('OVERSIZED'),
  },
  {
    name: 'votes section: an empty vote',
    make: (c) =>
      patched(blockOn(c.tip, c), (bytes) => {
        // No transactions, then two votes: an empty one and one of two bytes.
        const votes = new Writer(8).u16(2).u16(0).u16(2).u16(0x0102).finish();
        return Buffer.concat([bytes.subarray(0, bytes.length - 2), votes]);
      }),
    gossip: ban('DECODE_BAD_VALUE'),
  },
  {
    name: 'votes section: a vote its section cannot decode',
    make: (c) => blockOn(c.tip, { ...c, votes: [new Uint8Array(65).fill(1)] }),
    gossip: ban('TOO_LARGE'),
  },
  {
    name: 'votes section: a vote its section refuses',
    make: (c) => blockOn(c.tip, { ...c, votes: [Uint8Array.from([0xff, 1])] }),
    gossip: ban('BAD_VOTE'),
  },
  {
    name: 'parent unknown, ancestors not served',
    make: (c) => blockOn({ ...c.tip, hash: randomBytes(32) }, c),
    gossip: costs('UNKNOWN_PARENT', 'UNEXPECTED'),
    sync: ban('BAD_RESPONSE'),
  },
  { name: 'forked at genesis, far behind', make: (c) => blockOn(c.genesis, c), gossip: costs('LOW_WORK') },
  { name: 'a sibling of the tip (a race)', make: (c) => blockOn(c.parent, c), gossip: costs('NOT_AHEAD') },
];

/** A logger that keeps the node's misconduct lines. */
function misconductLog(): Log & { lines: { peer: string; reason: string }[] } {
  const lines: { peer: string; reason: string }[] = [];
  const keep = (obj: object, msg?: string) => {
    const o = obj as { peer?: string; reason?: string };
    // Free refusals named after a libp2p error class are a stream torn down
    // between rows (ConnectionClosedError), not a verdict on a block.
    const teardown = msg === 'peer message ignored' && /Error$/.test(o.reason ?? '');
    if ((msg === 'peer penalized' || msg === 'peer banned' || msg === 'peer message ignored') && !teardown) {
      lines.push({ peer: o.peer!, reason: o.reason! });
    }
  };
  return { lines, info: () => {}, warn: keep, debug: keep };
}

test('one table of bad blocks through gossip and sync: each gets its code and its verdict', async (t) => {
  const clock = new ManualClock();
  tc = await openTestChain(t, clock, votesRules());
  const main = await mineMany(tc, 8, rich.address);
  const log = misconductLog();
  const target = await startTestNode(tc, {
    logger: log,
    statusIntervalMs: 200,
    sync: { cooldownMs: 0, bodyRetryMs: 0 },
  });

  let current: { made: Made; claim: boolean; served?: boolean } | undefined;
  let headersServed = 0;
  const attacker = await rawPeer(t, target, (req) => {
    const status = localStatus(tc.chain);
    if (req[0] === REQUEST.status) {
      if (!current?.claim || current.served) return encodeStatus(status);
      // More work than ours: the node follows it with headers first.
      const claim = { ...status, tip: current.made.header.hash(), height: status.height + 1 };
      return encodeStatus({ ...claim, chainwork: status.chainwork * 2n });
    }
    if (req[0] === REQUEST.getHeaders) {
      headersServed++;
      // Once: the node comes back for more while it still believes the claim, and each
      // refusal would be logged again (a peer that keeps claiming keeps paying).
      if (!current?.claim || current.served) return encodeHeaders([]);
      current.served = true;
      return encodeHeaders([current.made.header]);
    }
    if (req[0] === REQUEST.getBlocks && current) {
      return [new Writer(2).u16(1).finish(), encodeBlockFrame(current.made.bytes)];
    }
    return encodeStatus(status);
  });
  const id = attacker.peerId.toString();
  const addr = target.net.host.getMultiaddrs()[0]!;
  await until('status exchanged', () => target.net.peers().some((p) => p.id === id && p.ready));
  await attacker.hangUp(target.net.host.peerId);
  await until('the target saw it leave', () => target.net.peers().every((p) => p.id !== id));
  const tipBefore = toHex(tc.chain.tip.hash);

  const table: string[] = [];
  for (const path of ['gossip', 'sync'] as const) {
    const made = new Map<string, Block>();
    const ctx = (): Ctx => ({
      tip: tipOf(main.at(-1)!),
      parent: tipOf(main.at(-2)!),
      genesis: { hash: tc.chain.genesisHash, height: 0, timestamp: devnet.genesisTimestamp },
      miner: new Uint8Array(20).fill(path === 'gossip' ? 0xa1 : 0xa2),
      made,
      now: clock.now,
    });
    for (const row of ROWS) {
      const want = (path === 'sync' && row.sync) || row.gossip;
      const out = row.make(ctx());
      const m: Made = out instanceof Block ? { bytes: out.toBytes(), header: out.header } : out;
      if (out instanceof Block) made.set(row.name, out);
      const at = log.lines.length;
      const served = headersServed;
      current = { made: m, claim: path === 'sync' };
      await attacker.dial(addr);
      if (path === 'gossip') {
        await until(`${row.name}: status exchanged`, () => target.net.peers().some((p) => p.id === id && p.ready));
        const send = m.bytes.length > 4 << 20 ? gossipRaw : gossipTo;
        await send(attacker, target, names.blocks, m.bytes);
      }

      const got = () => log.lines.slice(at).filter((l) => l.peer === id);
      if (want.codes.length > 0) {
        await until(`${row.name} (${path}): ${want.codes.join(', ')}`, () => got().length >= want.codes.length, 10_000);
      } else {
        await until(`${row.name} (${path}): headers asked`, () => headersServed > served, 10_000);
      }
      if (!want.ban) await sleep(50);
      const reasons = got().map((l) => l.reason);
      const banned = target.net.isBanned(id);
      table.push(`${path.padEnd(6)} ${row.name.padEnd(48)} ${reasons.join(', ') || '-'}${banned ? ' (banned)' : ''}`);
      assert.deepEqual(reasons, want.codes, `${row.name} (${path})`);
      assert.equal(banned, want.ban, `${row.name} (${path}): banned`);
      const stored = tc.chain.entry(m.header.hash());
      assert.ok(!stored || stored.status & STATUS_INVALID, `${row.name} (${path}): not stored as valid`);

      // A clean slate for the next row: the same peer, unbanned, with a score of 0.
      current = undefined;
      await attacker.hangUp(target.net.host.peerId);
      await until('the target saw it leave', () => target.net.peers().every((p) => p.id !== id));
      target.net.book.unban(id);
    }
  }
  t.diagnostic(`\n${table.join('\n')}`);
  assert.equal(toHex(tc.chain.tip.hash), tipBefore, 'no bad block moved the tip');
});
