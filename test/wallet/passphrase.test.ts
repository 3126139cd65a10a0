import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PassphraseError, readPassphrase } from '../../src/wallet/passphrase.ts';

function isPassphraseError(code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof PassphraseError, `expected PassphraseError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zi-pass-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readPassphrase: file and environment', () => {
  test('--passphrase-file: first line, trailing newline (LF or CRLF) stripped', async () => {
    const a = join(dir, 'a');
    await writeFile(a, 'hunter2 with spaces \n');
    assert.equal(await readPassphrase({ passphraseFile: a, env: {} }), 'hunter2 with spaces ');
    const b = join(dir, 'b');
    await writeFile(b, 'crlf-pass\r\nsecond line is ignored\n');
    assert.equal(await readPassphrase({ passphraseFile: b, env: {} }), 'crlf-pass');
    const c = join(dir, 'c');
    await writeFile(c, 'no-newline');
    assert.equal(await readPassphrase({ passphraseFile: c, env: {} }), 'no-newline');
  });

  test('the file wins over ZI_PASSPHRASE', async () => {
    const f = join(dir, 'wins');
    await writeFile(f, 'from-file\n');
    assert.equal(await readPassphrase({ passphraseFile: f, env: { ZI_PASSPHRASE: 'from-env' } }), 'from-file');
  });

  test('ZI_PASSPHRASE is used when there is no file', async () => {
    assert.equal(await readPassphrase({ env: { ZI_PASSPHRASE: 'from-env' } }), 'from-env');
  });

  test('missing or empty passphrase file → typed errors', async () => {
    await assert.rejects(readPassphrase({ passphraseFile: join(dir, 'missing'), env: {} }), (err: unknown) => {
      isPassphraseError('FILE_UNREADABLE')(err);
      assert.match((err as Error).message, /missing/);
      return true;
    });
    const empty = join(dir, 'empty');
    await writeFile(empty, '\nsecond');
    await assert.rejects(readPassphrase({ passphraseFile: empty, env: {} }), isPassphraseError('EMPTY'));
    await assert.rejects(readPassphrase({ passphraseFile: dir, env: {} }), isPassphraseError('FILE_UNREADABLE'));
  });

  test('ZI_PASSPHRASE set but empty is an error, not an empty passphrase', async () => {
    await assert.rejects(readPassphrase({ env: { ZI_PASSPHRASE: '' } }), isPassphraseError('EMPTY'));
  });

  test('no source and stdin not a terminal → NO_SOURCE telling the user what to do', async () => {
    const input = new PassThrough();
    input.end('typed-into-a-pipe\n');
    await assert.rejects(readPassphrase({ env: {}, input, output: new PassThrough() }), (err: unknown) => {
      isPassphraseError('NO_SOURCE')(err);
      assert.match((err as Error).message, /--passphrase-file/);
      assert.match((err as Error).message, /ZI_PASSPHRASE/);
      return true;
    });
  });
});

// The interactive path needs a real terminal: run a child under `script`,
// which gives it a pseudo-terminal, and type into it.
const hasScript = spawnSync('script', ['--version']).status === 0;
const child = fileURLToPath(new URL('./passphrase-child.ts', import.meta.url));

async function typeInto(keys: string[], args: string[] = []): Promise<{ code: number | null; out: string }> {
  const cmd = [process.execPath, child, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const proc = spawn('script', ['-qefc', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let next = 0;
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d: string) => {
    out += d;
    // Type only once a prompt is shown, i.e. once raw mode is on; earlier
    // keystrokes would go through the terminal's cooked mode and be echoed.
    const prompts = out.split('assphrase: ').length - 1;
    while (next < keys.length && next < prompts) proc.stdin.write(keys[next++]!);
  });
  const timer = setTimeout(() => proc.kill(), 20_000);
  const code = await new Promise<number | null>((resolve) => proc.on('close', resolve));
  clearTimeout(timer);
  proc.stdin.destroy();
  return { code, out };
}

describe('readPassphrase: interactive terminal', { skip: hasScript ? false : 'script(1) not available' }, () => {
  test('reads a line with echo off; backspace removes a character', async () => {
    const { code, out } = await typeInto(['hunter3\u007f2!\r']);
    assert.equal(code, 0, out);
    assert.match(out, /RESULT:"hunter2!"/);
    assert.ok(!out.includes('hunter3'), 'the passphrase must not be echoed');
  });

  test('Ctrl-U erases, arrow keys are ignored', async () => {
    const { out } = await typeInto(['wrong\u0015ri\u001b[Dght\r']);
    assert.match(out, /RESULT:"right"/);
  });

  test('confirmation: matching entries pass, differing ones fail with MISMATCH', async () => {
    const ok = await typeInto(['same\r', 'same\r'], ['confirm']);
    assert.match(ok.out, /RESULT:"same"/);
    const bad = await typeInto(['one\r', 'two\r'], ['confirm']);
    assert.match(bad.out, /ERROR:MISMATCH/);
  });

  test('Ctrl-C aborts with ABORTED', async () => {
    const { out } = await typeInto(['abc\u0003']);
    assert.match(out, /ERROR:ABORTED/);
  });
});
