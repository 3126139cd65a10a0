import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { DOC, withMethodList } from '../../scripts/rpc-docs.ts';
import { cookiePath } from '../../src/node/config.ts';
import { RpcClient } from '../../src/node/rpc/client.ts';
import { startZiNode } from '../support/node.ts';

test('docs/RPC.md lists exactly the methods the node serves (regenerate with npm run docs:rpc)', async (t) => {
  const doc = await readFile(DOC, 'utf8');
  assert.equal(doc, withMethodList(doc));
  // The list is built from the method tables; a running node's `help` shows the table is all of them.
  const node = await startZiNode(t);
  const rpc = new RpcClient({ port: node.rpc.port, cookiePath: cookiePath(node.config.datadir) });
  const served = (await rpc.call<{ name: string }[]>('help')).map((m) => m.name);
  const listed = [...doc.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(listed, served);
});
