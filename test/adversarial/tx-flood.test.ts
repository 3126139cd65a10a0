import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Transaction, TX_KINDS } from '../../src/chain/transaction.ts';
import { transferRules } from '../../src/chain/tx-rules.ts';
import { pushTxs } from '../../src/p2p/protocol.ts';
import { openTestChain, startTestNode, until } from '../p2p/net.ts';
import { keypair, ManualClock, mine, mineMany, transfer } from '../support/chain.ts';
import { bannedAndGone, names, rawPeer } from './support.ts';

test('a nonce-gap flood costs no signature check and gets its sender banned; an honest peer is still served', async (t) => {
  const clock = new ManualClock();
  const [tcTarget, tcHonest] = await Promise.all([openTestChain(t, clock), openTestChain(t, clock)]);
  const rich = keypair();
  for (const b of await mineMany(tcTarget, 3, rich.address)) await tcHonest.chain.addBlock(b);
  const target = await startTestNode(tcTarget);
  const honest = await startTestNode(tcHonest);
  await honest.net.connect(target.net.addresses()[0]!);
  const attacker = await rawPeer(t, target);
  await until('peers ready', () => target.net.peerCount === 2);

  // Validly signed, each from a fresh key, each nonce 5 ahead of an account that has sent nothing.
  const g = tcTarget.chain.genesisHash;
  const flood = Array.from({ length: 300 }, () =>
    Transaction.sign(
      {
        kind: TX_KINDS.transfer,
        nonce: 5n,
        fee: 1_000n,
        payload: transferRules.encode({ to: rich.address, amount: 1n }),
      },
      keypair().priv,
      g,
    ),
  );
  const started = performance.now();
  for (let i = 0; i < flood.length; i += 100) {
    try {
      await pushTxs(attacker, target.net.host.peerId, names, flood.slice(i, i + 100));
    } catch {
      break; // hung up on: banned
    }
  }
  const ms = performance.now() - started;
  await until('the flooder is banned', bannedAndGone(target, attacker), 5000);
  assert.equal(target.net.bans().find((b) => b.peer === attacker.peerId.toString())?.reason, 'NONCE_GAP');
  assert.equal(target.mempool.count, 0);
  // Refused before the signature was looked at: none of them entered the verified-signature cache.
  assert.equal(flood.filter((tx) => tcTarget.chain.verified.has(tx.hash())).length, 0);
  t.diagnostic(`gap flood refused and its sender banned in ${Math.round(ms)} ms`);

  // The honest peer's transaction and block still go through.
  const tx = transfer(rich, keypair().address, 5n, 0n, g);
  await honest.mempool.accept(tx);
  await until('the honest tx reaches the target', () => target.mempool.has(tx.hash()), 10_000);
  const b = await mine(tcHonest, { txs: [tx] });
  honest.net.publishBlock(b);
  await until('the honest block reaches the target', () => tcTarget.chain.entry(b.hash()) !== undefined, 10_000);
  assert.equal(target.net.isBanned(honest.net.peerId), false);
});
