// Builds the native mining kernel (build/Release/zi_pow.node) and the native
// hasher block validation uses (build/Release/zi_hash.node) with node-gyp.
// Runs as the package's install script, so `npm ci` on a fresh clone builds it.
// A failed build must never fail the install: the miner then falls back to its
// JavaScript kernel and validation to one node:crypto call per hash, each
// warning when it starts. Plain JavaScript (not TypeScript) so that any Node
// that npm happens to run can execute it.
//
// ZI_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function warn(message) {
  console.warn(`zi: native mining kernel not built: ${message}`);
  console.warn('zi: the miner will use its JavaScript kernel (several times slower). Retry with: npm run install');
}

const hasHeaders = (dir) => existsSync(join(dir, 'include', 'node', 'node_api.h'));

// Node-API is ABI-stable, so any Node's headers build a binary that loads in
// this Node. Local headers first: node-gyp's fallback downloads them.
function findNodedir() {
  const prefix = dirname(dirname(process.execPath));
  const candidates = [
    process.env.npm_config_nodedir,
    prefix,
    // The `node` npm package keeps the real install, headers included, in a per-platform package.
    join(prefix, 'node_modules', `node-${process.platform}-${process.arch}`),
    join(root, 'node_modules', 'node', 'node_modules', `node-${process.platform}-${process.arch}`),
    '/usr/local',
    '/usr',
  ];
  return candidates.find((dir) => dir && hasHeaders(dir));
}

// npm hands its bundled node-gyp to scripts; run by hand, find npm's on the PATH.
function nodeGypCommand() {
  const bundled = process.env.npm_config_node_gyp;
  if (bundled && existsSync(bundled)) return [process.execPath, [bundled]];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const npm = join(dir, 'npm');
    if (!dir || !existsSync(npm)) continue;
    const script = join(dirname(realpathSync(npm)), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(script)) return [process.execPath, [script]];
  }
  return [process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp', []];
}

function main() {
  if (process.env.ZI_SKIP_NATIVE === '1') {
    console.warn('zi: ZI_SKIP_NATIVE=1, native mining kernel not built');
    return;
  }
  const [cmd, pre] = nodeGypCommand();
  const args = [...pre, 'rebuild'];
  const nodedir = findNodedir();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    warn(r.error ? r.error.message : `node-gyp exited with ${r.status}\n${output}`);
    return;
  }
  const require = createRequire(import.meta.url);
  try {
    const addon = require(join(root, 'build', 'Release', 'zi_pow.node'));
    console.log(`zi: native mining kernel built (${addon.hasShaNi() ? 'sha-ni' : 'native-scalar'})`);
  } catch (err) {
    warn(`it was built but does not load: ${err.message}`);
  }
  try {
    require(join(root, 'build', 'Release', 'zi_hash.node'));
    console.log('zi: native hasher built');
  } catch (err) {
    console.warn(`zi: native hasher built but does not load: ${err.message.split('\n')[0]}`);
    console.warn('zi: block validation will hash one digest per call (slower). Retry with: npm run install');
  }
}

main();
