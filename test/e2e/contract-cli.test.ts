import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/chain.ts';
import { runZi, runZiOk, startNode } from '../support/cli.ts';
import { SQUARE_CODE } from '../support/market.ts';

test('a Bidder posts, inspects, tops up and closes a contract with the CLI', async (t) => {
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

  const posted = JSON.parse(
    await runZiOk(
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
    ),
  );
  assert.equal(posted.size, 1_000_000);
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

  await runZiOk(['contract', 'close', posted.id, '--passphrase-file', pass, '--wait'], env);
  const closed = JSON.parse(await runZiOk(['contract', 'show', posted.id, '--json'], env));
  assert.equal(closed.status, 'closed');
  assert.equal(closed.escrow, '0');
  assert.deepEqual(JSON.parse(await runZiOk(['contract', 'list', '--json'], env)), []);
});
