import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Address } from '../chain/address.ts';
import type { Block } from '../chain/block.ts';
import type { Chain } from '../chain/chain.ts';
import { toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import type { Log } from '../chain/log.ts';
import type { Mempool } from '../chain/mempool.ts';
import { NonceSearch } from './nonce-search.ts';
import { buildTemplate, completeBlock, type Template, type VoteSource } from './template.ts';

export interface MinerOptions {
  chain: Chain;
  mempool: Mempool;
  address: Address;
  threads: number;
  logger: Log;
  /** A better template (new transactions) replaces the running one at most this often. */
  refreshMs?: number;
  /** The votes to put in each block (the domains' section items); none by default. */
  votes?: VoteSource;
  /** False while the node is still catching up with its peers: it mines only on the chain they have. */
  ready?: () => boolean;
}

/**
 * Mines on the tip: builds a template, searches nonces on worker threads and
 * submits the block. A new tip makes the running search stale at once; new
 * mempool transactions replace it after `refreshMs`, so fees are not left
 * behind and the threads are not restarted for every transaction.
 */
export class Miner extends EventEmitter<{ mined: [Block] }> {
  private readonly opts: Required<MinerOptions>;
  private readonly search: NonceSearch;
  private running = false;
  private loop?: Promise<void>;
  private current?: AbortController;
  private stopping = new AbortController();
  private templateTxs = 0;
  blocksMined = 0;

  constructor(opts: MinerOptions) {
    super();
    this.opts = { refreshMs: 500, votes: () => [], ready: () => true, ...opts };
    this.search = new NonceSearch({ threads: opts.threads });
  }

  get kernel(): string {
    return this.search.kernel;
  }

  get hashrate(): number {
    return this.search.hashrate;
  }

  private readonly onTip = (): void => this.current?.abort();

  private readonly onTx = (): void => {
    const started = this.current;
    if (!started || this.opts.mempool.count <= this.templateTxs) return;
    setTimeout(() => started.abort(), this.opts.refreshMs).unref();
  };

  start(): void {
    if (this.running) return;
    this.running = true;
    this.opts.chain.on('tip', this.onTip);
    this.opts.mempool.on('added', this.onTx);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopping.abort();
    this.current?.abort();
    this.opts.chain.off('tip', this.onTip);
    this.opts.mempool.off('added', this.onTx);
    await this.loop;
    await this.search.close();
  }

  private async run(): Promise<void> {
    const { chain, logger } = this.opts;
    let waiting = false;
    while (this.running) {
      try {
        if (!this.opts.ready()) {
          if (!waiting) logger.info({ height: chain.height }, 'waiting to catch up with peers before mining');
          waiting = true;
          await sleep(200, undefined, { signal: this.stopping.signal });
          continue;
        }
        waiting = false;
        // A block stamped before parent + T is invalid: wait for the clock instead.
        const wait = chain.earliestNext() - chain.now();
        if (wait > 0) await sleep(wait, undefined, { signal: this.stopping.signal });
        await this.mineOne();
      } catch (err) {
        if (!this.running) break;
        logger.warn({ err: err instanceof ZiError ? err.toJSON() : String(err) }, 'mining round failed; retrying');
        await sleep(1000, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }

  /** A failing vote source costs its votes, never the block. */
  private votesFor(height: number, timestamp: number): Uint8Array[] {
    try {
      return this.opts.votes({ height, timestamp, miner: this.opts.address });
    } catch (err) {
      this.opts.logger.warn({ err: err instanceof ZiError ? err.toJSON() : String(err) }, 'no votes in this block');
      return [];
    }
  }

  private async mineOne(): Promise<void> {
    const { chain, mempool, address, logger } = this.opts;
    const timestamp = chain.nextTimestamp();
    const votes = this.votesFor(chain.height + 1, timestamp);
    const template: Template = buildTemplate(chain, mempool, address, timestamp, undefined, votes);
    this.templateTxs = template.txs.length;
    const ac = new AbortController();
    this.current = ac;
    const found = await this.search.search(template.prefix, template.target, { signal: ac.signal });
    this.current = undefined;
    if (found === null || !this.running) return;
    if (toHex(chain.tip.hash) !== toHex(template.parent)) return; // stale: the tip moved meanwhile
    const block = completeBlock(template, found.nonce);
    const result = await chain.addBlock(block);
    if (result === 'connected' || result === 'reorganized') {
      this.blocksMined++;
      logger.info(
        {
          height: block.header.height,
          hash: toHex(block.hash()),
          txs: block.txs.length,
          hashrate: Math.round(this.search.hashrate),
        },
        'mined block',
      );
      this.emit('mined', block);
    }
  }
}
