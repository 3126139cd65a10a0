import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CID } from 'multiformats/cid';
import { cidOf } from '../../src/content/cid.ts';
import type { ContentStore, GcOptions } from '../../src/content/store.ts';
import { ContentKeeper } from '../../src/node/content-keeper.ts';
import { until } from '../support/node.ts';

/** A fake of the narrow part of ContentStore the keeper uses: a size that gc shrinks to what is kept. */
function fakeStore(sizes: { disk: number; keptAfterGc: number }) {
  const calls: GcOptions[] = [];
  const store = {
    kind: 'helia',
    usage: async () => ({ diskBytes: sizes.disk, blocks: 0, pins: 0 }),
    gc: async (opts: GcOptions) => {
      calls.push(opts);
      const freedBytes = sizes.disk - sizes.keptAfterGc;
      sizes.disk = sizes.keptAfterGc;
      return { unpinned: 0, deleted: freedBytes > 0 ? 1 : 0, freedBytes, keptBytes: sizes.keptAfterGc };
    },
  } as unknown as ContentStore;
  return { store, calls };
}

const quiet = () => {
  const warnings: string[] = [];
  return { warnings, logger: { info() {}, debug() {}, warn: (_o: object, msg?: string) => warnings.push(msg ?? '') } };
};

test('--max-storage: over the limit the node collects garbage, and says so when what is left must stay', async () => {
  const paid = cidOf(new TextEncoder().encode('a paid batch'));
  const sizes = { disk: 1500, keptAfterGc: 1200 };
  const { store, calls } = fakeStore(sizes);
  const { warnings, logger } = quiet();
  let now = 10_000_000;
  const keeper = new ContentKeeper({
    content: store,
    keep: async function* () {
      yield paid.bytes;
    },
    logger,
    maxBytes: 1000,
    checkMs: 10,
    clock: () => now,
  });
  keeper.start();
  await until('a gc', () => calls.length === 1 && warnings.length === 1);
  // One gc brought it to 1,200 bytes of what must stay: over the limit, so a warning, and no gc after gc.
  assert.equal(calls.length, 1);
  assert.equal(calls[0]!.keep(paid as CID), true);
  assert.equal(calls[0]!.keep(cidOf(new Uint8Array([1])) as CID), false);
  assert.equal(calls[0]!.unpinBefore, 10_000_000 - 60 * 60_000);
  assert.match(warnings.join('\n'), /over --max-storage after gc: what is left are paid batches/);
  // Again once the store has grown by a tenth of the limit…
  sizes.disk = 1400;
  await until('a second gc', () => calls.length === 2);
  // …or once the pins of the last hour are past their grace.
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(calls.length, 2);
  now += 60 * 60_000;
  await until('a third gc', () => calls.length === 3);
  await keeper.stop();
});
