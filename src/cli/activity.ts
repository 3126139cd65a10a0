import { ZiError } from '../chain/errors.ts';
import type { RpcClient } from '../node/rpc/client.ts';

/** The node's `getactivity` answer. */
export interface Activity {
  active: boolean;
  recentTxs: number;
  neededTxs: number;
  windowDays: number;
  activeUntil: string | null;
}

export class ActivityError extends ZiError<'NOT_ACTIVE'> {}

export function activityText(act: Activity): string {
  return act.active
    ? `active until ${act.activeUntil} (each new transaction extends it)`
    : `not active: ${act.recentTxs} of ${act.neededTxs} transactions in the last ${act.windowDays} days`;
}

/**
 * Stakes and fund votes need an active sender. The chain refuses them
 * anyway; asked first, the user learns before typing a passphrase how far
 * the address is from active and what makes it so.
 */
export async function requireActive(rpc: RpcClient, address: string, who: string): Promise<void> {
  const act = await rpc.call<Activity>('getactivity', { address });
  if (act.active) return;
  const more = act.neededTxs - act.recentTxs;
  throw new ActivityError(
    'NOT_ACTIVE',
    `${who} must be active, and ${address} is not: ${act.recentTxs} of ${act.neededTxs} transactions in the last ${act.windowDays} days. ` +
      `${more} more make it active; any transaction it sends or receives counts, e.g. ${more} small sends to itself: zi wallet send ${address} 0.001`,
  );
}
