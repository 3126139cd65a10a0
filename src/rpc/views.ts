import { type Address, formatAddress } from '../chain/address.ts';
import type { Block } from '../chain/block.ts';
import type { ChainEntry } from '../chain/chain.ts';
import { toHex } from '../chain/encoding.ts';
import type { NetworkParams } from '../chain/params.ts';
import type { StateReader } from '../chain/state.ts';
import { type Transaction, txKindName } from '../chain/transaction.ts';
import type { TxRulesRegistry } from '../chain/tx-rules.ts';

/**
 * JSON shapes the RPC returns; amounts are bigint (sent as decimal strings).
 * `state` (the tip's, for a confirmed transaction) lets a kind say what it
 * did beyond its bytes, e.g. the escrow a close returned.
 */
export function txView(
  tx: Transaction,
  rules: TxRulesRegistry,
  params: NetworkParams,
  state?: StateReader,
): Record<string, unknown> {
  const fmt = (a: Address) => formatAddress(a, params.hrp);
  let body: Record<string, unknown> = {};
  try {
    const r = rules.get(tx.kind);
    body = r.toJSON(r.decode(tx.payload, params), fmt, state);
  } catch {
    body = { payload: toHex(tx.payload) };
  }
  return {
    txid: toHex(tx.hash()),
    kind: txKindName(tx.kind) ?? tx.kind,
    from: fmt(tx.from),
    nonce: tx.nonce,
    fee: tx.fee,
    size: tx.size,
    ...(tx.memo ? { memo: toHex(tx.memo) } : {}),
    ...(tx.cid ? { cid: toHex(tx.cid) } : {}),
    ...body,
  };
}

export function headerView(entry: ChainEntry, params: NetworkParams): Record<string, unknown> {
  const h = entry.header;
  return {
    hash: toHex(entry.hash),
    height: h.height,
    parent: toHex(h.parent),
    merkleRoot: toHex(h.merkleRoot),
    timestamp: h.timestamp,
    time: new Date(h.timestamp).toISOString(),
    difficulty: h.difficulty / 65536,
    miner: formatAddress(h.miner, params.hrp),
    nonce: h.nonce,
    chainwork: entry.chainwork,
  };
}

export function blockView(
  block: Block,
  entry: ChainEntry,
  opts: { rules: TxRulesRegistry; params: NetworkParams; tipHeight: number; main: boolean; fullTxs: boolean },
): Record<string, unknown> {
  return {
    ...headerView(entry, opts.params),
    confirmations: opts.main ? opts.tipHeight - entry.height + 1 : 0,
    size: block.size,
    txCount: block.txs.length,
    txs: block.txs.map((tx) => (opts.fullTxs ? txView(tx, opts.rules, opts.params) : toHex(tx.hash()))),
  };
}
