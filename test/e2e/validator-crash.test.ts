import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { getAccount } from '../../src/chain/accounts.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { LI_PER_ZI } from '../../src/chain/params.ts';
import { stateKey } from '../../src/chain/store/layout.ts';
import {
  decodePaidBatch,
  getContract,
  getPaidRanges,
  STATE_PAID_BATCH,
  VALIDATION_DELEGATED,
} from '../../src/market/contract-state.ts';
import { keypair, tempDir } from '../support/chain.ts';
import { runZiOk, startNode } from '../support/cli.ts';
import { contractBody, postContract } from '../support/market.ts';
import { startZiNode, until } from '../support/node.ts';
import { stakedValidator } from '../support/validator.ts';

const SIZE = 3000;
const CODE = `const size = ${SIZE};\nfunction input(i) { return i; }\nfunction mcu(x) { let s = 0; for (let k = 0; k <= x % 500; k++) s += k * k; return s; }\n`;

test('kill -9 the Validator mid-contract: after a restart it serves the contract again, and no index is paid twice', async (t) => {
  const bidder = keypair();
  const v = keypair();
  const bidderNode = await startZiNode(t, { mine: bidder.address, market: { authorityKey: bidder.priv } });
  const { chain, mempool } = bidderNode;
  const g = chain.genesisHash;
  await until('the bidder is funded', () => getAccount(chain.state, bidder.address).balance >= 50n * LI_PER_ZI);
  await stakedValidator(bidderNode, bidder, 0n, v);

  // The Validator's own node, a real `zi node --validator` process with its wallet.
  const home = await tempDir(t, 'zi-validator-');
  const pass = join(home, 'pass');
  const keyFile = join(home, 'key');
  await writeFile(pass, 'validator passphrase\n');
  await writeFile(keyFile, `${toHex(v.priv)}\n`);
  const env = { ZI_HOME: home };
  await runZiOk(['wallet', 'import', '--key-file', keyFile, '--passphrase-file', pass], env);
  const args = [
    '--validator',
    '--passphrase-file',
    pass,
    ...bidderNode.network!.addresses().flatMap((a) => ['--peer', a]),
  ];
  let node = await startNode(args, env);
  t.after(() => node.stop());

  const body = contractBody({
    code: CODE,
    price: 100n,
    budget: 2_000_000n,
    growth: 2,
    maxBatch: 16,
    validation: VALIDATION_DELEGATED,
    validationFee: 1n,
  });
  const post = postContract(bidder, 1n, g, body);
  await mempool.accept(post);
  const id = post.hash();
  await until('the contract is mined', () => getContract(chain.state, id) !== undefined);
  assert.equal(toHex(getContract(chain.state, id)!.validator), toHex(v.address));
  const solver = keypair();
  await startZiNode(t, {
    peers: bidderNode.network!.addresses(),
    market: { solver: { key: solver.priv, threads: 1 } },
  });
  const paid = () => Number(getContract(chain.state, id)!.paidMcus);
  await until('some batches are paid', () => paid() > 0, 60_000);
  node.proc.kill('SIGKILL');
  await node.stop();
  const atKill = paid();
  assert.ok(atKill < SIZE, `killed mid-contract (${atKill} of ${SIZE} paid)`);
  node = await startNode(args, env);
  await until(
    'every index is paid',
    () => {
      const r = getPaidRanges(chain.state, id);
      return r.length === 1 && r[0]!.start === 0 && r[0]!.end === SIZE;
    },
    120_000,
  );
  let batched = 0;
  for await (const [key, value] of chain.store.stateEntries(stateKey(STATE_PAID_BATCH, id))) {
    const b = decodePaidBatch(key, value);
    batched += b.end - b.start;
  }
  assert.equal(batched, SIZE, 'the paid batches cover each index once');
  assert.equal(getContract(chain.state, id)!.paidMcus, BigInt(SIZE));
  t.diagnostic(`${atKill} of ${SIZE} MCUs paid when the Validator was killed`);
});
