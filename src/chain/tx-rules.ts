import { credit, debit } from './accounts.ts';
import { ADDRESS_SIZE, type Address, RESERVED_ADDRESS } from './address.ts';
import type { Block } from './block.ts';
import { decodeExact, equalBytes, Writer } from './encoding.ts';
import { DecodeError, ValidationError } from './errors.ts';
import type { Hash } from './hash.ts';
import type { NetworkParams } from './params.ts';
import type { SigItem } from './sig-verifier.ts';
import type { StateReader, StateWriter } from './state.ts';
import { guardWrites, unguarded } from './state-guard.ts';
import { type Transaction, TX_KINDS, txKindName } from './transaction.ts';

/** What a transaction's rules may know besides the state. */
export interface TxContext {
  params: NetworkParams;
  /** Height and timestamp of the block being built or connected. */
  height: number;
  timestamp: number;
  /** The transaction's place in its block (0 for a mempool check). */
  position: number;
  /** What other domains offer this one (ConsensusDomain.ports). */
  ports: Ports;
}

/**
 * The ports domains offer each other at consensus level, by name: the market
 * asks the validator domain who may sign for a contract and to reserve its
 * stake, without importing it. A port writes only its own domain's state.
 */
export interface Ports {
  get<T extends object>(name: string): T | undefined;
}

/** What block sections and hooks see: the block being connected, its hash and its miner. */
export interface BlockContext extends TxContext {
  miner: Address;
  hash: Hash;
  block: Block;
}

/** A signature besides the envelope's that a transaction needs (a payout's co-signature). */
export interface ExtraSignature extends SigItem {
  /** The ValidationError code and message when it does not verify. */
  code: string;
  message: string;
}

/**
 * The small interface through which the core runs a kind's rules without
 * importing its domain. The core has already checked the signature, the
 * nonce and the fee, and debited the fee, before `apply` runs.
 */
export interface TxRules<Body = unknown> {
  kind: number;
  /** Strict: the payload holds exactly one canonical body. */
  decode(payload: Uint8Array, params: NetworkParams): Body;
  encode(body: Body): Uint8Array;
  /** Stateless checks beyond decoding (called once per tx, cached with it). */
  check?(tx: Transaction, body: Body, params: NetworkParams): void;
  /** Signatures besides the envelope's, verified in the same batch as every other signature of the block. */
  signatures?(tx: Transaction, body: Body): ExtraSignature[];
  /** Li the transaction moves out of the sender's balance besides its fee. */
  spends(body: Body): bigint;
  apply(state: StateWriter, tx: Transaction, body: Body, ctx: TxContext): void;
  /** Who pays the fee, when not the sender (a payout's fee comes from its contract's escrow). */
  payFee?(state: StateWriter, tx: Transaction, body: Body): void;
  /** Addresses besides the sender that the transaction touches (history index, activity). */
  parties?(body: Body): Address[];
  /**
   * A JSON view for RPC and CLI. `state` is the ledger at the tip, for what a
   * confirmed transaction did that its bytes do not say (a close's refund).
   */
  toJSON(body: Body, format: (a: Address) => string, state?: StateReader): Record<string, unknown>;
}

/**
 * The votes section of a block body (block.ts): the core keeps votes as
 * bytes and commits to them in the merkle root; the domain that registers
 * the section decodes, checks and applies them after the transactions.
 */
export interface VoteSection<Item = unknown> {
  /** Strict: one canonical item, or a DecodeError. */
  decode(bytes: Uint8Array, params: NetworkParams): Item;
  encode(item: Item): Uint8Array;
  /** Stateless checks of one block's whole section (e.g. at most one vote per contract). */
  check?(items: readonly Item[], block: Block, params: NetworkParams): void;
  apply(state: StateWriter, item: Item, ctx: BlockContext): void;
  toJSON(item: Item, format: (a: Address) => string): Record<string, unknown>;
}

/** Per-block bookkeeping of a domain, after the block's transactions and votes. */
export interface BlockHook {
  afterBlock(state: StateWriter, ctx: BlockContext): void;
}

/** The consensus half of a domain: its rules, its block section, its hooks and the state it owns. */
export interface ConsensusDomain {
  name: string;
  /** First bytes of the state keys it owns, inclusive (store/layout.ts). */
  owns: readonly [number, number];
  rules?: readonly TxRules[];
  votes?: VoteSection;
  hooks?: readonly BlockHook[];
  /**
   * The ports it offers other domains, by name. `own` turns the state a
   * caller holds into one this domain may write (the guard of tests checks
   * the port writes only this domain's prefix).
   */
  ports?(own: (state: StateWriter) => StateWriter): Record<string, object>;
}

interface Owned<T> {
  value: T;
  domain: ConsensusDomain;
}

const CORE: ConsensusDomain = { name: 'core', owns: [0x01, 0x0f] };

export interface RegistryOptions {
  /**
   * Test-only: each domain's writes go through a guard that throws on a key
   * outside the prefix it owns (state-guard.ts).
   */
  guardWrites?: boolean;
}

export class TxRulesRegistry {
  private readonly byKind = new Map<number, Owned<TxRules>>();
  private readonly domains: ConsensusDomain[] = [];
  private voteSection?: Owned<VoteSection>;
  private readonly hookList: Owned<BlockHook>[] = [];
  private readonly portMap = new Map<string, object>();
  private readonly guarded: boolean;
  readonly ports: Ports = { get: <T extends object>(name: string) => this.portMap.get(name) as T | undefined };

  constructor(opts: RegistryOptions = {}) {
    this.guarded = opts.guardWrites ?? false;
  }

  register<B>(rules: TxRules<B>, domain: ConsensusDomain = CORE): this {
    if (this.byKind.has(rules.kind)) throw new Error(`rules for kind ${rules.kind} registered twice`);
    this.byKind.set(rules.kind, { value: rules as TxRules, domain });
    return this;
  }

  /** Registers everything a domain brings; two domains may not own overlapping state. */
  registerDomain(domain: ConsensusDomain): this {
    const [lo, hi] = domain.owns;
    for (const d of [CORE, ...this.domains]) {
      if (lo <= d.owns[1] && d.owns[0] <= hi) throw new Error(`${domain.name} and ${d.name} own overlapping state`);
    }
    this.domains.push(domain);
    for (const r of domain.rules ?? []) this.register(r, domain);
    if (domain.votes) {
      if (this.voteSection) throw new Error('the votes section is registered twice');
      this.voteSection = { value: domain.votes, domain };
    }
    for (const h of domain.hooks ?? []) this.hookList.push({ value: h, domain });
    for (const [name, port] of Object.entries(domain.ports?.((state) => this.scope(state, domain)) ?? {})) {
      if (this.portMap.has(name)) throw new Error(`the port ${name} is offered twice`);
      this.portMap.set(name, port);
    }
    return this;
  }

  get(kind: number): TxRules {
    return this.owned(kind).value;
  }

  /** The rules of a kind with the state its domain may write. */
  forKind(kind: number, state: StateWriter): { rules: TxRules; state: StateWriter } {
    const o = this.owned(kind);
    return { rules: o.value, state: this.scope(state, o.domain) };
  }

  /** The votes section with the state its domain may write; undefined when no domain reads votes. */
  votes(state: StateWriter): { section: VoteSection; state: StateWriter } | undefined {
    const o = this.voteSection;
    return o && { section: o.value, state: this.scope(state, o.domain) };
  }

  /** The registered votes section (for decoding only). */
  get voteRules(): VoteSection | undefined {
    return this.voteSection?.value;
  }

  hooks(state: StateWriter): { hook: BlockHook; state: StateWriter }[] {
    return this.hookList.map((o) => ({ hook: o.value, state: this.scope(state, o.domain) }));
  }

  private scope(state: StateWriter, domain: ConsensusDomain): StateWriter {
    return this.guarded ? guardWrites(unguarded(state), domain.name, domain.owns) : state;
  }

  private owned(kind: number): Owned<TxRules> {
    const o = this.byKind.get(kind);
    if (o === undefined) {
      throw new ValidationError(
        'KIND_NOT_ACTIVE',
        `transactions of kind ${txKindName(kind) ?? kind} are not accepted yet`,
        { kind },
      );
    }
    return o;
  }
}

/**
 * The port through which a plain transfer to 000 reaches the shared fund, a
 * record of whichever domain offers it (DESIGN.md §6), not an account.
 */
export interface FundPort {
  give(state: StateWriter, li: bigint): void;
}

export interface TransferBody {
  to: Address;
  amount: bigint;
}

export const transferRules: TxRules<TransferBody> = {
  kind: TX_KINDS.transfer,
  decode(payload) {
    return decodeExact(payload, ADDRESS_SIZE + 8, 'transfer', (r) => {
      const to = r.bytes(ADDRESS_SIZE, 'transfer.to');
      const amount = r.u64('transfer.amount');
      if (amount === 0n)
        throw new DecodeError('BAD_VALUE', 'a transfer moves at least 1 Li', { what: 'transfer.amount' });
      return { to, amount };
    });
  },
  encode(body) {
    return new Writer(ADDRESS_SIZE + 8).bytes(body.to).u64(body.amount).finish();
  },
  spends: (body) => body.amount,
  apply(state, tx, body, ctx) {
    debit(state, tx.from, body.amount);
    if (!equalBytes(body.to, RESERVED_ADDRESS)) return credit(state, body.to, body.amount);
    const fund = ctx.ports.get<FundPort>('fund');
    if (!fund) throw new ValidationError('NO_FUND', 'this network takes no gifts to 000: it has no shared fund');
    fund.give(state, body.amount);
  },
  parties: (body) => [body.to],
  toJSON: (body, format) => ({ to: format(body.to), amount: body.amount }),
};

/** The registry of a node with no domains yet: transfers only. */
export function coreRules(opts: RegistryOptions = {}): TxRulesRegistry {
  return new TxRulesRegistry(opts).register(transferRules);
}
