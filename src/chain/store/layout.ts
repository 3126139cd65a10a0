/**
 * Every database key of a Zi node, in one place.
 *
 * Database (level, keys and values are raw bytes):
 *   V                       -> u32 schema version ‖ genesis hash      (refuse another network's data; unsealed)
 *   X                       -> 1                                      (a reindex is under way; unsealed)
 *   R                       -> tip hash                               (written in each block's batch)
 *   b ‖ hash                -> block bytes                            (any block ever accepted)
 *   e ‖ hash                -> index entry (see chaindb.ts)           (header, chain work, status)
 *   n ‖ u32 height          -> hash                                   (main chain only)
 *   u ‖ hash                -> undo data                              (main chain only)
 *   t ‖ txid                -> block hash ‖ u32 position              (main chain only)
 *   a ‖ address ‖ u32 height ‖ u32 position -> txid                  (address history, main chain only)
 *   s ‖ state key           -> state value                            (ledger state at the tip)
 *   i ‖ index key           -> index value                            (read-side indexes, chain/indexer.ts)
 *   j ‖ hash                -> undo data of the indexes               (main chain only)
 *   h ‖ u32 chunk           -> rows of the block index                (start-up snapshot, see below)
 *   H                       -> u32 entries ‖ tip hash                 (the snapshot matches every `e` record)
 *
 * Every value but V and X ends in a 4-byte CRC-32 of key and value (seal.ts).
 *
 * The snapshot of the block index (chain/header-index.ts): chunk c holds a
 * row (hash ‖ the `e` record's value) for every known block of height
 * c·1024 to c·1024 + 1023, main or side. A clean close writes the chunks that
 * changed, then H; every open deletes H before it writes anything, so H is
 * there only while the chunks match the `e` records, and a start after a
 * crash reads the `e` records instead. Derived, so a reindex drops it.
 *
 * State keys (inside `s`), the first byte names the owner:
 *   0x01 ‖ address          -> account: u64 balance ‖ u64 nonce       (chain core)
 *   0x02                    -> u32 open problems |Po|                 (chain core; kept by the market domain)
 *   0x03                    -> u32 counted ‖ u64 first unswept bucket (|active addresses|, chain/active-count.ts)
 *   0x04 ‖ u64 bucket (‖ u32 page) -> addresses whose activity ends in it, a list (chain/active-count.ts, state-list.ts)
 *   0x05                    -> the non-empty activity buckets         (chain/active-count.ts)
 *   0x10 – 0x1f             -> market domain (contracts, paid ranges as a trie of pages; market/contract-state.ts)
 *   0x20 – 0x2f             -> validator domain (stakes, the Validator list, reservations; validator/state.ts)
 *   0x30 – 0x3f             -> audit domain and the shared fund
 *
 * Index keys (inside `i`), written by BlockIndexers in each block's batch,
 * never read by a consensus rule:
 *   0x00 ‖ indexer name     -> u32 version: it has indexed every block since genesis
 *   The explorer's (src/explorer/indexer.ts), heights and positions u32:
 *   0x01 ‖ contract ‖ height ‖ position -> solver ‖ u64 MCUs ‖ u64 Li   (a contract's payouts over time)
 *   0x02 ‖ contract ‖ solver            -> u64 MCUs ‖ u64 Li ‖ u32 payouts (a contract's Solvers)
 *   0x03 ‖ solver                       -> u64 MCUs ‖ u64 Li ‖ u32 payouts ‖ u32 first ‖ u32 last height
 *   0x04 ‖ solver ‖ height ‖ position   -> contract ‖ u64 MCUs              (a Solver's payouts over time)
 *   0x05 ‖ address ‖ height             -> u8 sign ‖ u64 Li                 (its balance change in that block)
 *   0x06 ‖ validator                    -> u32 audits passed ‖ u32 failed   (final verdicts)
 *   0x07 ‖ height ‖ contract            -> u8 verdict                       (audits that became final then)
 *   0x08 ‖ u64 Li ‖ solver              -> (empty)                          (Solvers ranked by what they earned)
 */
/**
 * 2: values sealed with a checksum. 3: blocks end in a votes section, and
 * accounts hold their activity. 4: the state counts the active addresses,
 * and an audit record keeps its appeal payment and the stake it forfeited.
 * Older stores are upgraded by `zi node --reindex`. 5: the block index
 * snapshot (h, H); a schema-4 store was upgraded in place, as it only lacked
 * the snapshot, and an older zi refuses a store whose snapshot it would not
 * keep up to date. 6: a contract's paid ranges are a trie of bounded pages,
 * not one record (market/paid-ranges.ts): the state itself changed, so
 * schema 4 and 5 stores are rebuilt by `zi node --reindex`, not in place.
 * 7: the activity buckets and the fund's voters are paged lists
 * (chain/state-list.ts), not one record each: older stores are rebuilt.
 * 8: the Validator set, each Validator's reserved contracts and the pending
 * audits are state sets (chain/state-set.ts), the Invalid verdicts a queue
 * by appeal window, and a block counts its assignments: older stores are rebuilt.
 */
export const SCHEMA_VERSION = 8;
/** The oldest schema that opening upgrades in place, without a reindex (none older than today's). */
export const SCHEMA_UPGRADES_IN_PLACE = 8;

export const DB_VERSION = new Uint8Array([0x56]); // 'V'
export const DB_TIP = new Uint8Array([0x52]); // 'R'
export const DB_REINDEXING = new Uint8Array([0x58]); // 'X'
export const DB_HEADERS = new Uint8Array([0x48]); // 'H'
export const PREFIX_BLOCK = 0x62; // 'b'
export const PREFIX_ENTRY = 0x65; // 'e'
export const PREFIX_HEIGHT = 0x6e; // 'n'
export const PREFIX_UNDO = 0x75; // 'u'
export const PREFIX_TX = 0x74; // 't'
export const PREFIX_ADDRESS = 0x61; // 'a'
export const PREFIX_STATE = 0x73; // 's'
export const PREFIX_INDEX = 0x69; // 'i'
export const PREFIX_INDEX_UNDO = 0x6a; // 'j'
export const PREFIX_HEADERS = 0x68; // 'h'

export const STATE_ACCOUNT = 0x01;
export const STATE_OPEN_PROBLEMS = 0x02;
export const STATE_ACTIVE_COUNT = 0x03;
export const STATE_ACTIVE_BUCKET = 0x04;
export const STATE_ACTIVE_BUCKETS = 0x05;

export const INDEX_MARKER = 0x00;
export const INDEX_CONTRACT_PAYOUT = 0x01;
export const INDEX_CONTRACT_SOLVER = 0x02;
export const INDEX_SOLVER = 0x03;
export const INDEX_SOLVER_PAYOUT = 0x04;
export const INDEX_BALANCE_CHANGE = 0x05;
export const INDEX_VALIDATOR_AUDITS = 0x06;
export const INDEX_AUDIT_FINAL = 0x07;
export const INDEX_SOLVER_RANK = 0x08;

export function dbKey(prefix: number, ...parts: Uint8Array[]): Uint8Array {
  let len = 1;
  for (const p of parts) len += p.length;
  const key = new Uint8Array(len);
  key[0] = prefix;
  let at = 1;
  // Byte by byte: these keys are tens of bytes, where a set() call costs more than the copy.
  for (const p of parts) for (let i = 0; i < p.length; i++) key[at++] = p[i]!;
  return key;
}

export const stateKey = dbKey;

export function u32be(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`u32 out of range: ${n}`);
  // By hand: a DataView would move this small array off V8's heap, which costs more than the key.
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}
