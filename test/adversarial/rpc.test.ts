/**
 * The RPC under attack by a local process that cannot read the cookie.
 * A real `zi node` child; the attacker and the honest client run here, on
 * loopback, for a fixed time.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { RpcClient } from '../../src/node/rpc/client.ts';
import { tempDir } from '../support/chain.ts';
import { startNode } from '../support/cli.ts';

/** More sockets than the node's 64 connection slots. */
const ATTACK_SOCKETS = 96;
const ATTACK_MS = 6000;
/** Every honest call must be answered within this, while the attack runs. */
const HONEST_BOUND_MS = 1000;

/**
 * Slowloris: each socket sends a request line and then one header line every
 * 500 ms, never finishing the headers; every other socket starts with a
 * wrong cookie. A socket the node closes is opened again 20 ms later. Stops
 * by itself after `ms`.
 */
function slowloris(port: number, sockets: number, ms: number): Promise<{ opened: number }> {
  const end = Date.now() + ms;
  const live = new Set<Socket>();
  let opened = 0;
  const wrongCookie = `Authorization: Basic ${Buffer.from('__cookie__:guess').toString('base64')}\r\n`;
  const open = (): void => {
    if (Date.now() >= end) return;
    const first = `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n${opened % 2 === 0 ? '' : wrongCookie}`;
    opened++;
    const s = connect(port, '127.0.0.1');
    live.add(s);
    let line = 0;
    const drip = setInterval(() => s.write(`X-Slow-${line++}: a\r\n`), 500);
    s.on('connect', () => s.write(first));
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(drip);
      live.delete(s);
      setTimeout(open, 20);
    });
  };
  for (let i = 0; i < sockets; i++) open();
  return new Promise((resolve) =>
    setTimeout(() => {
      for (const s of live) s.destroy();
      resolve({ opened });
    }, ms),
  );
}

test('a slowloris without the cookie holding every RPC slot does not lock out honest calls', async (t) => {
  const home = await tempDir(t, 'zi-adv-rpc-');
  const node = await startNode([], { ZI_HOME: home });
  t.after(() => node.stop());
  const client = new RpcClient({
    port: node.port,
    cookiePath: join(home, 'devnet', '.cookie'),
    timeoutMs: HONEST_BOUND_MS,
  });
  assert.equal(typeof (await client.call<{ height: number }>('getinfo')).height, 'number');

  const attack = slowloris(node.port, ATTACK_SOCKETS, ATTACK_MS);
  // Let the attacker take the slots first.
  await new Promise((r) => setTimeout(r, 500));
  const stopAt = Date.now() + ATTACK_MS - 1000;
  const latencies: number[] = [];
  const failures: string[] = [];
  const honest = async (): Promise<void> => {
    while (Date.now() < stopAt) {
      const t0 = performance.now();
      try {
        await client.call('getblockcount');
        latencies.push(performance.now() - t0);
      } catch (err) {
        failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await Promise.all([honest(), honest(), honest(), honest()]);
  const { opened } = await attack;

  const calls = latencies.length + failures.length;
  const worst = Math.round(Math.max(0, ...latencies));
  t.diagnostic(
    `attacker opened ${opened} sockets; honest calls ${latencies.length}/${calls} succeeded, slowest ${worst} ms`,
  );
  assert.ok(opened > ATTACK_SOCKETS, 'the attacker got its sockets closed and reopened them');
  assert.ok(calls >= 20, `only ${calls} honest calls were made`);
  assert.equal(failures.length, 0, `${failures.length}/${calls} honest calls failed, e.g. ${failures[0]}`);
  assert.ok(worst < HONEST_BOUND_MS, `slowest honest call took ${worst} ms`);
  // The node is still fine once the attack is over.
  assert.equal(typeof (await client.call('getblockcount')), 'number');
});
