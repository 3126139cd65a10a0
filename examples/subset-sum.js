// biome-ignore-all lint/correctness/noUnusedVariables: the sandbox reads these top-level names
// Every subset of 32 weights that sums exactly to TARGET: an NP-complete
// search (the whitepaper: "for NP-complete problems, [validation] is a
// complete non-problem"). Finding the subsets takes 2^32 additions; checking
// one that a Solver claims takes 32. See docs/CONTRACTS.md for the format.
//
// MCU number i fixes the high 32 - LOW_BITS weights to the bits of i and
// walks all 2^LOW_BITS choices of the low weights in Gray-code order, one
// addition or subtraction per step. Its result is the sorted list of
// subsets (as bit masks: bit b set = WEIGHTS[b] taken) that hit TARGET.

const WEIGHTS = [
  737361, 958734, 908356, 453983, 371422, 948066, 257118, 483340, 853132, 893975, 486720, 450912, 117973, 342851,
  835058, 810933, 419045, 723163, 230299, 152362, 526820, 475522, 885251, 413991, 816041, 730962, 188272, 290501,
  230835, 132524, 312831, 442575,
];
/** Half the total weight: where subset sums are densest (hundreds of hits). */
const TARGET = 8440464;
/** Subsets walked per MCU: 2^16 = 65,536 (about 0.2 ms). */
const LOW_BITS = 16;
const LOW_COUNT = 2 ** LOW_BITS;

const size = 2 ** (WEIGHTS.length - LOW_BITS);

/** The high bits of the subsets MCU i walks. */
function input(i) {
  return i;
}

function mcu(high) {
  let sum = 0;
  for (let b = LOW_BITS; b < WEIGHTS.length; b++) {
    if (Math.floor(high / 2 ** (b - LOW_BITS)) % 2 === 1) sum += WEIGHTS[b];
  }
  const base = high * LOW_COUNT;
  const found = [];
  let low = 0; // the current Gray code: the low subset whose sum is in `sum`
  if (sum === TARGET) found.push(base);
  for (let step = 1; step < LOW_COUNT; step++) {
    // Gray code: step k flips the bit at the position of k's lowest set bit.
    const bit = 31 - Math.clz32(step & -step);
    low ^= 1 << bit;
    sum += (low >> bit) & 1 ? WEIGHTS[bit] : -WEIGHTS[bit];
    if (sum === TARGET) found.push(base + low);
  }
  return found.sort((a, b) => a - b);
}

/** The sum of the weights a mask selects. */
function weightOf(mask) {
  let sum = 0;
  for (let b = 0; b < WEIGHTS.length; b++) {
    if (Math.floor(mask / 2 ** b) % 2 === 1) sum += WEIGHTS[b];
  }
  return sum;
}

/**
 * Every claimed subset is checked (cheap: 32 additions each), so no Solver
 * is paid for a wrong answer; a seeded sample of the MCUs (zi.sample: the
 * contract's sampleRate per mille, drawn from a seed the Solver cannot know
 * when it sends its results) is redone in full, so a Solver that skips a
 * fraction f of its work and claims "nothing found" passes a batch with
 * probability about (1 - f)^k for a sample of k.
 */
function validate(results, seed) {
  for (const [i, high, found] of results) {
    if (high !== i || !Array.isArray(found)) return false;
    for (let k = 0; k < found.length; k++) {
      const mask = found[k];
      if (!Number.isInteger(mask) || Math.floor(mask / LOW_COUNT) !== i) return false;
      if (k > 0 && mask <= found[k - 1]) return false;
      if (weightOf(mask) !== TARGET) return false;
    }
  }
  for (const [i, , found] of zi.sample(results, seed)) {
    if (JSON.stringify(mcu(i)) !== JSON.stringify(found)) return false;
  }
  return true;
}
