/**
 * The layers of DESIGN.md §7, checked on the import statements of src/: a
 * folder may import its own files and any folder on a lower layer, never a
 * higher one nor another folder of its own layer, and no file may reach
 * itself again through its imports (type-only imports count: a cycle of
 * types is still two modules that cannot be understood apart).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';

/** Highest first. bin/zi sits above cli and is not under src/. */
const LAYERS: readonly (readonly string[])[] = [
  ['cli'],
  ['devnet'],
  ['node'],
  ['explorer'],
  ['miner', 'market', 'validator', 'audit', 'p2p'],
  ['sandbox', 'content', 'rpc', 'wallet'],
  ['chain'],
];

/** Domains: only node/domains.ts names them; the rest of the node loops over that list. */
const DOMAIN_FOLDERS = ['market', 'validator', 'audit'];

/** The sandbox modules that run code; consensus rules must never load them (DESIGN.md §7). */
const RUNS_CODE = ['runtime', 'processes', 'isolate', 'pool', 'worker', 'bulk', 'prelude'].map(
  (m) => `src/sandbox/${m}.ts`,
);

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

type Edge = { from: string; to: string };
const edgeName = (e: Edge): string => `${e.from} -> ${e.to}`;

/**
 * Relative module references of one file: static imports and re-exports,
 * dynamic import('…'), and worker or child scripts named by
 * new URL('…', import.meta.url). TypeScript's own scanner reads the first
 * three, so an import inside a comment or a string (the sandbox prelude's
 * source text) is not mistaken for one.
 */
function referencesOf(text: string): string[] {
  const found = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
  for (const m of text.matchAll(/new URL\(\s*(['"])([^'"]+)\1\s*,\s*import\.meta\.url\s*\)/g)) found.push(m[2]!);
  // Only modules of ours: the native addon under build/ is a binary, not a layer.
  return found.filter((s) => (s.startsWith('./') || s.startsWith('../')) && s.endsWith('.ts'));
}

/** Every .ts file under src/, as paths relative to the repository root. */
function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(p);
    return d.name.endsWith('.ts') ? [relative(ROOT, p)] : [];
  });
}

function edgesOf(files: ReadonlyMap<string, string>): Edge[] {
  const edges: Edge[] = [];
  for (const [from, text] of files) {
    for (const spec of referencesOf(text)) edges.push({ from, to: relative(ROOT, resolve(ROOT, dirname(from), spec)) });
  }
  return edges;
}

/** The folder of src/ a file belongs to, or undefined outside src/ or directly in it. */
function folderOf(file: string): string | undefined {
  const parts = file.split('/');
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : undefined;
}

function rankOf(folder: string | undefined): number | undefined {
  const i = LAYERS.findIndex((layer) => folder !== undefined && layer.includes(folder));
  return i < 0 ? undefined : LAYERS.length - 1 - i;
}

/** Why an import breaks the layers, or undefined when it is allowed. */
function layerProblem(e: Edge): string | undefined {
  const [a, b] = [folderOf(e.from), folderOf(e.to)];
  if (a === undefined) return `${e.from} is not inside a folder of src/`;
  if (b === undefined) return `imports ${e.to}, which is not inside a folder of src/`;
  if (a === b) return undefined;
  const [ra, rb] = [rankOf(a), rankOf(b)];
  if (ra === undefined) return `src/${a} is in no layer (add it to LAYERS in test/layers.test.ts)`;
  if (rb === undefined) return `src/${b} is in no layer (add it to LAYERS in test/layers.test.ts)`;
  if (ra === rb) return `src/${a} and src/${b} are on one layer`;
  if (ra < rb) return `src/${a} is below src/${b}`;
  return undefined;
}

/** The import cycles between files: each strongly connected component of more than one file, or a file importing itself. */
function cyclesOf(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  // Tarjan's algorithm, iterative: src/ is deep enough to make recursion a risk one day.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  for (const start of next.keys()) {
    if (index.has(start)) continue;
    const work: [string, number][] = [[start, 0]];
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const [v, i] = top;
      if (i === 0) {
        index.set(v, index.size);
        low.set(v, index.get(v)!);
        stack.push(v);
        onStack.add(v);
      }
      const targets = next.get(v) ?? [];
      if (i < targets.length) {
        top[1]++;
        const w = targets[i]!;
        if (!index.has(w)) work.push([w, 0]);
        else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent[0], Math.min(low.get(parent[0])!, low.get(v)!));
      if (low.get(v) !== index.get(v)) continue;
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || targets.includes(v)) out.push(component.sort());
    }
  }
  return out;
}

function problems(files: ReadonlyMap<string, string>): string[] {
  const edges = edgesOf(files);
  const found: string[] = [];
  for (const e of edges) {
    const why = layerProblem(e);
    if (why !== undefined) found.push(`${edgeName(e)}: ${why}`);
  }
  for (const c of cyclesOf(edges)) found.push(`import cycle: ${c.join(', ')}`);
  return [...new Set(found)];
}

const source = new Map(sourceFiles().map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]));

describe('layers of src/ (DESIGN.md §7)', () => {
  test('no import goes up a layer or across one, and no files import each other in a cycle', () => {
    assert.deepEqual(problems(source), []);
  });

  test('the check sees a forbidden import and a cycle', () => {
    const fake = new Map([
      ['src/chain/a.ts', "import { x } from '../market/b.ts';"],
      ['src/market/b.ts', "export { y } from './c.ts';\n// import { z } from '../cli/z.ts';"],
      ['src/market/c.ts', "const w = new URL('./b.ts', import.meta.url);\nawait import('../p2p/d.ts');"],
      ['src/p2p/d.ts', ''],
    ]);
    assert.deepEqual(problems(fake), [
      'src/chain/a.ts -> src/market/b.ts: src/chain is below src/market',
      'src/market/c.ts -> src/p2p/d.ts: src/market and src/p2p are on one layer',
      'import cycle: src/market/b.ts, src/market/c.ts',
    ]);
  });

  test('node wiring names no domain: only src/node/domains.ts imports one', () => {
    const named = edgesOf(source).filter(
      (e) =>
        folderOf(e.from) === 'node' &&
        e.from !== 'src/node/domains.ts' &&
        DOMAIN_FOLDERS.includes(folderOf(e.to) ?? ''),
    );
    assert.deepEqual(named.map(edgeName), []);
  });

  test("consensus rules never load the sandbox's code-running modules", () => {
    const next = new Map<string, string[]>();
    for (const e of edgesOf(source)) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    const reached = new Set<string>();
    const visit = (f: string) => {
      if (reached.has(f)) return;
      reached.add(f);
      for (const g of next.get(f) ?? []) visit(g);
    };
    // Every domain's consensus descriptor, and the core's registry.
    for (const f of ['src/market/rules.ts', 'src/chain/tx-rules.ts', 'src/chain/chain.ts']) visit(f);
    assert.ok(reached.has('src/market/contract-tx.ts'), 'the walk reaches the market rules');
    assert.deepEqual(
      RUNS_CODE.filter((f) => reached.has(f)),
      [],
    );
  });
});
