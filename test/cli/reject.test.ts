/**
 * Bad input on the command line, through the real `zi` binary: each row is
 * refused with exactly one typed line on stderr, nothing on stdout, no stack,
 * and exit code 1. No node runs: every value is checked before the node is
 * asked anything.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/chain.ts';
import { runZi } from '../support/cli.ts';

const ADDR = 'zid1jgedhjsa95y88ajwpclj9mzh5cyvxyha4yf6z9';
const ID = 'a'.repeat(64);
const MANDELBROT = join(import.meta.dirname, '..', '..', 'examples', 'mandelbrot.js');
const MAX = 'at most 18446744073.709551615 Zi (18446744073709551615li)';

/** [arguments, the one line on stderr] */
const TABLE: [string[], string][] = [
  [
    ['wallet', 'send', ADDR, '18446744073709551616li'],
    `[AMOUNT_TOO_LARGE]: amount "18446744073709551616li" is too large: ${MAX}`,
  ],
  [
    ['wallet', 'send', ADDR, '18446744073.709551616'],
    `[AMOUNT_TOO_LARGE]: amount "18446744073.709551616" is too large: ${MAX}`,
  ],
  [['wallet', 'send', ADDR, '-1li'], '[NEGATIVE_AMOUNT]: amount must not be negative, got "-1li"'],
  [['wallet', 'send', ADDR, '-0.5'], '[NEGATIVE_AMOUNT]: amount must not be negative, got "-0.5"'],
  [['wallet', 'send', ADDR, '1', '--fee', '-1li'], '[NEGATIVE_AMOUNT]: --fee must not be negative, got "-1li"'],
  [
    ['wallet', 'send', ADDR, '1.0000000001'],
    '[BAD_AMOUNT]: amount "1.0000000001" is not valid: write Zi like 1.5 (up to 9 decimals) or Li like 250li',
  ],
  [
    ['wallet', 'send', ADDR, '1e3'],
    '[BAD_AMOUNT]: amount "1e3" is not valid: write Zi like 1.5 (up to 9 decimals) or Li like 250li',
  ],
  [
    ['wallet', 'send', 'zid1nope', '1'],
    '[BAD_ADDRESS]: "zid1nope" is not a valid Zi address (checksum or characters are wrong; check for a typo)',
  ],
  [['wallet', 'history', '--limit', '-5'], '[BAD_OPTION]: --limit must not be negative, got "-5"'],
  [
    ['wallet', 'balance', '--address', 'foo'],
    '[BAD_ADDRESS]: "foo" is not a valid Zi address (checksum or characters are wrong; check for a typo)',
  ],
  [['chain', 'block', '-1'], '[BAD_OPTION]: block height must not be negative, got "-1"'],
  [
    ['chain', 'block', '99999999999999999999'],
    '[BAD_OPTION]: block height must be a whole number from 0 to 9007199254740991, got "99999999999999999999"',
  ],
  [
    ['chain', 'block', 'abc'],
    '[BAD_OPTION]: a block is named by its height (0, 1, …) or its hash (64 hex characters), got "abc"',
  ],
  [['chain', 'tx', 'zz'], '[BAD_OPTION]: a transaction id must be 64 hex characters, got "zz"'],
  [
    ['chain', 'info', '--rpc-port', '70000'],
    '[BAD_OPTION]: --rpc-port must be a whole number from 1 to 65535, got "70000"',
  ],
  [['contract', 'show', 'abc'], '[BAD_OPTION]: a contract id must be 64 hex characters, got "abc"'],
  [['contract', 'topup', ID, '-5'], '[NEGATIVE_AMOUNT]: amount must not be negative, got "-5"'],
  [['contract', 'results', ID, '--width', '-1'], '[BAD_OPTION]: --width must not be negative, got "-1"'],
  [['contract', 'run', MANDELBROT, '--count', '-3'], '[BAD_OPTION]: --count must not be negative, got "-3"'],
  [
    ['contract', 'post', MANDELBROT, '--price', '18446744073709551615li', '--budget', '1'],
    '[BAD_OPTION]: --price is too large: a budget for 1,000 MCUs at it would be over the largest amount, 18446744073.709551615 Zi',
  ],
  [['node', '--threads', '0x10'], '[BAD_OPTION]: --threads must be a whole number from 1 to 256, got "0x10"'],
  [['node', '--rpc-port', '-1'], '[BAD_OPTION]: --rpc-port must not be negative, got "-1"'],
  [['solve', '--contract', 'abc'], '[BAD_OPTION]: --contract must be 64 hex characters, got "abc"'],
  [['solve', '--surplus-to-fund'], '[BAD_OPTION]: --surplus-to-fund is for bootstrap Solvers: add --bootstrap'],
  [['fund', 'give', '-1'], '[NEGATIVE_AMOUNT]: the gift must not be negative, got "-1"'],
  [
    ['node', '--max-storage', '20 parsecs'],
    '[BAD_OPTION]: --max-storage must be a size such as 500MB, 2GB or 1GiB, got "20 parsecs"',
  ],
  [['contract', 'post', MANDELBROT, '--budget', '1'], '[BAD_OPTION]: --price is required, e.g. --price 10li'],
  [['rpc', 'getblockhash', '--named', '3'], '[BAD_PARAM]: with --named every param is key=value, got "3"'],
  [['node', '--nope'], "[USAGE]: unknown option '--nope' (see --help)"],
  [['chian'], "[USAGE]: unknown command 'chian' (Did you mean chain?) (see --help)"],
  [['wallet', 'send', ADDR], "[USAGE]: missing required argument 'amount' (see --help)"],
];

function assertOneLine(r: { code: number | null; stdout: string; stderr: string }, line: string, what: string): void {
  assert.equal(r.stderr, `error ${line}\n`, what);
  assert.equal(r.stdout, '', what);
  assert.equal(r.code, 1, what);
}

test('bad values are refused with one typed line and exit code 1', { timeout: 120_000 }, async (t) => {
  const home = await tempDir(t, 'zi-reject-');
  const rows = [...TABLE];
  // Two at a time: the machine has two cores.
  const worker = async (): Promise<void> => {
    for (let row = rows.shift(); row; row = rows.shift()) {
      const [args, line] = row;
      assertOneLine(await runZi(args, { ZI_HOME: home }), line, `zi ${args.join(' ')}`);
    }
  };
  await Promise.all([worker(), worker()]);
});

async function occupy(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

test('a port in use or a data dir that is a file: one line, no stack', { timeout: 60_000 }, async (t) => {
  const home = await tempDir(t, 'zi-reject-');
  const taken = await occupy();
  t.after(() => taken.server.close());
  const file = join(home, 'a-file');
  await writeFile(file, '');
  const env = { ZI_HOME: home };
  const [rpc, p2p, datadir, walletless] = await Promise.all([
    runZi(['node', '--rpc-port', String(taken.port), '--listen', '/ip4/127.0.0.1/tcp/0'], env),
    runZi(
      ['node', '--rpc-port', '0', '--listen', `/ip4/127.0.0.1/tcp/${taken.port}`, '--datadir', join(home, 'b')],
      env,
    ),
    runZi(['node', '--rpc-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0', '--datadir', file], env),
    // Mining with no wallet and a port in use: the missing address is what to fix first.
    runZi(
      [
        'node',
        '--mine',
        '--rpc-port',
        '0',
        '--listen',
        `/ip4/127.0.0.1/tcp/${taken.port}`,
        '--datadir',
        join(home, 'c'),
      ],
      env,
    ),
  ]);
  // The node logs JSON lines on stdout while it starts; none may carry a stack.
  for (const r of [rpc, p2p, datadir, walletless]) assert.doesNotMatch(r.stdout, /"stack"|\n\s+at /);
  for (const r of [rpc, p2p, datadir, walletless]) r.stdout = '';
  assertOneLine(
    walletless,
    `[NO_MINER_ADDRESS]: --mine needs an address for the rewards: pass --miner-address, or create a wallet first (zi wallet create --datadir ${join(home, 'c')})`,
    'mining without a wallet',
  );
  assertOneLine(
    rpc,
    `[ADDRESS_IN_USE]: RPC port ${taken.port} on 127.0.0.1 is already in use (is another zi node running? choose another with --rpc-port)`,
    'rpc port',
  );
  assertOneLine(
    p2p,
    `[ADDRESS_IN_USE]: p2p address /ip4/127.0.0.1/tcp/${taken.port} is already in use (is another zi node running? choose another port with --listen)`,
    'p2p port',
  );
  assertOneLine(
    datadir,
    `[DATADIR_UNUSABLE]: cannot use ${file} as the data directory: a file is in the way`,
    'datadir',
  );
});

// Node's recursive mkdir never returns for a path under /proc: this hung.
test('a data dir where the file system allows none (/proc): one line, at once', {
  skip: !existsSync('/proc/self'),
}, async (t) => {
  const home = await tempDir(t, 'zi-reject-');
  const env = { ZI_HOME: home, ZI_PASSPHRASE: 'correct horse battery' };
  const [node, wallet] = await Promise.all([
    runZi(['node', '--rpc-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0', '--datadir', '/proc/zi-x'], env),
    runZi(['wallet', 'create', '--datadir', '/proc/zi-x'], env),
  ]);
  node.stdout = '';
  assertOneLine(
    node,
    '[DATADIR_UNUSABLE]: cannot use /proc/zi-x as the data directory: the file system does not allow a directory there (ENOENT)',
    'node',
  );
  assertOneLine(wallet, '[ENOENT]: cannot create /proc/zi-x: this file system does not allow it', 'wallet');
});
