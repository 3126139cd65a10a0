// Runs every bench/*.bench.ts in its own process, one after another, so one
// benchmark's threads and heap never disturb the next one's figures.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = import.meta.dirname;
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (files.length === 0) {
  const all = readdirSync(dir).filter((f) => f.endsWith('.bench.ts'));
  console.error(`error [NO_BENCH]: no benchmark matches ${only.join(', ')}; there are ${all.sort().join(', ')}`);
  process.exit(1);
}
const minutes = (ms: number) => `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
const t0 = performance.now();
let failed = 0;
for (const [i, f] of files.entries()) {
  console.log(`\n## ${f} (${i + 1} of ${files.length})`);
  const t = performance.now();
  const r = spawnSync(process.execPath, [join(dir, f)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
  console.log(`## ${f}: ${r.status === 0 ? 'done' : 'FAILED'} in ${minutes(performance.now() - t)}`);
}
console.log(`\n${files.length - failed} of ${files.length} benchmarks ran in ${minutes(performance.now() - t0)}`);
process.exit(failed === 0 ? 0 : 1);
