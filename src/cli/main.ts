import { Command, CommanderError } from 'commander';
import { VERSION } from '../node/version.ts';
import { adminCommands } from './admin-command.ts';
import { auditCommand } from './audit-command.ts';
import { chainCommand } from './chain-command.ts';
import { contractCommand } from './contract-command.ts';
import { devnetCommand } from './devnet-command.ts';
import { fundCommand } from './fund-command.ts';
import { nodeCommand } from './node-command.ts';
import { reportError, usageLine } from './output.ts';
import { applySettings } from './settings.ts';
import { validatorCommand } from './validator-command.ts';
import { walletCommand } from './wallet-command.ts';

/** An argument like "-1li" or "-5": a negative number, which Commander would take for an unknown option. */
const NEGATIVE = /^-\d/;
const MARK = '\u0000';
const unmark = (v: unknown): unknown =>
  typeof v === 'string' && v.startsWith(MARK) ? v.slice(1) : Array.isArray(v) ? v.map(unmark) : v;

/**
 * No zi value is negative, but "-1li" must reach the check of the value it
 * was meant for, so the user reads "amount must not be negative" rather than
 * "unknown option '-1li'". Commander sees such arguments marked as plain
 * words; the mark comes off before any action runs.
 */
class ZiCommand extends Command {
  override createCommand(name?: string): Command {
    return new ZiCommand(name);
  }

  override parseOptions(argv: string[]): { operands: string[]; unknown: string[] } {
    const r = super.parseOptions(argv.map((a) => (NEGATIVE.test(a) ? MARK + a : a)));
    return { operands: r.operands.map((a) => unmark(a) as string), unknown: r.unknown.map((a) => unmark(a) as string) };
  }
}

export function buildProgram(): Command {
  const program = new ZiCommand('zi')
    .description('Zi: a proof-of-work blockchain whose purpose is a marketplace for computation')
    .version(VERSION)
    .configureOutput({ outputError: (text, write) => write(usageLine(text)) })
    .exitOverride()
    // An option after a sub-command belongs to it: `zi solve status --datadir X` asks the Solver in X.
    .enablePositionalOptions()
    // A fixed width keeps help (and docs/CLI.md, made from it) the same on every terminal.
    .configureHelp({ helpWidth: 100 })
    .hook('preAction', async (_program, action) => {
      for (const [key, value] of Object.entries(action.opts())) {
        action.setOptionValueWithSource(key, unmark(value), action.getOptionValueSource(key));
      }
      // Flags beat the environment, which beats zi.conf (settings.ts).
      await applySettings(program, action);
    });
  nodeCommand(program);
  walletCommand(program);
  chainCommand(program);
  contractCommand(program);
  validatorCommand(program);
  auditCommand(program);
  fundCommand(program);
  adminCommands(program);
  devnetCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    return reportError(err);
  }
}
