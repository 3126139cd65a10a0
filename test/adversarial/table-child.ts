/**
 * Child program of table-flips.test.ts: opens the chain in argv[2] and reads
 * everything back (or, with `reindex`, reindexes it first), then prints one
 * JSON line. Run apart, so that a native abort in LevelDB shows as a signal
 * instead of killing the test.
 */
import { Chain } from '../../src/chain/chain.ts';
import { ZiError } from '../../src/chain/errors.ts';
import { NETWORKS } from '../../src/chain/params.ts';
import { reindex } from '../../src/chain/reindex.ts';
import { coreRules } from '../../src/chain/tx-rules.ts';
import { dump } from './reference.ts';

const [path, mode] = [process.argv[2]!, process.argv[3]];
const opts = { path, params: NETWORKS.devnet, rules: coreRules(), clock: () => Date.now() };
try {
  if (mode === 'reindex') await reindex(opts, () => {});
  const chain = await Chain.open(opts);
  const d = await dump(chain);
  await chain.close();
  console.log(JSON.stringify({ ok: true, height: chain.height, tip: d.tip }));
} catch (err) {
  const code = err instanceof ZiError ? err.code : undefined;
  console.log(JSON.stringify({ ok: false, code, message: String((err as Error)?.message ?? err).split('\n')[0] }));
}
