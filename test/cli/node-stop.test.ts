import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { startNode, walletHome } from '../support/cli.ts';

test('a zi node asked to stop exits once it has stopped, not when a library timer lets it', async (t) => {
  const { env } = await walletHome(t, 'zi-stop-');
  const node = await startNode([], env);
  const exited = once(node.proc, 'exit');
  node.proc.kill('SIGTERM');
  await node.waitFor((l) => l.msg === 'stopped');
  const stoppedAt = performance.now();
  const [code] = await exited;
  const lagMs = performance.now() - stoppedAt;
  assert.equal(code, 0);
  // libp2p's address manager re-arms a 1 s timer as the listeners close; the
  // process used to wait for it (≥ 1,000 ms).
  assert.ok(lagMs < 800, `exited ${lagMs.toFixed(0)} ms after "stopped"`);
});
