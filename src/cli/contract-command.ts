import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { formatZi, MAX_AMOUNT, parseAmount } from '../chain/amount.ts';
import { ZiError } from '../chain/errors.ts';
import { TX_KINDS } from '../chain/transaction.ts';
import { MAX_UNION_ROWS, type PaidBatchRef } from '../market/collect.ts';
import { VALIDATION_BIDDER, VALIDATION_DELEGATED } from '../market/contract-state.ts';
import {
  type ContractBody,
  closeRules,
  contractRules,
  DEFAULT_SAMPLE_RATE,
  minimumBudget,
  topupRules,
} from '../market/contract-tx.ts';
import { resolveNetwork, wholeNumber } from '../node/config.ts';
import type { RpcClient } from '../node/rpc/client.ts';
import { MAX_SAMPLE_RATE } from '../sandbox/sampling.ts';
import { type ClientFlags, connect } from './client.ts';
import { contractStatusView, type StatusReport } from './contract-status.ts';
import { hexId, required } from './options.ts';
import { print, table } from './output.ts';
import { type SendFlags, sendOpts, sentStatus, signAndSend, walletFile, withClientOptions } from './tx-sender.ts';

/** The sandbox and its parser load only in the commands that run code (start-up time). */
const sandbox = () => import('../sandbox/index.ts');
const collect = () => import('../market/collect.ts');

export class ContractCliError extends ZiError<'BAD_OPTION' | 'UNREADABLE'> {}

/**
 * Contract code from a file, read no further than one byte past the size
 * limit: past it the check refuses the code anyway, and a device or a huge
 * file (/dev/zero) must not be read into memory first.
 */
async function readCode(file: string): Promise<string> {
  const { MAX_CONTRACT_CODE_BYTES } = await sandbox();
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, 'r');
    const buf = Buffer.alloc(MAX_CONTRACT_CODE_BYTES + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got) {
      got = (await handle.read(buf, n, buf.length - n)).bytesRead;
    }
    return buf.subarray(0, n).toString('utf8');
  } catch (err) {
    throw new ContractCliError('UNREADABLE', `cannot read ${file}: ${(err as Error).message}`);
  } finally {
    await handle?.close();
  }
}

function contractId(text: string): string {
  return hexId(text, 'a contract id');
}

/**
 * Why Solvers may wait on a contract just posted: no node serves it. A
 * Bidder-validated contract (and a delegated one that found no Validator) is
 * served by a `--bidder` node with the posting wallet: the node this command
 * talks to is asked whether it runs one; a --bidder node elsewhere cannot be
 * seen from here. A Validator assigned to a delegated contract staked to
 * serve it and is taken to be online (its payouts show in `contract status`);
 * whether one could be assigned at all is checked before posting.
 */
async function unservedWarning(
  rpc: RpcClient,
  flags: SendFlags,
  validator: string | null | undefined,
  delegated: boolean,
): Promise<string | undefined> {
  if (delegated && validator !== null) return undefined;
  const { readKeystore } = await import('../wallet/keystore.ts');
  const { address } = await readKeystore(walletFile(flags));
  const info = await rpc.call<{ market?: { authority: string | null } | null }>('getinfo');
  if (info.market?.authority === address) return undefined;
  const running = info.market?.authority ? `it serves ${info.market.authority}` : 'it runs without --bidder';
  return `no node serves this contract yet: this node is not its authority (${running}). Start a node with \`zi node --bidder\` and this wallet (${address}), or Solvers that find the contract wait for an answer`;
}

/** listcontracts' `reputation` (src/market/reputation.ts), as JSON carries it. */
interface AuthorityReputationView {
  mcusPaid: string;
  payouts: number | null;
  firstPayoutBlocks: number | null;
  cadenceBlocks: number | null;
}

/** The authority's record in a few words: what it paid, how soon, how often. */
function reputationText(r: AuthorityReputationView): string {
  if (r.mcusPaid === '0') return 'never paid yet';
  const parts = [`paid ${r.mcusPaid} MCUs in ${r.payouts} payouts`];
  if (r.firstPayoutBlocks !== null) parts.push(`first ${r.firstPayoutBlocks} blocks after posting`);
  if (r.cadenceBlocks !== null) parts.push(`then every ${r.cadenceBlocks} blocks`);
  return parts.join(', ');
}

export function contractCommand(program: Command): void {
  const contract = program.command('contract').description('post, inspect, fund, close and try compute contracts');

  withClientOptions(
    contract
      .command('post')
      .description('post a contract: its code, price per MCU and budget (locked in escrow); warns if no node serves it')
      .argument('<file>', 'contract code (a plain script declaring size, input, mcu, and optionally union, validate)')
      .option('--price <amount>', 'pay per MCU, e.g. 10li (required)')
      .option(
        '--budget <amount>',
        "escrow, at least 1,000 MCUs × (price + validation fee) plus their payouts' fees, e.g. 2.5 (Zi) (required)",
      )
      .option('--delegate', 'let a staked Validator validate and sign payouts', false)
      .option('--validation-fee <amount>', 'per MCU, for the Validator (with --delegate)')
      .option(
        '--max-batch <n>',
        "largest batch of MCUs leased at once (leases also stay under 10 s of a Solver's work and half an IPFS block of results)",
        '1048576',
      )
      .option(
        '--sample-rate <permille>',
        'per mille of each batch that validation recomputes, from a seed drawn after the batch arrives (1–1000)',
        String(DEFAULT_SAMPLE_RATE),
      )
      .option('--growth <n>', 'each lease is this many times the last (1, 2, 4, …)', '2')
      .option('--memory <MiB>', 'sandbox memory per isolate', '128')
      .option('--timeout <ms>', 'sandbox CPU time per batch', '10000'),
    true,
  ).action(
    async (
      file: string,
      flags: SendFlags & {
        price?: string;
        budget?: string;
        delegate: boolean;
        validationFee?: string;
        maxBatch: string;
        sampleRate: string;
        growth: string;
        memory: string;
        timeout: string;
      },
    ) => {
      if (flags.validationFee !== undefined && !flags.delegate) {
        throw new ContractCliError('BAD_OPTION', '--validation-fee goes with --delegate');
      }
      const body: ContractBody = {
        code: await readCode(file),
        price: parseAmount(required(flags.price, '--price', '10li'), '--price'),
        budget: parseAmount(required(flags.budget, '--budget', '2.5'), '--budget'),
        sampleRate: wholeNumber(flags.sampleRate, '--sample-rate', 1, MAX_SAMPLE_RATE),
        growth: wholeNumber(flags.growth, '--growth', 1, 16),
        maxBatch: wholeNumber(flags.maxBatch, '--max-batch', 1, 10_000_000),
        validation: flags.delegate ? VALIDATION_DELEGATED : VALIDATION_BIDDER,
        validationFee: flags.delegate ? parseAmount(flags.validationFee ?? '1li', '--validation-fee') : 0n,
        memoryMiB: wholeNumber(flags.memory, '--memory', 8, 1024),
        timeoutMs: wholeNumber(flags.timeout, '--timeout', 1, 300_000),
      };
      const minimum = minimumBudget(body, resolveNetwork(flags.network).minFeePerByte);
      if (minimum > MAX_AMOUNT) {
        throw new ContractCliError(
          'BAD_OPTION',
          `--price is too large: a budget for 1,000 MCUs at it would be over the largest amount, ${formatZi(MAX_AMOUNT)} Zi`,
        );
      }
      if (body.budget < minimum) {
        throw new ContractCliError(
          'BAD_OPTION',
          `--budget must cover 1,000 MCUs and their payouts' fees: at least ${formatZi(minimum)} Zi`,
        );
      }
      // Refuse locally what the network would refuse, before anything is paid.
      const { checkContractCode, loadContract } = await sandbox();
      checkContractCode(body.code);
      const runtime = await loadContract(body.code, { memoryLimitMiB: body.memoryMiB, timeoutMs: body.timeoutMs });
      const size = runtime.size;
      runtime.dispose();
      const client = await connect(flags);
      // A delegated contract finds its Validator in the block that includes it; say now if none could take it.
      const eligible = flags.delegate
        ? (
            await client.rpc.call<{ eligibleValidators: number }>('getstakerequirement', {
              budget: body.budget.toString(),
            })
          ).eligibleValidators
        : undefined;
      if (eligible === 0) {
        process.stderr.write(
          'warning: no matured Validator has the free stake to cover this budget now: unless one does when the contract is mined, it runs Bidder-validated (no validation fee is charged) and your node must serve it with --bidder\n',
        );
      }
      const { txid, tx, height } = await signAndSend(
        flags,
        { kind: TX_KINDS.contract, payload: contractRules.encode(body) },
        { ...sendOpts(flags), client },
      );
      const validator =
        flags.delegate && height !== undefined
          ? (await client.rpc.call<{ validator: string | null }>('getcontract', { id: txid })).validator
          : undefined;
      const warning = await unservedWarning(client.rpc, flags, validator, flags.delegate);
      print(
        {
          id: txid,
          size,
          price: body.price,
          budget: body.budget,
          fee: tx.fee,
          height,
          eligibleValidators: eligible,
          validator,
          ...(warning ? { warning } : {}),
        },
        flags.json ?? false,
        () =>
          table([
            ['contract', txid],
            ['MCUs', size ?? 'unbounded'],
            ['price', `${body.price} Li per MCU`],
            ['budget', `${formatZi(body.budget)} Zi in escrow`],
            ...(flags.delegate
              ? ([
                  [
                    'validator',
                    validator === undefined
                      ? `assigned when mined (${eligible} eligible now; see zi contract show)`
                      : (validator ?? 'none eligible: Bidder-validated'),
                  ],
                ] as [string, unknown][])
              : []),
            ['status', sentStatus(height)],
          ]),
      );
      if (warning) process.stderr.write(`warning: ${warning}\n`);
    },
  );

  withClientOptions(
    contract
      .command('list')
      .description('contracts on chain (open ones unless --all)')
      .option('--all', 'open and closed', false),
  ).action(async (flags: ClientFlags & { all: boolean }) => {
    const { rpc } = await connect(flags);
    const list = await rpc.call<(Record<string, string> & { reputation: AuthorityReputationView })[]>('listcontracts', {
      status: flags.all ? 'all' : 'open',
    });
    print(list, flags.json ?? false, () =>
      list.length === 0
        ? 'no contracts'
        : list
            .map(
              (c) =>
                `${c.id}  ${c.status.padEnd(6)}  ${c.price} Li/MCU  paid ${c.paidMcus} MCUs  escrow ${formatZi(BigInt(c.escrow))} Zi  authority: ${reputationText(c.reputation)}`,
            )
            .join('\n'),
    );
  });

  withClientOptions(
    contract
      .command('show')
      .description('one contract: record, paid ranges, and its code with --code')
      .argument('<id>', 'contract id')
      .option('--code', 'print the code too', false),
  ).action(async (id: string, flags: ClientFlags & { code: boolean }) => {
    const { rpc } = await connect(flags);
    const c = await rpc.call<Record<string, unknown>>('getcontract', { id: contractId(id), code: flags.code });
    print(c, flags.json ?? false, () => {
      const rows = table(
        Object.entries(c)
          .filter(([k]) => k !== 'code')
          .map(([k, v]): [string, unknown] => [k, Array.isArray(v) ? JSON.stringify(v) : v]),
      );
      return flags.code ? `${rows}\n\n${c.code}` : rows;
    });
  });

  withClientOptions(
    contract
      .command('topup')
      .description('add budget to an open contract')
      .argument('<id>', 'contract id')
      .argument('<amount>', 'e.g. 1.5 (Zi) or 5000li'),
    true,
  ).action(async (id: string, amountText: string, flags: SendFlags) => {
    const contract = new Uint8Array(Buffer.from(contractId(id), 'hex'));
    const amount = parseAmount(amountText);
    const { txid, height } = await signAndSend(
      flags,
      { kind: TX_KINDS.topup, payload: topupRules.encode({ contract, amount }) },
      sendOpts(flags),
    );
    print({ txid, height }, flags.json ?? false, () =>
      table([
        ['txid', txid],
        ['topped up', `${formatZi(amount)} Zi`],
        ['status', sentStatus(height)],
      ]),
    );
  });

  withClientOptions(
    contract.command('close').description('close your contract; unused escrow returns').argument('<id>', 'contract id'),
    true,
  ).action(async (id: string, flags: SendFlags) => {
    const contract = new Uint8Array(Buffer.from(contractId(id), 'hex'));
    const { txid, height } = await signAndSend(
      flags,
      { kind: TX_KINDS.close, payload: closeRules.encode({ contract }) },
      sendOpts(flags),
    );
    print({ txid, height }, flags.json ?? false, () =>
      table([
        ['txid', txid],
        ['status', sentStatus(height)],
      ]),
    );
  });

  withClientOptions(
    contract
      .command('results')
      .description("fetch every paid batch by CID, fold them with the contract's union, and write the result")
      .argument('<id>', 'contract id')
      .option(
        '--out <file>',
        `where to write the union (JSON; default <datadir>/results/<id>.json); a union is built for up to ${MAX_UNION_ROWS.toLocaleString('en')} paid MCUs, past that use --outputs`,
      )
      .option('--outputs <file>', 'also write every paid output, one JSON line [index, output] per MCU (any size)')
      .option('--png <file>', 'also draw boolean outputs as an image (MCU i at column i % width, rows from the bottom)')
      .option('--width <n>', 'image width (default: the Mandelbrot layout, sqrt(2 × size))'),
  ).action(
    async (id: string, flags: ClientFlags & { out?: string; outputs?: string; png?: string; width?: string }) => {
      const hex = contractId(id);
      const width = flags.width === undefined ? undefined : wholeNumber(flags.width, '--width', 1, 1 << 20);
      const { rpc, datadir } = await connect(flags);
      const { loadContract } = await sandbox();
      const { assertUnionFits, collectResults, outputReader, unionOf, writeOutputLines } = await collect();
      const { fetchByRpc } = await import('../node/content-client.ts');
      const info = await rpc.call<{ code: string; memoryMiB: number; timeoutMs: number }>('getcontract', {
        id: hex,
        code: true,
      });
      const refs = await rpc.call<PaidBatchRef[]>('getpayouts', { id: hex });
      const paid = refs.reduce((n, b) => n + (b.end - b.start), 0);
      // Known before anything is fetched: a named union that cannot be built is an error, a default one is skipped.
      // By default it goes under the data dir: a union can be tens of MB, not for the current directory.
      const out = flags.out ?? (paid <= MAX_UNION_ROWS ? join(datadir, 'results', `${hex}.json`) : undefined);
      if (out !== undefined) assertUnionFits(paid);
      if (out !== undefined && flags.out === undefined) await mkdir(join(datadir, 'results'), { recursive: true });
      const runtime = await loadContract(info.code, {
        memoryLimitMiB: 1024,
        timeoutMs: 300_000,
        maxResultBytes: 256 * 1024 * 1024,
      });
      try {
        // On a terminal a line redrawn in place; in a pipe or a log one line per tenth, so it never looks stuck.
        let tenth = 0;
        const got = await collectResults(Buffer.from(hex, 'hex'), refs, fetchByRpc(rpc), (done, total) => {
          if (flags.json) return;
          if (process.stderr.isTTY) process.stderr.write(`\rfetched ${done}/${total} batches`);
          else if (Math.floor((10 * done) / total) > tenth || done === total) {
            tenth = Math.floor((10 * done) / total);
            process.stderr.write(`fetched ${done}/${total} batches\n`);
          }
        });
        if (!flags.json && process.stderr.isTTY) process.stderr.write('\n');
        if (out !== undefined) await writeFile(out, `${JSON.stringify(await unionOf(got, runtime))}\n`);
        if (flags.outputs) await writeOutputLines(flags.outputs, got);
        let image: string | undefined;
        if (flags.png) {
          const { gridPng } = await import('../market/png.ts');
          const size = runtime.size ?? got.batches.at(-1)?.end ?? 0;
          const w = width ?? Math.round(Math.sqrt(2 * size));
          await writeFile(flags.png, gridPng(outputReader(got), w, Math.ceil(size / w)));
          image = flags.png;
        }
        const complete = runtime.size != null && got.mcus >= runtime.size;
        const summary = {
          batches: got.batches.length,
          mcus: got.mcus,
          size: runtime.size,
          complete,
          ...(out ? { out } : {}),
          ...(flags.outputs ? { outputs: flags.outputs } : {}),
          ...(image ? { png: image } : {}),
        };
        print(summary, flags.json ?? false, () =>
          table([
            ['batches', got.batches.length],
            [
              'MCUs',
              `${got.mcus.toLocaleString('en')} of ${runtime.size?.toLocaleString('en') ?? 'unbounded'}` +
                (complete ? '' : ` paid so far: partial results (progress: zi contract status ${hex})`),
            ],
            ['union', out ?? `not built (over ${MAX_UNION_ROWS.toLocaleString('en')} MCUs; see --outputs)`],
            ...(flags.outputs ? [['outputs', flags.outputs] as [string, unknown]] : []),
            ...(image ? [['image', image] as [string, unknown]] : []),
          ]),
        );
      } finally {
        runtime.dispose();
      }
    },
  );

  withClientOptions(
    contract
      .command('status')
      .description(
        'progress, MCUs solved, leased and remaining, Li paid and left, pace, ETA and who serves it (--json: the record)',
      )
      .argument('<id>', 'contract id'),
  ).action(async (id: string, flags: ClientFlags) => {
    const { rpc } = await connect(flags);
    const s = await rpc.call<StatusReport>('getcontractstatus', { id: contractId(id) });
    print(s, flags.json ?? false, () => contractStatusView(s));
  });

  contract
    .command('run')
    .description('run a contract locally in the sandbox, before paying for anything')
    .argument('<file>', 'contract code')
    .option('--from <i>', 'first MCU index', '0')
    .option('--count <n>', 'how many MCUs (default 10, or up to the last MCU of a smaller contract)')
    .option('--memory <MiB>', 'sandbox memory', '128')
    .option('--timeout <ms>', 'sandbox CPU time for the batch', '60000')
    .option('--sample-rate <permille>', 'share of the MCUs that validate recomputes, per mille', '10')
    .option('--json', 'print JSON for scripts', false)
    .action(
      async (
        file: string,
        flags: { from: string; count?: string; memory: string; timeout: string; sampleRate: string; json: boolean },
      ) => {
        const code = await readCode(file);
        const { checkContractCode, loadContract } = await sandbox();
        checkContractCode(code);
        const runtime = await loadContract(code, {
          memoryLimitMiB: wholeNumber(flags.memory, '--memory', 8, 1024),
          timeoutMs: wholeNumber(flags.timeout, '--timeout', 1, 300_000),
        });
        try {
          const from = wholeNumber(flags.from, '--from', 0, Number.MAX_SAFE_INTEGER);
          const left = runtime.size === null ? Number.POSITIVE_INFINITY : runtime.size - from;
          if (left <= 0) {
            throw new ContractCliError(
              'BAD_OPTION',
              `--from ${from} is past the contract's last MCU: it has ${runtime.size} (indices 0 to ${runtime.size! - 1})`,
            );
          }
          const count =
            flags.count === undefined ? Math.min(10, left) : wholeNumber(flags.count, '--count', 1, 10_000_000);
          const t0 = performance.now();
          const result = await runtime.runRange(from, count);
          const seconds = (performance.now() - t0) / 1000;
          const rows = result.outputs.map((out, k) => [from + k, result.inputs[k], out]);
          // A fresh seed, as an authority draws one for each batch it receives.
          const seed = new Uint8Array(randomBytes(32));
          const valid = await runtime.validate(
            rows as never,
            seed,
            wholeNumber(flags.sampleRate, '--sample-rate', 1, 1000),
          );
          const summary = { size: runtime.size, from, count, seconds, mcuPerSecond: count / seconds, valid };
          print({ ...summary, rows }, flags.json, () =>
            [
              ...rows.slice(0, 20).map((r) => JSON.stringify(r)),
              ...(rows.length > 20 ? [`… ${rows.length - 20} more`] : []),
              '',
              table([
                ['MCUs', `${count} of ${runtime.size ?? 'unbounded'}, from index ${from}`],
                ['time', `${seconds.toFixed(3)} s (${Math.round(count / seconds)} MCU/s)`],
                ['validate', valid ? 'passes' : 'FAILS'],
              ]),
            ].join('\n'),
          );
        } finally {
          runtime.dispose();
        }
      },
    );
}
