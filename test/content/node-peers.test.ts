import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startZiNode } from '../support/node.ts';

/**
 * Bitswap asks only the connected peers it knows speak bitswap, and it learns
 * that from identify. A node dials its --peer list before its embedded IPFS
 * node registers bitswap, so the first identify a peer gets from it lists no
 * bitswap: only identify-push, once bitswap is registered, tells the peer.
 */
for (const dialer of ['provider', 'fetcher'] as const) {
  test(`a node fetches content over bitswap from a peer when the ${dialer} dialed the other`, async (t) => {
    const first = await startZiNode(t);
    const second = await startZiNode(t, { peers: first.network!.addresses() });
    const [provider, fetcher] = dialer === 'provider' ? [second, first] : [first, second];
    const bytes = new TextEncoder().encode(`a batch only the ${dialer === 'provider' ? 'second' : 'first'} node has`);
    const cid = await provider.content!.put(bytes, { pin: true });
    assert.deepEqual(await fetcher.content!.get(cid, { timeoutMs: 10_000 }), bytes);
  });
}
