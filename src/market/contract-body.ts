import type { Chain } from '../chain/chain.ts';
import { toHex } from '../chain/encoding.ts';
import { ZiError } from '../chain/errors.ts';
import type { Hash } from '../chain/hash.ts';
import { TX_KINDS } from '../chain/transaction.ts';
import { type ContractBody, contractRules } from './contract-tx.ts';

export class ContractNotFoundError extends ZiError<'NOT_FOUND'> {}

/** A contract's transaction body by its id: the port the Authority and Solver read code and limits through. */
export type ContractBodies = (id: Hash) => Promise<ContractBody>;

/** The contract transaction itself: its code and declared limits. */
export async function contractBody(
  chain: Pick<Chain, 'store' | 'getBlock' | 'params'>,
  id: Hash,
): Promise<ContractBody> {
  const key = toHex(id);
  const cached = bodies.get(key);
  if (cached) return cached;
  const loc = await chain.store.txLocation(id);
  const block = loc && (await chain.getBlock(loc.block));
  const tx = block?.txs[loc!.position];
  if (!tx || tx.kind !== TX_KINDS.contract) throw new ContractNotFoundError('NOT_FOUND', `no contract ${key}`);
  const body = contractRules.decode(tx.payload, chain.params);
  // A contract transaction never changes (its id is its hash), so its body can be kept.
  if (bodies.size >= 256) bodies.delete(bodies.keys().next().value as string);
  bodies.set(key, body);
  return body;
}

const bodies = new Map<string, ContractBody>();
