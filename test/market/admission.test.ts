import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ADMISSION_BUDGET_MS,
  ADMISSION_DEADLINE_MS,
  ADMISSION_REFILL_PER_S,
  AdmissionBudget,
  AdmissionError,
  ContractAdmission,
} from '../../src/market/admission.ts';
import { contractRules } from '../../src/market/contract-tx.ts';
import { SandboxError } from '../../src/sandbox/index.ts';

/** Admission as the mempool runs it: the policy over a contract's decoded body. */
function admitter(t: { after(fn: () => void): void }) {
  const admission = new ContractAdmission();
  t.after(() => admission.close());
  const body = (code: string) =>
    contractRules.decode(
      contractRules.encode({
        code,
        price: 1n,
        budget: 10_000n,
        sampleRate: 10,
        growth: 2,
        maxBatch: 1000,
        validation: 0,
        validationFee: 0n,
        memoryMiB: 32,
        timeoutMs: 10_000,
      }),
      undefined as never,
    );
  return (code: string, origin: string) => admission.policy(undefined as never, body(code), origin);
}
const OK = 'function input(i) { return i; }\nfunction mcu(x) { return x; }\n';
const SPINS = 'for (;;) {}\nfunction input(i) { return i; }\nfunction mcu(x) { return x; }\n';
const HANGS =
  'Promise.reject(new Proxy({}, { get() { for (;;) {} } }));\nfunction input(i) { return i; }\nfunction mcu(x) { return x; }\n';

test('an origin that spends its admission budget is refused until it refills; others are not', () => {
  let now = 0;
  const budget = new AdmissionBudget(() => now);
  budget.check('peer-a');
  budget.spend('peer-a', ADMISSION_BUDGET_MS);
  assert.throws(
    () => budget.check('peer-a'),
    (e: unknown) => e instanceof AdmissionError && e.code === 'ADMISSION_BUDGET',
  );
  budget.check('peer-b');
  now += 1000 / ADMISSION_REFILL_PER_S + 1; // a little over one ms of budget back
  budget.check('peer-a');
  // Cheap refusals still cost something, so a flood of them adds up.
  const cheap = new AdmissionBudget(() => now);
  let admitted = 0;
  for (let k = 0; k < 10_000; k++) {
    try {
      cheap.check('flood');
      cheap.spend('flood', 0);
      admitted++;
    } catch {
      break;
    }
  }
  assert.ok(admitted > 0 && admitted < 1000, `${admitted} free admissions`);
});

test('admission ends within its deadline for code that loops or hangs its host at top level', async (t) => {
  const admitContractCode = admitter(t);
  for (const code of [SPINS, HANGS]) {
    const t0 = performance.now();
    await assert.rejects(
      admitContractCode(code, 'test-hostile'),
      (e: unknown) => e instanceof SandboxError && e.code === 'TIMEOUT',
    );
    assert.ok(performance.now() - t0 < ADMISSION_DEADLINE_MS + 1_000, `took ${Math.round(performance.now() - t0)} ms`);
  }
  // A few more and that origin's budget is spent (it refills slowly meanwhile);
  // an honest origin is admitted at once all along.
  let refused = false;
  for (let k = 0; k < 4 && !refused; k++) {
    await admitContractCode(SPINS, 'test-hostile').catch((e: unknown) => {
      refused = e instanceof AdmissionError;
    });
  }
  assert.ok(refused, 'the flooding origin is refused for budget');
  await admitContractCode(OK, 'test-honest');
});
