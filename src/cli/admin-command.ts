import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { ZiError } from '../chain/errors.ts';
import { type ClientFlags, clientOptions, connect, endpointPath } from './client.ts';
import { print, table } from './output.ts';
import { grouped } from './status-line.ts';

export class AdminError extends ZiError<'BAD_PARAM' | 'STILL_RUNNING'> {}

/**
 * A parameter as bitcoin-cli reads it: JSON when it parses (numbers,
 * true/false, null, arrays, objects, quoted strings), otherwise the plain
 * string, so `zi rpc getblockhash 3` and `zi rpc getaccount zid1…` both work.
 */
export function rpcParam(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

type MethodHelp = { name: string; description: string; params: { name: string; type: string; optional: boolean }[] };

/**
 * `help`'s answer as bitcoin-cli prints it: the list as one signature a
 * line (optional params in brackets), one method with its description and
 * param types.
 */
export function helpText(methods: MethodHelp[], one: boolean): string {
  const signature = (m: MethodHelp) =>
    [m.name, ...m.params.map((p) => (p.optional ? `[${p.name}]` : p.name))].join(' ');
  if (!one) return `${methods.map(signature).join('\n')}\n(zi rpc help METHOD for one; docs/RPC.md)`;
  const m = methods[0]!;
  const params = m.params.map((p) => `  ${p.name}  ${p.type}${p.optional ? ', optional' : ''}`);
  return [signature(m), '', m.description, ...(params.length > 0 ? ['', 'params:', ...params] : [])].join('\n');
}

/** `key=value` pairs for `--named`, each value read as rpcParam reads it. */
export function namedParams(args: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new AdminError('BAD_PARAM', `with --named every param is key=value, got "${a}"`);
    out[a.slice(0, eq)] = rpcParam(a.slice(eq + 1));
  }
  return out;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** 2_500_000 → "2.5 MB", 48_200 → "48.2 kB". */
export function size(bytes: number): string {
  for (const [unit, n] of [
    ['GB', 1e9],
    ['MB', 1e6],
    ['kB', 1e3],
  ] as const) {
    if (bytes >= n) return `${(bytes / n).toFixed(1)} ${unit}`;
  }
  return `${bytes} bytes`;
}

export function adminCommands(program: Command): void {
  clientOptions(
    program
      .command('stop')
      .description('stop the running node (or Solver) cleanly, like bitcoin-cli stop')
      .option('--no-wait', 'return at once instead of waiting until the node has exited'),
  ).action(async (flags: ClientFlags & { wait: boolean }) => {
    const { rpc, datadir } = await connect(flags);
    let pid: number | undefined;
    try {
      pid = JSON.parse(await readFile(endpointPath(datadir), 'utf8')).pid as number;
    } catch {
      // A node found by --rpc-port alone: stopped, but not waited for.
    }
    await rpc.call('stop');
    if (flags.wait && pid !== undefined) {
      // Stopping saves mempool.dat and closes the databases: a few seconds at most.
      const deadline = Date.now() + 60_000;
      while (isAlive(pid)) {
        if (Date.now() > deadline) {
          throw new AdminError('STILL_RUNNING', `the node (pid ${pid}) asked to stop has not exited within 60 s`);
        }
        await sleep(100);
      }
    }
    const stopped = flags.wait && pid !== undefined;
    print({ stopping: true, stopped }, flags.json ?? false, () => (stopped ? 'node stopped' : 'node stopping'));
  });

  clientOptions(
    program
      .command('rpc')
      .description('call any JSON-RPC method, like bitcoin-cli: zi rpc getblockhash 3 (zi rpc help lists them)')
      .argument('<method>', 'method name, e.g. getinfo (docs/RPC.md)')
      .argument('[params...]', 'positional params, each read as JSON if it parses (3, true, [1,2]) else as text')
      .option('--named', 'params are key=value pairs instead of positional', false),
  ).action(async (method: string, params: string[], flags: ClientFlags & { named: boolean }) => {
    const { rpc } = await connect(flags);
    const result = await rpc.call(method, flags.named ? namedParams(params) : params.map(rpcParam));
    if (method === 'help' && !flags.json) {
      process.stdout.write(`${helpText(result as MethodHelp[], params.length > 0)}\n`);
      return;
    }
    // Like bitcoin-cli: a string result bare, anything else as JSON.
    process.stdout.write(typeof result === 'string' ? `${result}\n` : `${JSON.stringify(result, null, 2)}\n`);
  });

  const content = program.command('content').description("the node's IPFS store: results of paid batches");
  clientOptions(
    content
      .command('gc')
      .description(
        'free IPFS space: drop blocks not pinned and pins nothing needs; paid batches always stay (see --max-storage)',
      ),
  ).action(async (flags: ClientFlags) => {
    const { rpc } = await connect(flags);
    type Usage = { diskBytes: number; blocks: number; pins: number };
    const r = await rpc.call<{
      unpinned: number;
      deleted: number;
      freedBytes: number;
      keptBytes: number;
      protected: number;
      before: Usage;
      after: Usage;
      maxBytes: number | null;
    }>('gccontent');
    print(r, flags.json ?? false, () =>
      table([
        [
          'freed',
          `${size(r.freedBytes)} in ${grouped(r.deleted)} blocks (${grouped(r.unpinned)} unneeded pins dropped)`,
        ],
        ['kept', `${size(r.keptBytes)} in ${grouped(r.after.blocks)} pinned blocks (paid batches stay pinned)`],
        [
          'on disk',
          `${size(r.after.diskBytes)} (was ${size(r.before.diskBytes)}; the database shrinks as it compacts)`,
        ],
        ['limit', r.maxBytes === null ? 'none (zi node --max-storage)' : size(r.maxBytes)],
      ]),
    );
  });
}
