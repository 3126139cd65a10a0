// node bench/economics/run.ts [NAME …] [--write-doc]
// Prints each simulation's tables (all of them without a NAME); --write-doc
// also puts them into docs/ECONOMICS.md, between its econ:NAME markers.
import { readFileSync, writeFileSync } from 'node:fs';
import { DOC_PATH, SIMULATIONS, withBlock } from './simulations.ts';

const args = process.argv.slice(2);
const write = args.includes('--write-doc');
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !SIMULATIONS.some((s) => s.name === n));
if (unknown.length > 0) {
  console.error(`unknown simulation ${unknown.join(', ')}; known: ${SIMULATIONS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
let doc = write ? readFileSync(DOC_PATH, 'utf8') : '';
for (const sim of SIMULATIONS.filter((s) => names.length === 0 || names.includes(s.name))) {
  const t0 = performance.now();
  const text = sim.run();
  console.log(`## ${sim.name}\n\n${text}\n`);
  console.error(`(${sim.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  if (write) doc = withBlock(doc, sim.name, text);
}
if (write) writeFileSync(DOC_PATH, doc);
