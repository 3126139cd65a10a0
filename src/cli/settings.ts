import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { ZiError } from '../chain/errors.ts';
import { defaultDatadir } from '../node/config.ts';

export class SettingsError extends ZiError<'BAD_CONFIG'> {}

/** The config file of a data dir, like Bitcoin Core's bitcoin.conf. */
export const CONF_FILE = 'zi.conf';

/** commander's accumulator for repeatable options; settings recognise such options by it. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--rpc-port` is set by ZI_RPC_PORT. */
export function envName(option: Option): string {
  return `ZI_${optionKey(option).replaceAll('-', '_').toUpperCase()}`;
}

/** `--rpc-port` is `rpc-port` in zi.conf. */
function optionKey(option: Option): string {
  return (option.long ?? '').replace(/^--/, '');
}

/** These say where the file is, so the file cannot set them. */
const LOCATION = new Set(['network', 'datadir']);

/**
 * zi.conf: `key=value` lines (the option's long name without dashes), `#`
 * comments, and `[command]` sections (`[solve]`, `[contract post]`) whose
 * lines apply to that command only. A repeatable option takes one line per
 * value. Keys before any section apply to every command that has the option.
 */
export interface Conf {
  file: string;
  /** Section ('' for the top) → key → values in file order, with the line each came from. */
  sections: Map<string, Map<string, { value: string; line: number }[]>>;
}

export function parseConf(text: string, file: string): Conf {
  const sections: Conf['sections'] = new Map([['', new Map()]]);
  let section = '';
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    const at = `${file} line ${i + 1}`;
    if (line === '' || line.startsWith('#')) return;
    const head = /^\[\s*([a-z][a-z ]*?)\s*\]$/.exec(line);
    if (head) {
      section = head[1]!.replace(/\s+/g, ' ');
      if (!sections.has(section)) sections.set(section, new Map());
      return;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new SettingsError('BAD_CONFIG', `${at}: expected key=value, got "${line.slice(0, 60)}"`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const keys = sections.get(section)!;
    keys.set(key, [...(keys.get(key) ?? []), { value, line: i + 1 }]);
  });
  return { file, sections };
}

/** Every command of the program by its path after `zi` ("node", "contract post"). */
function commandsOf(program: Command): Map<string, Command> {
  const out = new Map<string, Command>();
  const walk = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) {
      const p = [...path, sub.name()];
      out.set(p.join(' '), sub);
      walk(sub, p);
    }
  };
  walk(program, []);
  return out;
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Refuses what no command could use: a typo must not pass as a setting that does nothing. */
function checkConf(conf: Conf, program: Command): void {
  const commands = commandsOf(program);
  const everyKey = new Set([...commands.values()].flatMap((c) => c.options.map(optionKey)));
  for (const [section, keys] of conf.sections) {
    const cmd = section === '' ? undefined : commands.get(section);
    if (section !== '' && !cmd) {
      const first = [...keys.values()][0]?.[0]?.line;
      throw new SettingsError(
        'BAD_CONFIG',
        `${conf.file}: unknown section [${section}]${first ? ` (before line ${first})` : ''}: sections name a command, e.g. [node] or [contract post]`,
      );
    }
    const known = cmd ? new Set(cmd.options.map(optionKey)) : everyKey;
    for (const [key, entries] of keys) {
      const at = `${conf.file} line ${entries[0]!.line}`;
      if (LOCATION.has(key)) {
        throw new SettingsError(
          'BAD_CONFIG',
          `${at}: ${key} cannot be set in ${CONF_FILE}, which is found through it: use --${key} or ZI_${key.toUpperCase()}`,
        );
      }
      if (!known.has(key)) {
        throw new SettingsError(
          'BAD_CONFIG',
          `${at}: unknown setting "${key}"${section ? ` for zi ${section}` : ''} (settings are option names without dashes, e.g. rpc-port=18445)`,
        );
      }
    }
  }
}

function booleanValue(text: string, where: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new SettingsError('BAD_CONFIG', `${where}: expected 1 or 0 (true or false), got "${text}"`);
}

/** Where an option's value came from, as `zi` reports it in errors about settings. */
type Source = 'env' | 'config';

/**
 * Fills the options of the command about to run that were not given as
 * flags: from the environment (ZI_<OPTION>), else from zi.conf in the data
 * dir, else their defaults stay. So a flag beats the environment, which
 * beats the file. The data dir and network come from flags or the
 * environment only, since they locate the file.
 */
export async function applySettings(
  program: Command,
  cmd: Command,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const given = (name: string) => cmd.getOptionValueSource(name) === 'cli';
  const fromEnv = (option: Option): string | undefined => {
    const v = env[envName(option)];
    return v === undefined || v === '' ? undefined : v;
  };
  const opt = (key: string) => cmd.options.find((o) => optionKey(o) === key);
  const located = (key: string): string | undefined => {
    const o = opt(key);
    if (!o) return undefined;
    return given(o.attributeName()) ? (cmd.getOptionValue(o.attributeName()) as string) : fromEnv(o);
  };
  const network = located('network') ?? 'devnet';
  const datadir = located('datadir') ?? defaultDatadir(network, env);
  const conf = await readConf(join(datadir, CONF_FILE));
  if (conf) checkConf(conf, program);
  const section = commandPath(cmd);
  for (const o of cmd.options) {
    const name = o.attributeName();
    if (given(name)) continue;
    const key = optionKey(o);
    const envText = fromEnv(o);
    let values: string[] | undefined;
    let where: string;
    let source: Source;
    if (envText !== undefined) {
      values = o.parseArg === collect ? envText.split(/[\s,]+/).filter(Boolean) : [envText];
      where = envName(o);
      source = 'env';
    } else {
      const entries = conf?.sections.get(section)?.get(key) ?? conf?.sections.get('')?.get(key);
      if (!entries || LOCATION.has(key)) continue;
      values = entries.map((e) => e.value);
      where = `${conf!.file} line ${entries.at(-1)!.line}`;
      source = 'config';
    }
    if (o.negate) {
      // `no-wait=1` in the file, or ZI_NO_WAIT=1, turns the option off as --no-wait does.
      cmd.setOptionValueWithSource(name, !booleanValue(values.at(-1)!, where), source);
    } else if (o.isBoolean()) {
      cmd.setOptionValueWithSource(name, booleanValue(values.at(-1)!, where), source);
    } else if (o.parseArg === collect) {
      cmd.setOptionValueWithSource(name, values, source);
    } else {
      cmd.setOptionValueWithSource(name, values.at(-1), source);
    }
  }
}

async function readConf(file: string): Promise<Conf | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    // No file, or no data dir to hold one (the command itself says what is wrong with that).
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new SettingsError('BAD_CONFIG', `cannot read ${file}: ${(err as Error).message}`);
  }
  return parseConf(text, file);
}
