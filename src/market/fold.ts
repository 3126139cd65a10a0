import type { JsonValue, ResultRow } from './sandbox.ts';

export interface Unioner {
  union(a: JsonValue, b: JsonValue): Promise<JsonValue>;
}

/**
 * Folds per-batch result lists with the contract's union, pairwise like a
 * balanced tree, so n rows cross the sandbox O(n log b) times rather than
 * O(n · b) for b batches folded left to right.
 */
export async function foldResults(runtime: Unioner, batches: ResultRow[][]): Promise<JsonValue> {
  if (batches.length === 0) return [];
  let level: JsonValue[] = batches as unknown as JsonValue[];
  while (level.length > 1) {
    const next: JsonValue[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? await runtime.union(level[i]!, level[i + 1]!) : level[i]!);
    }
    level = next;
  }
  return level[0]!;
}
