// biome-ignore-all lint/correctness/noUnusedVariables: the sandbox reads these top-level names
// Membership in the Mandelbrot set on a grid: the example contract of the
// whitepaper ("A Distributed Computation Marketplace over Blockchain", §2),
// written in JavaScript for Zi's contract sandbox (see docs/CONTRACTS.md).
//
// The grid covers real parts [-2, 2) and imaginary parts [-1, 1) in square
// cells of side 1/SCALE. MCU number i is the point of row floor(i / WIDTH)
// and column i % WIDTH, rows from the bottom (imaginary part -1) up: a
// renderer turns the results into a WIDTH × HEIGHT image with one pixel per
// MCU, flipping rows so the imaginary axis points up.

/** Grid points per unit length. The paper asks for five decimals (100,000);
 *  this size keeps the whole grid at about a minute on one laptop core. */
const SCALE = 2500;
/** Columns: real parts -2 … 2 - 1/SCALE. */
const WIDTH = 4 * SCALE;
/** Rows: imaginary parts -1 … 1 - 1/SCALE. */
const HEIGHT = 2 * SCALE;
/** Iteration limit of the paper: `for _ in range(1, 2000)`, i.e. 1,999 steps. */
const ITERATIONS = 2000;
/** The paper's escape test, |z| > 1000, compared squared. */
const ESCAPE_SQUARED = 1000 * 1000;

const size = WIDTH * HEIGHT;

/** c = re + im·i as [re, im]. Dividing integers by SCALE gives the double
 *  nearest to each decimal grid value, the same on every machine. */
function input(i) {
  const row = Math.floor(i / WIDTH);
  const col = i - row * WIDTH;
  return [(col - 2 * SCALE) / SCALE, (row - SCALE) / SCALE];
}

/** The paper's MCU: iterate z = z² + c from z = 0; false as soon as |z| > 1000. */
function mcu(c) {
  const cr = c[0];
  const ci = c[1];
  let zr = 0;
  let zi = 0;
  for (let n = 1; n < ITERATIONS; n++) {
    const zr2 = zr * zr - zi * zi + cr;
    zi = 2 * zr * zi + ci;
    zr = zr2;
    if (zr * zr + zi * zi > ESCAPE_SQUARED) return false;
  }
  return true;
}

/** The paper's union: the concatenation of two result lists. */
function union(a, b) {
  return a.concat(b);
}

// The paper's validation is the sandbox's default, so it is not declared
// here:
//
//   def validate(results):
//       for result in results:
//           [index, complex_number, solution] = result
//           if index % 100 == 0 and MCU(complex_number) != solution:
//               return False
//       return True
//
// The paper's fixed sample (index % 100) is one a Solver can predict, so
// the default recomputes a sample it cannot: the indices that sampling.ts
// draws from a seed the authority picks after the batch arrives (the
// contract's sampleRate per mille of the batch, 10 by default), comparing
// both the input (a right answer cannot be paired with a wrong point) and
// the output. It works on the results as compact columns, far cheaper for
// a Bidder than a declared validate, which receives every row as an array.
