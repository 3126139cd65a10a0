import { type Address, addressOf } from '../chain/address.ts';
import type { Hash } from '../chain/hash.ts';
import { publicKeyOf, sign } from '../chain/keys.ts';
import { serves } from './authorize.ts';
import type { ContractRecord } from './contract-state.ts';
import { type payoutMessage, signPayout } from './contract-tx.ts';
import { type Ack, ackMessage } from './messages.ts';

/**
 * A key that signs for contracts as their authority. It signs the two market
 * messages and nothing else, and its private key never leaves it.
 */
export interface Signer {
  readonly publicKey: Uint8Array;
  readonly address: Address;
  /** The acknowledgement that answers a Solver's discovery (DESIGN.md §4 step 2). */
  signAck(ack: Omit<Ack, 'type' | 'signature' | 'lease' | 'authorityKey'>): Uint8Array;
  /** The co-signature that makes a Solver's transaction a payout. */
  signPayout(terms: Parameters<typeof payoutMessage>[0]): Uint8Array;
}

/** The keys an Authority signs with: a Bidder's own, and a Validator's for the contracts assigned to it. */
export interface Signers {
  readonly addresses: readonly Address[];
  /** The signer that may sign for this contract, if this node holds one. */
  forContract(contract: ContractRecord, id: Hash): Signer | undefined;
}

export function keySigner(key: Uint8Array): Signer {
  const publicKey = publicKeyOf(key);
  return {
    publicKey,
    address: addressOf(publicKey),
    signAck: (a) => sign(ackMessage({ ...a, authorityKey: publicKey }), key),
    signPayout: (terms) => signPayout(terms, key),
  };
}

/** Signers that serve every contract one of them is the authority of (serves: its Validator, else its Bidder). */
export function signerSet(signers: readonly Signer[]): Signers {
  return {
    addresses: signers.map((s) => s.address),
    forContract: (contract) => signers.find((s) => serves(contract, s.address)),
  };
}
