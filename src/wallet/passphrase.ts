/**
 * Where the CLI gets a keystore passphrase from, in order:
 *   1. --passphrase-file (first line; for scripts and services),
 *   2. the ZI_PASSPHRASE environment variable,
 *   3. an interactive prompt with echo off, when stdin is a terminal.
 * Never a command-line argument: those show up in `ps` and shell history.
 */
import { readFile, stat } from 'node:fs/promises';
import { ZiError } from '../chain/errors.ts';

export type PassphraseErrorCode = 'NO_SOURCE' | 'FILE_UNREADABLE' | 'EMPTY' | 'MISMATCH' | 'ABORTED';

export class PassphraseError extends ZiError<PassphraseErrorCode> {}

export const PASSPHRASE_ENV = 'ZI_PASSPHRASE';
const MAX_PASSPHRASE_FILE_BYTES = 64 * 1024;

export interface ReadPassphraseOptions {
  passphraseFile?: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to "Passphrase: ". */
  prompt?: string;
  /** Ask twice and require both entries to match (when creating a keystore). */
  confirm?: boolean;
  /** Defaults to process.stdin. */
  input?: NodeJS.ReadableStream;
  /** Where prompts go; defaults to process.stderr so stdout stays clean for pipes. */
  output?: NodeJS.WritableStream;
}

export async function readPassphrase(opts: ReadPassphraseOptions = {}): Promise<string> {
  if (opts.passphraseFile !== undefined) return readPassphraseFile(opts.passphraseFile);

  const env = opts.env ?? process.env;
  const fromEnv = env[PASSPHRASE_ENV];
  if (fromEnv !== undefined) {
    if (fromEnv.length === 0) {
      throw new PassphraseError('EMPTY', `${PASSPHRASE_ENV} is set but empty; unset it or give a passphrase`);
    }
    return fromEnv;
  }

  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stderr;
  if (!isTerminal(input)) {
    throw new PassphraseError(
      'NO_SOURCE',
      `no passphrase: stdin is not a terminal, so it cannot be asked for; use --passphrase-file FILE or set ${PASSPHRASE_ENV}`,
    );
  }
  const prompt = opts.prompt ?? 'Passphrase: ';
  const first = await promptHidden(input, output, prompt);
  if (first.length === 0) throw new PassphraseError('EMPTY', 'an empty passphrase is not allowed');
  if (opts.confirm) {
    const second = await promptHidden(input, output, 'Repeat passphrase: ');
    if (second !== first) throw new PassphraseError('MISMATCH', 'the two passphrases differ');
  }
  return first;
}

async function readPassphraseFile(path: string): Promise<string> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new PassphraseError('FILE_UNREADABLE', `passphrase file ${path} is not a regular file`);
    if (info.size > MAX_PASSPHRASE_FILE_BYTES) {
      throw new PassphraseError(
        'FILE_UNREADABLE',
        `passphrase file ${path} is larger than ${MAX_PASSPHRASE_FILE_BYTES} bytes`,
      );
    }
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof PassphraseError) throw err;
    const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'unknown error';
    throw new PassphraseError('FILE_UNREADABLE', `cannot read passphrase file ${path}: ${code}`, { path });
  }
  // First line only, so a file written by `echo` (trailing newline) or with a
  // comment below still works; CRLF from Windows editors is stripped too.
  const nl = text.indexOf('\n');
  let line = nl === -1 ? text : text.slice(0, nl);
  if (line.endsWith('\r')) line = line.slice(0, -1);
  if (line.length === 0)
    throw new PassphraseError('EMPTY', `passphrase file ${path} has an empty first line`, { path });
  return line;
}

interface TerminalInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

function isTerminal(input: NodeJS.ReadableStream): input is TerminalInput {
  const t = input as TerminalInput;
  return t.isTTY === true && typeof t.setRawMode === 'function';
}

/**
 * Reads one line in raw mode so nothing is echoed. Raw mode also turns off
 * the terminal's own line editing and signals, so backspace, Ctrl-U, Ctrl-C
 * and Ctrl-D are handled here.
 */
function promptHidden(input: TerminalInput, output: NodeJS.WritableStream, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const wasRaw = input.isRaw === true;
    // Raw mode before the prompt: whatever is typed once the prompt shows
    // must not go through the terminal's echo.
    input.setRawMode!(true);
    output.write(prompt);
    input.setEncoding('utf8');
    let chars: string[] = [];
    let inEscape = false;

    const finish = (err: PassphraseError | undefined): void => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      input.setRawMode!(wasRaw);
      input.pause();
      output.write('\n');
      const value = chars.join('');
      chars = [];
      if (err) reject(err);
      else resolve(value);
    };
    const onEnd = (): void => finish(new PassphraseError('ABORTED', 'input closed before a passphrase was entered'));
    const onData = (chunk: string | Buffer): void => {
      // Iterate by code point so backspace removes a whole character (é, emoji).
      for (const ch of String(chunk)) {
        if (inEscape) {
          // Skip an ANSI escape sequence (arrow keys…) up to its final byte.
          if (/[A-Za-z~]/.test(ch)) inEscape = false;
          continue;
        }
        switch (ch) {
          case '\r':
          case '\n':
            finish(undefined);
            return;
          case '\u0003': // Ctrl-C
            finish(new PassphraseError('ABORTED', 'interrupted'));
            return;
          case '\u0004': // Ctrl-D
            if (chars.length === 0) {
              finish(new PassphraseError('ABORTED', 'input closed before a passphrase was entered'));
              return;
            }
            break;
          case '\u007f': // DEL: what most terminals send for Backspace
          case '\b':
            chars.pop();
            break;
          case '\u0015': // Ctrl-U: erase the line
            chars = [];
            break;
          case '\u001b':
            inEscape = true;
            break;
          default:
            if (ch >= ' ') chars.push(ch);
        }
      }
    };
    input.on('data', onData);
    input.once('end', onEnd);
    input.resume();
  });
}
