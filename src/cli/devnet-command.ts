import type { Command } from 'commander';
import { parseAmount } from '../chain/amount.ts';
import { wholeNumber } from '../node/config.ts';

export function devnetCommand(program: Command): void {
  program
    .command('devnet')
    .description(
      'the whole market on this machine: mining nodes, a Bidder posting the Mandelbrot example, Solvers solving it, and the image',
    )
    .option('--dir <dir>', 'where the nodes keep their data and logs, kept (default: a temp dir, removed at the end)')
    .option('--out <file>', 'where to write the image', 'mandelbrot.png')
    .option('--miners <n>', 'mining nodes', '3')
    .option('--solvers <n>', 'Solver nodes', '2')
    .option('--scale <n>', 'Mandelbrot grid points per unit: 4·scale × 2·scale MCUs', '500')
    .option('--price <amount>', 'pay per MCU', '20li')
    .option('--explorer-port <port>', "node1's web explorer port (default: a free one; the URL is printed)")
    .option('--keep', 'keep the devnet running after the contract is solved, and its dir (Ctrl-C stops it)', false)
    .action(async (flags) => {
      const options = {
        dir: flags.dir,
        image: flags.out,
        miners: wholeNumber(flags.miners, '--miners', 1, 8),
        solvers: wholeNumber(flags.solvers, '--solvers', 1, 8),
        scale: wholeNumber(flags.scale, '--scale', 10, 5000),
        price: parseAmount(flags.price, '--price'),
        keep: flags.keep,
        explorerPort: wholeNumber(flags.explorerPort ?? '0', '--explorer-port', 0, 65535),
      };
      const { Devnet, devnetBudget } = await import('../devnet/devnet.ts');
      // Every option is checked before the first node starts.
      devnetBudget(options);
      const interrupted = new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await new Devnet({
        ...options,
        out: (line) => process.stdout.write(`${line}\n`),
        interrupted,
      }).run();
    });
}
