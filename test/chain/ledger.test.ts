import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Account, getAccount, putAccount } from '../../src/chain/accounts.ts';
import { RESERVED_ADDRESS } from '../../src/chain/address.ts';
import { toHex } from '../../src/chain/encoding.ts';
import { applyTransaction } from '../../src/chain/ledger.ts';
import { StateOverlay } from '../../src/chain/state.ts';
import { STATE_ACCOUNT } from '../../src/chain/store/layout.ts';
import { TxRulesRegistry, transferRules } from '../../src/chain/tx-rules.ts';
import { devnet, keypair, transfer } from '../support/chain.ts';
import { memoryState } from '../support/memory-state.ts';

const [alice, bob] = [keypair(), keypair()];
const G = new Uint8Array(32).fill(7);
const T = devnet.genesisTimestamp + 40 * 86_400_000;

// The same rules, but not the object the ledger fuses: every transfer takes the general path.
const fused = new TxRulesRegistry().register(transferRules);
const general = new TxRulesRegistry().register({ ...transferRules });

const account = fc.record({
  balance: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 10_000n }), fc.bigInt({ min: 0n, max: 1n << 62n })),
  nonce: fc.bigInt({ min: 0n, max: 3n }),
  // Around activeTxCount (10), and old enough to have left the window or not.
  activity: fc
    .oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 8, max: 11 }))
    .chain((n) => fc.array(fc.integer({ min: T - 35 * 86_400_000, max: T }), { minLength: n, maxLength: n }))
    .map((ts) => ts.sort((a, b) => a - b)),
});

/** What applying `tx` did: its error, or every change in first-write order. */
function run(registry: TxRulesRegistry, accounts: [Uint8Array, Account][], tx: Parameters<typeof applyTransaction>[1]) {
  const { state } = memoryState();
  for (const [a, acct] of accounts) putAccount(state, a, acct);
  const overlay = new StateOverlay(state);
  try {
    applyTransaction(overlay, tx, registry, {
      params: devnet,
      height: 5,
      timestamp: T,
      position: 0,
      ports: registry.ports,
    });
  } catch (err) {
    return { error: `${(err as { code?: string }).code}: ${(err as Error).message}` };
  }
  return {
    changes: overlay.changes().map((c) => [toHex(c.key), c.value && toHex(c.value), c.previous && toHex(c.previous)]),
  };
}

test('a fused transfer does exactly what the general path does: errors, values, activity and write order (property)', () => {
  fc.assert(
    fc.property(
      account,
      fc.option(account, { nil: undefined }),
      fc.constantFrom('other', 'self', 'reserved'),
      fc.bigInt({ min: 1n, max: 12_000n }),
      fc.bigInt({ min: 0n, max: 2_000n }),
      fc.bigInt({ min: 0n, max: 3n }),
      (sender, recipient, to, amount, fee, nonce) => {
        const dest = to === 'self' ? alice.address : to === 'reserved' ? RESERVED_ADDRESS : bob.address;
        const tx = transfer(alice, dest, amount, nonce, G, fee);
        const accounts: [Uint8Array, Account][] = [[alice.address, sender]];
        if (recipient && to === 'other') accounts.push([bob.address, recipient]);
        assert.deepEqual(run(fused, accounts, tx), run(general, accounts, tx));
      },
    ),
    { numRuns: 300 },
  );
});

test('a fused transfer reads and writes each account once (the general path: the sender three times, the recipient twice)', () => {
  const { state } = memoryState();
  putAccount(state, alice.address, { balance: 1_000_000n, nonce: 0n, activity: [] });
  const overlay = new StateOverlay(state);
  const touched = { gets: 0, puts: 0 };
  const isAccount = (k: Uint8Array) => k[0] === STATE_ACCOUNT;
  const counting = {
    get(k: Uint8Array) {
      if (isAccount(k)) touched.gets++;
      return overlay.get(k);
    },
    put(k: Uint8Array, v: Uint8Array) {
      if (isAccount(k)) touched.puts++;
      overlay.put(k, v);
    },
    del: (k: Uint8Array) => overlay.del(k),
  };
  const ctx = { params: devnet, height: 1, timestamp: T, position: 0, ports: fused.ports };
  applyTransaction(counting, transfer(alice, bob.address, 10n, 0n, G, 500n), fused, ctx);
  assert.deepEqual(touched, { gets: 2, puts: 2 });
  assert.equal(getAccount(overlay, bob.address).balance, 10n);
  assert.equal(getAccount(overlay, alice.address).balance, 1_000_000n - 510n);
});
