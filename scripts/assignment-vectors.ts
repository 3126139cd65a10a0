// Writes test/fixtures/assignment.json: golden vectors of the Validator
// assignment (DESIGN.md §5), computed by the independent reference in
// test/validator/reference.ts (a textbook Levenshtein DP and a sort), not by
// src/validator/assignment.ts, which the test then checks against them.
// Run: node scripts/assignment-vectors.ts
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { levenshtein, type RefStake, referenceKey, referenceWinner } from '../test/validator/reference.ts';

const hex = (label: string, i: number) => createHash('sha256').update(`zi/vectors/${label}/${i}`).digest('hex');
const address = (i: number) => hex('address', i).slice(0, 40);

interface Case {
  name: string;
  blockHash: string;
  contract: string;
  budget: string;
  height: number;
  stakes: RefStake[];
  winner: string | null;
}

const MATURITY = 3; // devnet's stakeMaturity, which the vectors assume
const cases: Case[] = [];

function add(name: string, blockHash: string, contract: string, budget: bigint, height: number, stakes: RefStake[]) {
  const key = referenceKey(blockHash, contract);
  const winner = referenceWinner(stakes, key, budget, height, MATURITY);
  cases.push({ name, blockHash, contract, budget: budget.toString(), height, stakes, winner });
}

const stakeOf = (i: number, over: Partial<RefStake> = {}): RefStake => ({
  address: address(i),
  txid: hex('txid', i),
  amount: '5000000000',
  reserved: '0',
  height: 10 + i,
  position: i,
  banned: false,
  ...over,
});

// Plain cases: five Validators, random keys.
for (let c = 0; c < 6; c++) {
  add(
    `random ${c}`,
    hex('block', c),
    hex('contract', c),
    2_000_000n,
    100,
    [0, 1, 2, 3, 4].map((i) => stakeOf(c * 10 + i)),
  );
}
// Eligibility: immature, banned, too little free stake; and none eligible.
add('immature, banned and short stakes take no part', hex('block', 50), hex('contract', 50), 3_000_000_000n, 100, [
  stakeOf(51, { height: 98 }),
  stakeOf(52, { banned: true }),
  stakeOf(53, { reserved: '2500000000' }),
  stakeOf(54),
]);
add('no eligible Validator', hex('block', 60), hex('contract', 60), 9_000_000_000n, 100, [stakeOf(61), stakeOf(62)]);

// Ties on fit: search txids until two share the highest fit with one key.
function tieCase(label: string, tweak: (a: RefStake, b: RefStake) => void) {
  const blockHash = hex(`tie-block-${label}`, 0);
  const contract = hex(`tie-contract-${label}`, 0);
  const key = referenceKey(blockHash, contract);
  const byFit = new Map<number, string>();
  for (let i = 0; ; i++) {
    const txid = hex(`tie-${label}`, i);
    const f = levenshtein(key, txid);
    const twin = byFit.get(f);
    if (twin !== undefined && f >= 58) {
      const a = stakeOf(100, { txid: twin, address: address(200 + i), height: 10, position: 1 });
      const b = stakeOf(101, { txid, address: address(300 + i), height: 11, position: 2 });
      tweak(a, b);
      add(`tie on fit (${f}): ${label}`, blockHash, contract, 2_000_000n, 100, [a, b]);
      return;
    }
    byFit.set(f, txid);
  }
}
// a: height 10, position 1; b: height 11, position 2; equal amounts unless tweaked.
tieCase('the larger stake wins', (_a, b) => {
  b.amount = '6000000000';
});
tieCase('equal stakes: the earlier height wins', (a) => {
  a.height = 12;
});
tieCase('equal stakes and heights: the earlier position wins', (a, b) => {
  b.height = a.height;
  b.position = 0;
});

const out = join(import.meta.dirname, '..', 'test', 'fixtures', 'assignment.json');
writeFileSync(
  out,
  `${JSON.stringify({ about: 'Validator assignment vectors; see docs/PROTOCOL.md "Validators" and scripts/assignment-vectors.ts', maturity: MATURITY, cases }, null, 2)}\n`,
);
console.log(`${cases.length} cases written to ${out}`);
