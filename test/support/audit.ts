import { getAudit } from '../../src/audit/state.ts';
import { getAccount } from '../../src/chain/accounts.ts';
import type { Address } from '../../src/chain/address.ts';
import type { Chain } from '../../src/chain/chain.ts';
import { equalBytes } from '../../src/chain/encoding.ts';
import { LI_PER_ZI, type NetworkParams } from '../../src/chain/params.ts';
import { getContract, getPaidRanges, STATUS_OPEN, VALIDATION_DELEGATED } from '../../src/market/contract-state.ts';
import type { ZiNode } from '../../src/node/node.ts';
import { type Keypair, keypair } from './chain.ts';
import { closeContract, contractBody, postContract } from './market.ts';
import { startZiNode, until } from './node.ts';
import { watchSupply } from './supply.ts';
import { stakedValidator } from './validator.ts';

/**
 * Devnet at four blocks a second: an audit takes one block per vote, and a
 * round of nine fresh miners would otherwise wait nine seconds for the clock.
 * Difficulty stays at Dmin; nothing else in the protocol reads T.
 */
export const FAST_BLOCKS: Partial<NetworkParams> = { Tsec: 0.25 };

export const AUDIT_SIZE = 60;
export const AUDIT_FEE = 3n;
const CODE = `const size = ${AUDIT_SIZE};\nfunction input(i) { return i; }\nfunction mcu(x) { return x * x + 1; }\n`;

export interface AuditedSetup {
  /** The Bidder's node, which mined everything so far; its miner is stopped once the contract is closed. */
  node: ZiNode;
  chain: Chain;
  bidder: Keypair;
  v: Keypair;
  /** The contract under audit, every index paid with the Validator's co-signature. */
  id: Uint8Array;
  /** The Validator's other contracts, still open. */
  others: Uint8Array[];
  /** The validation fees the audited contract holds. */
  held: bigint;
  /** Where a voting node connects: the Bidder's and the Validator's nodes (bitswap asks connected peers only). */
  peers: string[];
  params: Partial<NetworkParams>;
  /** Waits for the supply checks after every block so far, rethrows a failure (test/support/supply.ts). */
  supply: () => Promise<void>;
}

/**
 * A staked Validator (`v`, or a fresh key) whose delegated contract a Solver
 * has computed in full with the Validator's node as authority, then closed by
 * its Bidder: its audit is open and no node mines. `lying`: the Validator
 * signs without validating and the Solver tampers with every output.
 */
export async function auditedContract(
  t: { after(fn: () => Promise<void>): void },
  opts: { v?: Keypair; lying?: boolean; others?: number; params?: Partial<NetworkParams> } = {},
): Promise<AuditedSetup> {
  const params = { ...FAST_BLOCKS, ...opts.params };
  const bidder = keypair();
  const v = opts.v ?? keypair();
  const node = await startZiNode(t, { mine: bidder.address, market: { authorityKey: bidder.priv }, params });
  const { chain, mempool } = node;
  const g = chain.genesisHash;
  const supply = watchSupply(chain);
  await until('the bidder is funded', () => getAccount(chain.state, bidder.address).balance >= 30n * LI_PER_ZI);
  await stakedValidator(node, bidder, 0n, v);
  const body = contractBody({
    code: CODE,
    price: 100n,
    budget: 2_000_000n,
    growth: 2,
    maxBatch: 16,
    validation: VALIDATION_DELEGATED,
    validationFee: AUDIT_FEE,
  });
  const n = 1 + (opts.others ?? 0);
  // Budgets differ by one Li so that the contracts' ids do.
  const posts = Array.from({ length: n }, (_, i) =>
    postContract(bidder, BigInt(1 + i), g, { ...body, budget: body.budget + BigInt(i) }),
  );
  for (const p of posts) await mempool.accept(p);
  const [id, ...others] = posts.map((p) => p.hash()) as [Uint8Array, ...Uint8Array[]];
  await until('the contracts are mined', () => posts.every((p) => getContract(chain.state, p.hash()) !== undefined));
  for (const c of [id, ...others]) {
    if (!equalBytes(getContract(chain.state, c)!.validator, v.address))
      throw new Error('the contract went to another Validator');
  }
  const vNode = await startZiNode(t, {
    peers: node.network!.addresses(),
    market: { authorityKey: v.priv, ...(opts.lying ? { signUnchecked: true } : {}) },
    params,
  });
  const solver = keypair();
  const tamper = opts.lying ? (_i: number, o: unknown) => (o as number) + 7 : undefined;
  await startZiNode(t, {
    peers: node.network!.addresses(),
    market: { solver: { key: solver.priv, threads: 1, contract: id, tamper } },
    params,
  });
  await until(
    'every index is paid',
    () => {
      const r = getPaidRanges(chain.state, id);
      return r.length === 1 && r[0]!.end === AUDIT_SIZE;
    },
    90_000,
  );
  await mempool.accept(closeContract(bidder, id, BigInt(1 + n), g));
  await until('the close is mined', () => getContract(chain.state, id)!.status !== STATUS_OPEN);
  await node.miner!.stop();
  return {
    node,
    chain,
    bidder,
    v,
    id,
    others,
    held: BigInt(AUDIT_SIZE) * AUDIT_FEE,
    peers: [...node.network!.addresses(), ...vNode.network!.addresses()],
    params,
    supply,
  };
}

/**
 * One vote from a fresh miner: a mining node of its own (its auditor samples
 * with its address, fetches from IPFS, validates in the sandbox), stopped
 * once its vote is on the Bidder's node's chain, so that miners take turns
 * and no race forks the chain. `keepMining` leaves it running.
 */
export async function voteFrom(
  t: { after(fn: () => Promise<void>): void },
  s: AuditedSetup,
  opts: { lie?: boolean; keepMining?: boolean } = {},
): Promise<Keypair> {
  const m = keypair();
  const n = await startZiNode(t, {
    peers: s.peers,
    mine: m.address,
    params: s.params,
    ...(opts.lie ? { audit: { lie: true } } : {}),
  });
  await until(
    `the vote of ${opts.lie ? 'a lying' : 'an honest'} miner is in`,
    () => getAudit(s.chain.state, s.id)?.votes.some((x) => equalBytes(x.voter, m.address)) ?? false,
    90_000,
  );
  if (!opts.keepMining) await n.stop();
  return m;
}

/**
 * What `miner` got other than its blocks' rewards (subsidy and fees): an
 * audit voter's vote fee, as its balance shows it.
 */
export async function earnedBeyondRewards(chain: Chain, miner: Address): Promise<bigint> {
  let rewards = 0n;
  for (let h = 1; h <= chain.height; h++) {
    const block = (await chain.getBlock(chain.entryAtHeight(h)!.hash))!;
    if (!equalBytes(block.header.miner, miner)) continue;
    rewards += chain.params.subsidy + block.txs.reduce((n, tx) => n + tx.fee, 0n);
  }
  return getAccount(chain.state, miner).balance - rewards;
}
