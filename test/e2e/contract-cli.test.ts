import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/chain.ts';
import { runZi, runZiOk, startNode, ZI_SOLVE } from '../support/cli.ts';
import { SQUARE_CODE } from '../support/market.ts';

test('a Bidder posts, inspects, tops up and closes a contract with the CLI; a Solver finds no authority', async (t) => {
  const home = await tempDir(t, 'zi-e2e-contract-');
  const env = { ZI_HOME: home };
  const pass = join(home, 'pass');
  await writeFile(pass, 'bidder passphrase\n');
  const code = join(home, 'square.js');
  await writeFile(code, SQUARE_CODE);
  await runZiOk(['wallet', 'create', '--passphrase-file', pass], env);
  const node = await startNode(['--mine', '--threads', '1'], env);
  t.after(() => node.stop());
  await node.waitFor((l) => l.msg === 'mined block' && Number(l.height) >= 1);

  const local = JSON.parse(await runZiOk(['contract', 'run', code, '--from', '7', '--count', '3', '--json'], env));
  assert.deepEqual(local.rows, [
    [7, 7, 49],
    [8, 8, 64],
    [9, 9, 81],
  ]);

  const broken = join(home, 'broken.js');
  await writeFile(broken, 'function input(i) { return i; }\nfunction mcu(x) {\n  return x +;\n}\n');
  const refused = await runZi(
    ['contract', 'post', broken, '--price', '10li', '--budget', '1', '--passphrase-file', pass],
    env,
  );
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /COMPILE_ERROR.*line 3/);
  const post = (...flags: string[]) =>
    runZi(['contract', 'post', code, '--price', '10li', '--passphrase-file', pass, ...flags], env);
  const badRate = await post('--budget', '1', '--sample-rate', '1001');
  assert.equal(badRate.code, 1);
  assert.match(badRate.stderr, /BAD_OPTION.*--sample-rate must be a whole number from 1 to 1000/);
  // 1,000 MCUs at 10 Li and the fees of their 10 payouts (1, 2, … 512 MCUs) at 320 Li each.
  const small = await post('--budget', '13199li');
  assert.equal(small.code, 1);
  assert.match(small.stderr, /BAD_OPTION.*at least 0\.0000132 Zi/);

  const postRun = await runZi(
    [
      'contract',
      'post',
      code,
      '--price',
      '10li',
      '--budget',
      '0.00002',
      '--sample-rate',
      '25',
      '--passphrase-file',
      pass,
      '--wait',
      '--json',
    ],
    env,
  );
  assert.equal(postRun.code, 0, postRun.stderr);
  const posted = JSON.parse(postRun.stdout);
  assert.equal(posted.size, 1_000_000);
  // This node runs without --bidder: nobody would answer the Solvers.
  assert.match(postRun.stderr, /^warning: no node serves this contract yet: .*zi node --bidder/);
  assert.match(posted.warning, /no node serves this contract yet/);

  const status = await runZiOk(['contract', 'status', posted.id], env);
  assert.match(status, /progress +\[░{24}\] 0\.0 % {2}0 of 1,000,000 MCUs paid/);
  assert.match(status, /escrow left +20,000 Li \(0\.00002 Zi\), enough for about 2,000 more MCUs/);
  assert.match(status, /authority +the Bidder zid1\S+, on another node \(this one does not serve it\)/);
  assert.match(status, /ETA +unknown/);

  // Results before any payout say they are partial and where to look.
  const early = await runZiOk(['contract', 'results', posted.id], env);
  assert.match(
    early,
    new RegExp(`MCUs +0 of 1,000,000 paid so far: partial results \\(progress: zi contract status ${posted.id}\\)`),
  );
  assert.equal(JSON.parse(await runZiOk(['contract', 'results', posted.id, '--json'], env)).complete, false);

  // Not a Validator: status says what it takes; a stake from an address that is not active is refused with
  // what makes it active, before any passphrase is asked (none could be typed here).
  const noStake = await runZiOk(['validator', 'status'], env);
  assert.match(noStake, /^stake +none: zi validator stake AMOUNT \(at least R, from an active address\)$/m);
  assert.match(noStake, /^R +1 Zi \(the least a stake may be now\)$/m);
  const stake = await runZi(['validator', 'stake', '1'], env);
  assert.equal(stake.code, 1);
  assert.match(
    stake.stderr,
    /^error \[NOT_ACTIVE\]: a Validator's address must be active, and (zid1\S+) is not: 1 of 10 transactions in the last 30 days\. 9 more make it active; .*zi wallet send \1 0\.001\n$/,
  );

  // A Solver that finds the contract says, through `zi solve status`, what it waits for.
  // The Bidder's own key will do for solving here (a new wallet costs a second of scrypt).
  const solverDir = join(home, 'solver');
  const started = await node.waitFor((l) => l.msg === 'p2p started');
  const addr = (started.listen as string[])[0]!;
  const solver = await startNode(
    [
      '--datadir',
      solverDir,
      '--wallet',
      join(home, 'devnet', 'wallet.json'),
      '--passphrase-file',
      pass,
      '--peer',
      addr,
    ],
    env,
    ZI_SOLVE,
  );
  t.after(() => solver.stop());
  const asking = await solver.waitFor((l) => /^waiting: asking the authority of/.test(String(l.msg)));
  assert.equal(asking.state, 'waiting');
  const solving = JSON.parse(await runZiOk(['solve', 'status', '--datadir', solverDir, '--json'], env));
  assert.equal(solving.activity.state, 'waiting');
  assert.match(solving.activity.reason, new RegExp(`^asking the authority of ${posted.id.slice(0, 16)}`));
  assert.equal(solving.earned, '0');
  assert.ok(solving.uptimeSeconds >= 0 && typeof solving.startedAt === 'string');
  assert.equal(JSON.parse(await runZiOk(['stop', '--datadir', solverDir, '--json'], env)).stopped, true);
  assert.equal(await solver.stop(), 0);
  const list = JSON.parse(await runZiOk(['contract', 'list', '--json'], env));
  assert.deepEqual(
    list.map((c: { id: string }) => c.id),
    [posted.id],
  );
  await runZiOk(['contract', 'topup', posted.id, '5000li', '--passphrase-file', pass, '--wait'], env);
  const shown = JSON.parse(await runZiOk(['contract', 'show', posted.id, '--code', '--json'], env));
  assert.equal(shown.escrow, '25000');
  assert.equal(shown.status, 'open');
  assert.equal(shown.code, SQUARE_CODE);
  assert.deepEqual(shown.paidRanges, []);
  assert.equal(shown.sampleRate, 25);
  assert.equal(JSON.parse(await runZiOk(['contract', 'status', posted.id, '--json'], env)).sampleRate, 25);
  const info = JSON.parse(await runZiOk(['chain', 'info', '--json'], env));
  assert.equal(info.difficulty.openProblems, 1);

  const close = JSON.parse(
    await runZiOk(['contract', 'close', posted.id, '--passphrase-file', pass, '--wait', '--json'], env),
  );
  assert.match(await runZiOk(['chain', 'tx', close.txid], env), /^refund +0\.000025 Zi \(25000 Li\)$/m);
  const closed = JSON.parse(await runZiOk(['contract', 'show', posted.id, '--json'], env));
  assert.equal(closed.status, 'closed');
  assert.equal(closed.escrow, '0');
  assert.deepEqual(JSON.parse(await runZiOk(['contract', 'list', '--json'], env)), []);

  // Every entry has an amount and a counterparty; the close says what came back.
  const history = (await runZiOk(['wallet', 'history', '--limit', '1000'], env)).split('\n');
  const short = `${posted.id.slice(0, 16)}…`;
  const line = (pattern: RegExp) => history.find((l) => pattern.test(l));
  assert.ok(
    line(new RegExp(`\\+0\\.000025 Zi {2}escrow back from contract ${short} \\(fee \\d+ Li\\)`)),
    history.join('\n'),
  );
  assert.ok(line(new RegExp(`-0\\.000005 Zi {2}into the escrow of contract ${short}`)), history.join('\n'));
  assert.ok(line(new RegExp(`-0\\.00002 Zi {2}into the escrow of contract ${short}`)), history.join('\n'));
  assert.ok(line(/\+50 Zi \+ fees {2}mining reward/));
  assert.ok(!history.some((l) => /undefined/.test(l)), history.join('\n'));
  // Without mining rewards the limit counts transactions only: the newest two are the close and the topup.
  const txsOnly = (await runZiOk(['wallet', 'history', '--no-rewards', '--limit', '2'], env)).trim().split('\n');
  assert.equal(txsOnly.length, 2, txsOnly.join('\n'));
  assert.match(txsOnly[0]!, /escrow back from contract/);
  assert.match(txsOnly[1]!, /-0\.000005 Zi {2}into the escrow of contract/);
  // `rpc help` as bitcoin-cli prints it: signatures, or one method with its params.
  const help = await runZiOk(['rpc', 'help'], env);
  assert.match(help, /^getblockhash height$/m);
  assert.match(help, /^gethistory address \[limit\] \[rewards\]$/m);
  assert.match(
    await runZiOk(['rpc', 'help', 'getblockhash'], env),
    /^getblockhash height\n\n.+\n\nparams:\n {2}height {2}integer\n$/,
  );
  assert.match((await runZi(['rpc', 'help', 'nosuch'], env)).stderr, /NOT_FOUND\]: no method nosuch/);
  assert.ok(JSON.parse(await runZiOk(['rpc', 'help', '--json'], env)).some((m: { name: string }) => m.name === 'stop'));
  // bitcoin-cli's generic call (a string result bare, others as JSON) and stop.
  assert.match(await runZiOk(['rpc', 'getblockhash', '0'], env), /^[0-9a-f]{64}\n$/);
  const bidder = /the Bidder (zid1[a-z0-9]+)/.exec(status)![1]!;
  const acct = JSON.parse(await runZiOk(['rpc', 'getaccount', '--named', `address=${bidder}`], env));
  assert.equal(acct.address, bidder);
  assert.match(await runZiOk(['stop'], env), /^node stopped\n$/);
  assert.equal(await node.stop(), 0);
});
