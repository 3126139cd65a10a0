import { Command, CommanderError } from 'commander';
import { VERSION } from '../node/node.ts';
import { chainCommand } from './chain-command.ts';
import { contractCommand } from './contract-command.ts';
import { devnetCommand } from './devnet-command.ts';
import { nodeCommand } from './node-command.ts';
import { reportError } from './output.ts';
import { walletCommand } from './wallet-command.ts';

export function buildProgram(): Command {
  const program = new Command('zi')
    .description('Zi: a proof-of-work blockchain whose purpose is a marketplace for computation')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    // A fixed width keeps help (and docs/CLI.md, made from it) the same on every terminal.
    .configureHelp({ helpWidth: 100 });
  nodeCommand(program);
  walletCommand(program);
  chainCommand(program);
  contractCommand(program);
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
