import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { checkContractCode, MAX_CONTRACT_CODE_BYTES, MAX_PARSE_DEPTH } from '../../src/sandbox/code.ts';

const EXPORTS = '\nfunction input(i) { return i; }\nfunction mcu(x) { return x; }\n';

/** Ways to nest n levels, each valid strict-mode code at any n. */
const NESTINGS: Record<string, (n: number) => string> = {
  parentheses: (n) => `const x = ${'('.repeat(n)}1${')'.repeat(n)};`,
  objects: (n) => `const x = ${'{a:'.repeat(n)}1${'}'.repeat(n)};`,
  'a chained sum': (n) => `const x = 1${'+1'.repeat(n)};`,
  'unary operators': (n) => `const x = ${'!'.repeat(n)}1;`,
  templates: (n) => `const x = ${'`${'.repeat(n)}1${'}`'.repeat(n)};`,
  'regular expression groups': (n) => `const x = /${'('.repeat(n)}a${')'.repeat(n)}/;`,
  functions: (n) => `${'function f(){'.repeat(n)}${'}'.repeat(n)}`,
  'else-if chains': (n) => `if (a) {}${' else if (a) {}'.repeat(n)}`,
  arrows: (n) => `const x = ${'a=>'.repeat(n)}1;`,
  'destructuring patterns': (n) => `var ${'['.repeat(n)}a${']'.repeat(n)} = 1;`,
};

function verdict(source: string): string {
  try {
    checkContractCode(source);
    return 'valid';
  } catch (err) {
    return (err as { code?: string }).code ?? `untyped: ${String(err)}`;
  }
}

/** The deepest n this process accepts for a nesting (binary search; the verdict is monotone in n). */
function deepestValid(mk: (n: number) => string): number {
  let lo = 1;
  let hi = 4096;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (verdict(mk(mid) + EXPORTS) === 'valid') lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

test('nesting past the parser limit is refused with a typed error naming where, for every way to nest', () => {
  for (const [what, mk] of Object.entries(NESTINGS)) {
    const deepest = deepestValid(mk);
    assert.ok(deepest >= 100, `${what}: ${deepest} levels are accepted, real code needs far fewer`);
    assert.ok(mk(deepest + 1).length + EXPORTS.length < MAX_CONTRACT_CODE_BYTES, `${what}: the limit is not the size`);
    assert.throws(() => checkContractCode(mk(deepest + 1) + EXPORTS), {
      code: 'COMPILE_ERROR',
      message: new RegExp(
        `^contract code nests too deeply at line 1, column \\d+: the parser's limit is ${MAX_PARSE_DEPTH} levels$`,
      ),
    });
  }
  // Far past the limit (what used to run the host out of stack): the same typed refusal.
  assert.throws(() => checkContractCode(`${NESTINGS.parentheses!(20_000)}${EXPORTS}`), { code: 'COMPILE_ERROR' });
});

test('validity does not depend on the JIT or the caller: a cold process, 3,000 frames deep, agrees with a warm one', () => {
  // The attack: the same code refused by a cold node and accepted once its parser was warm (or called
  // from a shallower stack), so a block holding it split the chain.
  const sources: string[] = [];
  for (const mk of Object.values(NESTINGS)) {
    const deepest = deepestValid(mk);
    sources.push(mk(deepest) + EXPORTS, mk(deepest + 1) + EXPORTS);
  }
  for (let i = 0; i < 300; i++) verdict(NESTINGS.objects!(50));
  const warm = sources.map(verdict);
  const script = `
    const { checkContractCode } = await import(${JSON.stringify(new URL('../../src/sandbox/code.ts', import.meta.url).href)});
    const sources = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
    const verdict = (s) => { try { checkContractCode(s); return 'valid'; } catch (e) { return e.code ?? 'untyped: ' + e; } };
    const deep = (k) => (k > 0 ? deep(k - 1) : sources.map(verdict));
    process.stdout.write(JSON.stringify(deep(3000)));`.replace("require('node:fs')", "(await import('node:fs'))");
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    input: JSON.stringify(sources),
    encoding: 'utf8',
  });
  assert.equal(child.status, 0, child.stderr);
  const cold = JSON.parse(child.stdout) as string[];
  assert.deepEqual(cold, warm);
  assert.deepEqual(
    warm,
    sources.map((_, i) => (i % 2 === 0 ? 'valid' : 'COMPILE_ERROR')),
  );
});
