import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { DOC, withMethodList } from '../../scripts/rpc-docs.ts';

test('docs/RPC.md lists exactly the methods the node serves (regenerate with npm run docs:rpc)', async () => {
  const doc = await readFile(DOC, 'utf8');
  assert.equal(doc, withMethodList(doc));
});
