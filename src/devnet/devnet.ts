import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { addressOf, formatAddress } from '../chain/address.ts';
import { formatZi, MAX_AMOUNT } from '../chain/amount.ts';
import { ZiError } from '../chain/errors.ts';
import { generatePrivateKey, publicKeyOf } from '../chain/keys.ts';
import { NETWORKS } from '../chain/params.ts';
import { collectResults, MAX_UNION_ROWS, outputReader, type PaidBatchRef, unionOf } from '../market/collect.ts';
import { minimumBudget } from '../market/contract-tx.ts';
import { gridPng } from '../market/png.ts';
import { cookiePath, walletPath } from '../node/config.ts';
import { fetchByRpc } from '../node/content-client.ts';
import { RpcClient } from '../node/rpc/client.ts';
import { RpcError } from '../rpc/errors.ts';
import { loadContract } from '../sandbox/index.ts';
import { outputAt, outputCount } from '../sandbox/outputs.ts';
import { encryptKey, writeKeystore } from '../wallet/keystore.ts';

export class DevnetError extends ZiError<'BAD_OPTION' | 'START_FAILED' | 'STALLED' | 'MISMATCH'> {}

export interface DevnetOptions {
  /** Where the nodes keep their data and logs; kept afterwards. Default: a temp dir, removed unless `keep`. */
  dir?: string;
  /** Where the image goes (default mandelbrot.png in the current directory). */
  image?: string;
  /** Mandelbrot grid points per unit length: the grid is 4·scale × 2·scale MCUs. */
  scale: number;
  miners: number;
  solvers: number;
  /** Li per MCU. */
  price: bigint;
  keep: boolean;
  /** node1's explorer port (default 0: a free one). */
  explorerPort?: number;
  /** Sandboxes per Solver (default 1). */
  solverThreads?: number;
  /** Fetch, fold and check the results at the end (default true; benchmarks skip it). */
  results?: boolean;
  /** Where progress lines go. */
  out: (line: string) => void;
  /** Resolves when the user asks to stop (Ctrl-C). */
  interrupted: Promise<void>;
}

export interface DevnetReport {
  dir: string;
  size: number;
  /**
   * Signed MCUs per second between 20 % and 90 % of the contract: the market
   * in steady state. Undefined when a small contract was solved between two polls.
   */
  steadyRate?: number;
  firstSignedMs?: number;
  firstOnChainMs?: number;
  seconds: number;
}

/** Blocks node1 may have to mine before the Bidder can pay the budget: about a minute of devnet blocks. */
const MAX_FUNDING_BLOCKS = 60n;
/** What the Bidder keeps beside the budget, for the posting fee. */
const FEE_RESERVE = 10_000_000n;
const MANDELBROT_GROWTH = 2;
const MANDELBROT_MAX_BATCH = 1_048_576;

/**
 * The contract's budget (twice what its MCUs cost), or the reason the options
 * cannot work, known before any node starts: a run that fails after its
 * nodes are up wastes a minute and leaves processes behind.
 */
export function devnetBudget(o: Pick<DevnetOptions, 'scale' | 'price'>): bigint {
  const size = BigInt(8 * o.scale * o.scale);
  const minPrice = 1n;
  if (o.price < minPrice) {
    throw new DevnetError(
      'BAD_OPTION',
      `--price must be at least ${minPrice}li: Solvers skip contracts paying less than their --min-price (1li by default)`,
    );
  }
  const budget = size * o.price * 2n;
  const params = NETWORKS.devnet;
  const minimum = minimumBudget(
    { price: o.price, validationFee: 0n, growth: MANDELBROT_GROWTH, maxBatch: MANDELBROT_MAX_BATCH },
    params.minFeePerByte,
  );
  if (budget < minimum) {
    throw new DevnetError(
      'BAD_OPTION',
      `a budget of 2 × ${size} MCUs × ${o.price} Li is below the ${minimum} Li a contract must hold: raise --price or --scale`,
    );
  }
  const blocks = (budget + FEE_RESERVE + params.subsidy - 1n) / params.subsidy;
  if (budget > MAX_AMOUNT || blocks > MAX_FUNDING_BLOCKS) {
    throw new DevnetError(
      'BAD_OPTION',
      `--price ${o.price}li with --scale ${o.scale} needs a budget of ${formatZi(budget)} Zi: ${blocks} blocks of mining before posting; lower --price or --scale`,
    );
  }
  return budget;
}

/** The signing rate between 20 % and 90 % of the work: no start-up, no tail. */
function steadyRate(samples: { at: number; signed: number }[], size: number): number | undefined {
  const a = samples.find((x) => x.signed >= 0.2 * size);
  const b = samples.find((x) => x.signed >= 0.9 * size);
  if (a === undefined || b === undefined || b.at === a.at) return undefined;
  return ((b.signed - a.signed) / (b.at - a.at)) * 1000;
}

interface Proc {
  name: string;
  child: ChildProcess;
  rpc: RpcClient;
  datadir: string;
  addrs: string[];
  /** Its explorer's URL, when it serves one. */
  explorer?: string;
}

const ZI = join(import.meta.dirname, '..', '..', 'bin', 'zi');
const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'mandelbrot.js');

/**
 * `zi devnet`: the whole market on one machine, as separate processes of
 * `zi` talking over real libp2p on 127.0.0.1: mining nodes, a Bidder that
 * posts the Mandelbrot example, Solvers that solve it, and at the end the
 * image, a check of the union against a local recomputation, and a summary.
 */
export class Devnet {
  private readonly o: DevnetOptions;
  private readonly procs: Proc[] = [];
  private base = '';

  constructor(o: DevnetOptions) {
    this.o = o;
  }

  async run(): Promise<DevnetReport> {
    const { out } = this.o;
    const budget = devnetBudget(this.o);
    this.base = this.o.dir ?? (await mkdtemp(join(tmpdir(), 'zi-devnet-')));
    await mkdir(this.base, { recursive: true });
    const pass = join(this.base, 'passphrase');
    await writeFile(pass, `${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
    out(`devnet in ${this.base} (logs: *.log there)`);
    let ok = false;
    try {
      const report = await this.main(pass, budget);
      ok = true;
      return report;
    } finally {
      if (this.o.keep) {
        out('still running (--keep): Ctrl-C stops every process');
        await this.o.interrupted;
      }
      await this.stopAll();
      // A temp dir of its own goes; one the user named (--dir), or a failed run's logs, stay.
      if (this.o.dir === undefined && !this.o.keep && ok) await rm(this.base, { recursive: true, force: true });
      else if (!ok) out(`the nodes' logs are in ${this.base}`);
    }
  }

  private async main(pass: string, budget: bigint): Promise<DevnetReport> {
    const { out } = this.o;
    const t0 = Date.now();
    const bidder = await this.wallet('node1', pass);
    const first = await this.start(
      'node1',
      ['node', '--mine', '--threads', '1', '--bidder', '--explorer', String(this.o.explorerPort ?? 0)],
      pass,
    );
    out(`explorer    ${first.explorer} (node1: blocks, the contract filling in, Solvers; read-only)`);
    const peers = first.addrs.filter((a) => a.includes('127.0.0.1')).flatMap((a) => ['--peer', a]);
    for (let i = 2; i <= this.o.miners; i++) {
      await this.wallet(`node${i}`, pass);
      await this.start(`node${i}`, ['node', '--mine', '--threads', '1', ...peers], pass);
    }
    out(`${this.o.miners} mining node(s) up; the Bidder ${bidder} mines on node1`);
    // Solvers come first, as they would on a live network: they pick the contract up as soon as it is mined.
    for (let i = 1; i <= this.o.solvers; i++) {
      await this.wallet(`solver${i}`, pass);
      await this.start(`solver${i}`, ['solve', '--threads', String(this.o.solverThreads ?? 1), ...peers], pass);
    }
    out(`${this.o.solvers} Solver(s) up, waiting for work`);

    const code = (await readFile(EXAMPLE, 'utf8')).replace(/const SCALE = \d+;/, `const SCALE = ${this.o.scale};`);
    const size = 8 * this.o.scale * this.o.scale;
    await this.until('the Bidder can pay the budget', 120_000, async () => {
      const a = await first.rpc.call<{ balance: string }>('getaccount', { address: bidder });
      return BigInt(a.balance) >= budget + FEE_RESERVE;
    });
    const contract = await this.post(first, code, budget, pass);
    out(
      `posted the Mandelbrot contract ${contract.slice(0, 16)}…: ${size.toLocaleString()} MCUs at ${this.o.price} Li`,
    );
    let included = 0;
    await this.until(
      'the contract is in a block',
      60_000,
      async () => {
        const tx = await first.rpc.call<{ status: string }>('gettransaction', { txid: contract });
        if (tx.status === 'confirmed') included = performance.now();
        return included > 0;
      },
      20,
    );

    // Signed MCUs (the authority's view, at once) and paid ones (on chain, a block later).
    const samples: { at: number; signed: number }[] = [];
    let firstSigned: number | undefined;
    let firstOnChain: number | undefined;
    let lastLine = 0;
    let stalled = performance.now();
    for (;;) {
      type Status = { paidMcus: string; signedRanges?: [number, number][] };
      // Two miners can race: the contract's block may be replaced, and the contract mined again a block later.
      const s = await first.rpc.call<Status>('getcontractstatus', { id: contract }).catch((err: unknown) => {
        if (err instanceof RpcError && err.code === 'NOT_FOUND') return undefined;
        throw err;
      });
      if (s === undefined) {
        if (performance.now() - stalled > 120_000) {
          throw new DevnetError('STALLED', 'the contract left the chain and did not come back for two minutes');
        }
        await Promise.race([sleep(250), this.o.interrupted]);
        continue;
      }
      const now = performance.now();
      const signed = (s.signedRanges ?? []).reduce((n, [a, b]) => n + (b - a), 0);
      const paid = Number(s.paidMcus);
      if (signed > 0) firstSigned ??= now;
      if (paid > 0) firstOnChain ??= now;
      if (signed > (samples.at(-1)?.signed ?? 0)) stalled = now;
      samples.push({ at: now, signed });
      if (now - lastLine >= 2_000 || paid >= size) {
        lastLine = now;
        const ago = samples.find((x) => x.at >= now - 2_000) ?? samples[0]!;
        const rate = ((signed - ago.signed) / Math.max(1, now - ago.at)) * 1000;
        const info = await first.rpc.call<{ height: number }>('getinfo');
        out(
          `block ${info.height}  signed ${signed.toLocaleString()} / paid ${paid.toLocaleString()} of ${size.toLocaleString()} MCUs (${((paid / size) * 100).toFixed(1)}%)  ${Math.round(rate).toLocaleString()} MCU/s`,
        );
      }
      if (paid >= size) break;
      if (now - stalled > 120_000) {
        throw new DevnetError('STALLED', 'no batch signed for two minutes: see the logs in the devnet dir');
      }
      await Promise.race([sleep(250), this.o.interrupted]);
    }
    const report: DevnetReport = {
      dir: this.base,
      size,
      steadyRate: steadyRate(samples, size),
      firstSignedMs: firstSigned === undefined ? undefined : firstSigned - included,
      firstOnChainMs: firstOnChain === undefined ? undefined : firstOnChain - included,
      seconds: (samples.at(-1)!.at - included) / 1000,
    };
    if (this.o.results !== false) await this.results(first, contract, code, size, report, t0);
    return report;
  }

  private async results(
    node: Proc,
    contract: string,
    code: string,
    size: number,
    r: DevnetReport,
    startedAt: number,
  ): Promise<void> {
    const { out } = this.o;
    const batches = await node.rpc.call<PaidBatchRef[]>('getpayouts', { id: contract });
    const runtime = await loadContract(code, {
      memoryLimitMiB: 1024,
      timeoutMs: 300_000,
      maxResultBytes: 256 * 1024 * 1024,
    });
    try {
      out(`fetching ${batches.length} paid batches by CID and checking them against a local recomputation…`);
      const got = await collectResults(Buffer.from(contract, 'hex'), batches, fetchByRpc(node.rpc));
      const paid = outputReader(got);
      const png = resolve(this.o.image ?? 'mandelbrot.png');
      await writeFile(png, gridPng(paid, 4 * this.o.scale, 2 * this.o.scale));
      // Every paid output against the contract computed here, a million MCUs at a time.
      let mismatches = 0;
      for (let from = 0; from < size; from += 1 << 20) {
        const local = await runtime.outputRange(from, Math.min(1 << 20, size - from));
        for (let k = 0; k < outputCount(local); k++) if (paid(from + k) !== outputAt(local, k)) mismatches++;
      }
      if (mismatches > 0 || got.mcus !== size) {
        throw new DevnetError('MISMATCH', `the results differ from a local recomputation at ${mismatches} indices`);
      }
      // The union too, while it is small enough to build: its rows are the paid outputs in index order.
      let unionFile: string | undefined;
      if (got.mcus <= MAX_UNION_ROWS) {
        const union = (await unionOf(got, runtime)) as [number, unknown, unknown][];
        if (union.length !== size || union.some((row, i) => row[0] !== i || row[2] !== paid(i))) {
          throw new DevnetError('MISMATCH', 'the union differs from the paid outputs in index order');
        }
        // Only into a dir that stays: the temp dir is removed at the end.
        if (this.o.dir !== undefined || this.o.keep) {
          unionFile = join(this.base, 'mandelbrot.json');
          await writeFile(unionFile, `${JSON.stringify(union)}\n`);
        }
      }
      const info = await node.rpc.call<{ height: number }>('getinfo');
      const c = await node.rpc.call<{ paidMcus: string; price: string; escrow: string }>('getcontract', {
        id: contract,
      });
      out('');
      out(`image       ${png}`);
      out(`results     checked: identical to a local recomputation of all ${size.toLocaleString()} MCUs`);
      out(
        unionFile
          ? `union       ${unionFile}`
          : got.mcus <= MAX_UNION_ROWS
            ? 'union       checked (written with --dir or --keep)'
            : `union       not built: over ${MAX_UNION_ROWS.toLocaleString()} MCUs (zi contract results --outputs writes them)`,
      );
      out(`blocks      ${info.height}`);
      out(`payouts     ${batches.length}`);
      out(
        `Li paid     ${(BigInt(c.paidMcus) * BigInt(c.price)).toLocaleString()} Li (${formatZi(BigInt(c.paidMcus) * BigInt(c.price))} Zi)`,
      );
      out(
        `MCU rate    ${r.steadyRate === undefined ? '' : `${Math.round(r.steadyRate).toLocaleString()} MCU/s steady, `}${Math.round(size / r.seconds).toLocaleString()} MCU/s overall (${r.seconds.toFixed(1)} s from the contract's block)`,
      );
      if (r.firstSignedMs !== undefined) {
        out(
          `first paid  signed ${Math.round(r.firstSignedMs)} ms after the contract's block, in a block after ${Math.round(r.firstOnChainMs ?? 0)} ms`,
        );
      }
      out(`total       ${((Date.now() - startedAt) / 1000).toFixed(1)} s, start to finish`);
    } finally {
      runtime.dispose();
    }
  }

  private async wallet(name: string, pass: string): Promise<string> {
    const key = generatePrivateKey();
    const address = formatAddress(addressOf(publicKeyOf(key)), NETWORKS.devnet.hrp);
    const passphrase = (await readFile(pass, 'utf8')).trim();
    await writeKeystore(walletPath(join(this.base, name)), await encryptKey(key, passphrase, address));
    return address;
  }

  private async start(name: string, args: string[], pass: string): Promise<Proc> {
    const datadir = join(this.base, name);
    const log = createWriteStream(join(this.base, `${name}.log`));
    const child = spawn(
      process.execPath,
      [
        ZI,
        ...args,
        '--datadir',
        datadir,
        '--passphrase-file',
        pass,
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--rpc-port',
        '0',
      ],
      { env: { ...process.env, ZI_LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stderr!.pipe(log);
    const started = Promise.withResolvers<{ port: number; addrs: string[]; explorer?: string }>();
    let addrs: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log.write(`${line}\n`);
      try {
        const l = JSON.parse(line) as { msg?: string; listen?: string[]; rpc?: string; explorer?: string };
        if (l.msg === 'p2p started' && l.listen) addrs = l.listen;
        if (l.msg === 'node started' && l.rpc) {
          started.resolve({ port: Number(l.rpc.split(':')[1]), addrs, explorer: l.explorer });
        }
      } catch {
        // Not a log line: kept in the file as it is.
      }
    });
    child.once('exit', (code) =>
      started.reject(new DevnetError('START_FAILED', `${name} exited (${code}); see ${name}.log`)),
    );
    const { port, explorer } = await started.promise;
    const proc: Proc = {
      name,
      child,
      rpc: new RpcClient({ port, cookiePath: cookiePath(datadir) }),
      datadir,
      addrs,
      explorer,
    };
    this.procs.push(proc);
    return proc;
  }

  private async post(node: Proc, code: string, budget: bigint, pass: string): Promise<string> {
    const file = join(this.base, 'mandelbrot.js');
    await writeFile(file, code);
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          ZI,
          'contract',
          'post',
          file,
          '--price',
          `${this.o.price}li`,
          '--budget',
          `${budget}li`,
          '--max-batch',
          String(MANDELBROT_MAX_BATCH),
          '--growth',
          String(MANDELBROT_GROWTH),
          '--datadir',
          node.datadir,
          '--passphrase-file',
          pass,
          '--json',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.once('exit', (c) => resolve({ code: c, stdout, stderr }));
    });
    if (r.code !== 0) throw new DevnetError('START_FAILED', `posting the contract failed: ${r.stderr.trim()}`);
    return (JSON.parse(r.stdout) as { id: string }).id;
  }

  private async until(what: string, timeoutMs: number, pred: () => Promise<boolean>, everyMs = 250): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await pred())) {
      if (Date.now() > deadline) throw new DevnetError('STALLED', `timed out waiting until ${what}`);
      await sleep(everyMs);
    }
  }

  private async stopAll(): Promise<void> {
    await Promise.all(
      this.procs.map(async (p) => {
        if (p.child.exitCode !== null) return;
        const exited = new Promise((r) => p.child.once('exit', r));
        p.child.kill('SIGTERM');
        // Cleared once it exits: a pending timer would keep `zi devnet` alive for its full 10 s.
        const kill = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(kill);
      }),
    );
  }
}
