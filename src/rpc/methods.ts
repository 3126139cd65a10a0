/**
 * An RPC method: what it does, its params, its handler. Each domain defines
 * its own methods with defineMethod; the node's server serves the union.
 *
 *   defineMethod({
 *     description: 'Block at a height',
 *     params: [{ name: 'height', type: 'integer', min: 0 }],
 *     handler: ({ height }) => chain.blockAt(height),   // height: number
 *   })
 */
import type { ParamSpec, ParamsOf } from './params.ts';

export interface RpcMethod {
  description: string;
  params: ParamSpec;
  // Method syntax on purpose: it lets a handler typed with ParamsOf<S>
  // be stored here (parameter bivariance).
  handler(params: Record<string, unknown>): unknown;
}

/** Ties a handler's parameter type to its spec. */
export function defineMethod<const S extends ParamSpec>(method: {
  description: string;
  params: S;
  handler: (params: ParamsOf<S>) => unknown;
}): RpcMethod {
  return method as unknown as RpcMethod;
}

/** For a `help` method and docs/RPC.md: what each method takes and does. */
export function describeMethods(methods: Record<string, RpcMethod>): {
  name: string;
  description: string;
  params: { name: string; type: string; optional: boolean; description?: string }[];
}[] {
  return Object.entries(methods)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, m]) => ({
      name,
      description: m.description,
      params: m.params.map((p) => ({
        name: p.name,
        type: p.type,
        optional: p.optional === true,
        ...(p.description ? { description: p.description } : {}),
      })),
    }));
}
