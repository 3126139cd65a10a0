// Helper for passphrase.test.ts: runs under a pseudo-terminal and reports
// what readPassphrase returned.
import { PassphraseError, readPassphrase } from '../../src/wallet/passphrase.ts';

try {
  const value = await readPassphrase({ env: {}, confirm: process.argv[2] === 'confirm', output: process.stdout });
  process.stdout.write(`RESULT:${JSON.stringify(value)}\n`);
} catch (err) {
  process.stdout.write(`ERROR:${err instanceof PassphraseError ? err.code : String(err)}\n`);
}
