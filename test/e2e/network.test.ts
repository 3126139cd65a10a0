import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/chain.ts';
import { type NodeProcess, runZiOk, startNode } from '../support/cli.ts';

function p2pAddress(node: NodeProcess): string {
  const line = node.logs.find((l) => l.msg === 'p2p started');
  const listen = (line?.listen as string[] | undefined) ?? [];
  assert.ok(listen[0], 'the node logs its p2p address');
  return listen[0];
}

async function info(home: string): Promise<{ height: number; tip: string; peers: number }> {
  return JSON.parse(await runZiOk(['chain', 'info', '--json'], { ZI_HOME: home }));
}

test('three nodes from empty data dirs converge; a tx sent at A is mined by C and confirmed at B', async (t) => {
  const [homeA, homeB, homeC] = [await tempDir(t, 'zi-a-'), await tempDir(t, 'zi-b-'), await tempDir(t, 'zi-c-')];
  const pass = join(homeA, 'pass');
  await writeFile(pass, 'correct horse battery staple\n');
  const alice = JSON.parse(
    await runZiOk(['wallet', 'create', '--passphrase-file', pass, '--json'], { ZI_HOME: homeA }),
  );
  const bob = JSON.parse(await runZiOk(['wallet', 'create', '--passphrase-file', pass, '--json'], { ZI_HOME: homeB }));

  // A in the middle; B and C know only A. Only C mines, paying alice.
  const a = await startNode([], { ZI_HOME: homeA });
  t.after(() => a.stop());
  const b = await startNode(['--peer', p2pAddress(a)], { ZI_HOME: homeB });
  t.after(() => b.stop());
  const c = await startNode(['--peer', p2pAddress(a), '--mine', '--miner-address', alice.address, '--threads', '1'], {
    ZI_HOME: homeC,
  });
  t.after(() => c.stop());

  await a.waitFor((l) => l.msg === 'peer connected');
  await b.waitFor((l) => l.msg === 'peer connected');
  await c.waitFor((l) => l.msg === 'mined block' && Number(l.height) >= 3);
  const converge = async () => {
    for (let i = 0; i < 100; i++) {
      const [ia, ib, ic] = await Promise.all([info(homeA), info(homeB), info(homeC)]);
      if (ia.tip === ib.tip && ib.tip === ic.tip && ia.height >= 3) return ia;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('nodes did not converge');
  };
  const common = await converge();
  assert.equal((await info(homeA)).peers, 2);

  // alice's wallet is at A: the tx enters A's mempool, gossip takes it to C, C mines it.
  const sent = JSON.parse(
    await runZiOk(['wallet', 'send', bob.address, '12.5', '--passphrase-file', pass, '--wait', '--json'], {
      ZI_HOME: homeA,
    }),
  );
  assert.ok(sent.height > common.height);
  for (let i = 0; i < 100; i++) {
    if ((await info(homeB)).height >= sent.height) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const atB = JSON.parse(await runZiOk(['chain', 'tx', sent.txid, '--json'], { ZI_HOME: homeB }));
  assert.equal(atB.status, 'confirmed');
  assert.equal(atB.height, sent.height);
  const block = JSON.parse(await runZiOk(['chain', 'block', String(sent.height), '--json'], { ZI_HOME: homeB }));
  assert.equal(block.miner, alice.address, 'mined by C, which pays alice');
  const balance = JSON.parse(await runZiOk(['wallet', 'balance', '--json'], { ZI_HOME: homeB }));
  assert.equal(balance.balance, '12500000000');

  const peers = JSON.parse(await runZiOk(['chain', 'peers', '--json'], { ZI_HOME: homeA }));
  assert.equal(peers.peers.length, 2);
  assert.equal(peers.sync.syncing, false);
});
