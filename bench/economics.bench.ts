// The quick economics simulations (docs/ECONOMICS.md); the assignment ones
// take longer and run with `node bench/economics/run.ts`.
import { SIMULATIONS } from './economics/simulations.ts';

for (const sim of SIMULATIONS.filter((s) => s.quick)) console.log(`### ${sim.name}\n\n${sim.run()}\n`);
