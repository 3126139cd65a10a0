import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, connect as tcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RpcClient } from '../../../src/node/rpc/client.ts';
import { createRpcServer } from '../../../src/node/rpc/server.ts';
import { defineMethod } from '../../../src/rpc/methods.ts';

const methods = {
  echo: defineMethod({ description: 'echo', params: [{ name: 'text', type: 'string' }], handler: ({ text }) => text }),
};

/**
 * A real RPC server behind a relay that drops the first `drops` connections
 * before a byte of them is read, as the node drops the oldest connection
 * without the cookie when a flood fills its slots.
 */
async function droppingRelay(t: { after(fn: () => Promise<void>): void }, drops: number) {
  const dir = await mkdtemp(join(tmpdir(), 'zi-rpc-client-'));
  const cookiePath = join(dir, '.cookie');
  const rpc = await createRpcServer({ port: 0, cookiePath, methods });
  let seen = 0;
  const relay: Server = createServer((socket) => {
    if (seen++ < drops) {
      socket.resetAndDestroy();
      return;
    }
    const upstream = tcp(rpc.port, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  t.after(async () => {
    await new Promise((r) => relay.close(r));
    await rpc.close();
    await rm(dir, { recursive: true, force: true });
  });
  const port = (relay.address() as { port: number }).port;
  return { client: new RpcClient({ port, cookiePath }), connections: () => seen };
}

test('a call whose connection was dropped before any reply is sent again, and answered', async (t) => {
  const { client, connections } = await droppingRelay(t, 2);
  assert.equal(await client.call('echo', ['flooded']), 'flooded');
  assert.equal(connections(), 3);
});

test('past three retries the call fails with one typed error', async (t) => {
  const { client, connections } = await droppingRelay(t, 10);
  await assert.rejects(client.call('echo', ['x']), {
    code: 'HTTP_ERROR',
    message: /^the connection to the node at 127\.0\.0\.1:\d+ broke during the call \(ECONNRESET\)$/,
  });
  assert.equal(connections(), 4);
});
