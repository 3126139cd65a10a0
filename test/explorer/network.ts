import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getContract, getPaidRanges } from '../../src/market/contract-state.ts';
import type { ZiNode } from '../../src/node/node.ts';
import { type Keypair, keypair } from '../support/chain.ts';
import { contractBody, postContract } from '../support/market.ts';
import { startZiNode, until } from '../support/node.ts';

/**
 * The Mandelbrot example (examples/mandelbrot.js) at a scale a test solves
 * in seconds: 40 × 20 MCUs (ZI_EXPLORER_SCALE draws a larger one, e.g. for
 * docs/explorer.png).
 */
export const MANDELBROT_SCALE = Number(process.env.ZI_EXPLORER_SCALE ?? 10);
export const MANDELBROT_SIZE = 8 * MANDELBROT_SCALE * MANDELBROT_SCALE;
export const MANDELBROT_PRICE = 100n;

export async function mandelbrotCode(): Promise<string> {
  const code = await readFile(join(import.meta.dirname, '..', '..', 'examples', 'mandelbrot.js'), 'utf8');
  return code.replace(/const SCALE = \d+;/, `const SCALE = ${MANDELBROT_SCALE};`);
}

export interface ExplorerNetwork {
  /** Mines, serves its contracts as their Bidder, and serves the explorer. */
  node: ZiNode;
  bidder: Keypair;
  solver: Keypair;
  contract: string;
  url: string;
  /** Starts the Solver (the caller chooses when, to watch the contract fill in). */
  startSolver(): Promise<ZiNode>;
  /** Resolves once every MCU of the contract is paid. */
  solved(): Promise<void>;
}

/**
 * A local network with a market at work: a mining Bidder node with the
 * explorer on, the Mandelbrot example posted, and a Solver solving it in
 * small growing batches (so its image fills in over several blocks).
 */
export async function explorerNetwork(t: { after(fn: () => Promise<void>): void }): Promise<ExplorerNetwork> {
  const bidder = keypair();
  const solver = keypair();
  const node = await startZiNode(t, { mine: bidder.address, market: { authorityKey: bidder.priv }, explorer: true });
  await until('the Bidder is funded', () => node.chain.height >= 1);
  // Twice what the MCUs cost, and room for the payouts' fees.
  const budget = 2n * BigInt(MANDELBROT_SIZE) * MANDELBROT_PRICE + 1_000_000n;
  const code = await mandelbrotCode();
  const body = contractBody({ code, price: MANDELBROT_PRICE, budget, growth: 2, maxBatch: 64 });
  const post = postContract(bidder, 0n, node.chain.genesisHash, body);
  await node.mempool.accept(post);
  const id = post.hash();
  await until('the contract is mined', () => getContract(node.chain.state, id) !== undefined);
  const startSolver = () =>
    startZiNode(t, { peers: node.network!.addresses(), market: { solver: { key: solver.priv, threads: 1 } } });
  const solved = () =>
    until(
      'every MCU is paid',
      () => {
        const paid = getPaidRanges(node.chain.state, id);
        return paid.length === 1 && paid[0]!.start === 0 && paid[0]!.end === MANDELBROT_SIZE;
      },
      120_000,
    );
  return {
    startSolver,
    node,
    bidder,
    solver,
    contract: Buffer.from(id).toString('hex'),
    url: node.explorer!.url,
    solved,
  };
}
