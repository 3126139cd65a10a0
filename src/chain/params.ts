/**
 * Every network parameter in one place. A network differs in its genesis,
 * its address prefix and its protocol names, so networks never mix.
 */
export type NetworkName = 'devnet' | 'testnet' | 'mainnet';

export const LI_PER_ZI = 1_000_000_000n;

export interface DifficultyParams {
  C1: number;
  C2: number;
  C3: number;
  Ct: number;
  /** Minimum block interval T in seconds (the formula uses minutes). */
  Tsec: number;
  Dmin: number;
  Dmax: number;
}

export interface NetworkParams extends DifficultyParams {
  name: NetworkName;
  /** bech32m human-readable prefix of addresses. */
  hrp: string;
  /** Block subsidy in Li. */
  subsidy: bigint;
  genesisTimestamp: number;
  /** A block stamped further ahead of the local clock than this is held back. */
  futureLimitMs: number;
  maxBlockBytes: number;
  maxTxBytes: number;
  /** Minimum fee per byte of transaction a node relays and mines. */
  minFeePerByte: bigint;
  /** An address is active after this many transactions in the window below. */
  activeTxCount: number;
  activeWindowMs: number;
  /** M: the stake unit; a Validator must hold R = M · max(1, delegated contracts opened in the window) (DESIGN.md §5). */
  stakeUnit: bigint;
  /** Blocks after its first stake before a Validator can be assigned contracts. */
  stakeMaturity: number;
  /**
   * Validator fits a block may weigh in all: its delegated contracts times
   * the Validators, at least one contract (validator/assignment.ts).
   */
  assignmentChecksPerBlock: number;
  /** How long after an Invalid verdict the Validator may appeal (DESIGN.md §6). */
  appealWindowMs: number;
  defaultRpcPort: number;
  defaultP2pPort: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

function futureLimit(Tsec: number): number {
  return Math.max(2 * Tsec * 1000, 2 * 60 * 1000);
}

const common = {
  subsidy: 50n * LI_PER_ZI,
  maxBlockBytes: 4 * 1024 * 1024,
  maxTxBytes: 128 * 1024,
  minFeePerByte: 1n,
  activeTxCount: 10,
  activeWindowMs: 30 * DAY_MS,
  appealWindowMs: 30 * DAY_MS,
  assignmentChecksPerBlock: 65_536,
};

export const NETWORKS: Record<NetworkName, NetworkParams> = {
  devnet: {
    ...common,
    name: 'devnet',
    hrp: 'zid',
    stakeUnit: LI_PER_ZI,
    stakeMaturity: 3,
    C1: 1,
    C2: 1,
    C3: 1,
    Ct: 0,
    Tsec: 1,
    Dmin: 8,
    Dmax: 255,
    genesisTimestamp: Date.UTC(2026, 0, 1),
    futureLimitMs: futureLimit(1),
    defaultRpcPort: 18_445,
    defaultP2pPort: 18_444,
  },
  testnet: {
    ...common,
    name: 'testnet',
    hrp: 'zit',
    stakeUnit: 10n * LI_PER_ZI,
    stakeMaturity: 20,
    C1: 10,
    C2: 1,
    C3: 0.5,
    Ct: 0.05,
    Tsec: 15,
    Dmin: 16,
    Dmax: 255,
    genesisTimestamp: Date.UTC(2026, 0, 2),
    futureLimitMs: futureLimit(15),
    defaultRpcPort: 28_445,
    defaultP2pPort: 28_444,
  },
  mainnet: {
    ...common,
    name: 'mainnet',
    hrp: 'zi',
    stakeUnit: 100n * LI_PER_ZI,
    stakeMaturity: 60,
    C1: 10,
    C2: 1,
    C3: 0.35,
    Ct: 0.05,
    Tsec: 60,
    Dmin: 24,
    Dmax: 255,
    genesisTimestamp: Date.UTC(2026, 0, 3),
    futureLimitMs: futureLimit(60),
    defaultRpcPort: 8_445,
    defaultP2pPort: 8_444,
  },
};

export function isNetworkName(s: string): s is NetworkName {
  return Object.hasOwn(NETWORKS, s);
}
