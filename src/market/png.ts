import { crc32, deflateSync } from 'node:zlib';

/**
 * A minimal PNG writer (8-bit greyscale, one IDAT): enough to show a
 * contract's boolean grid, such as the Mandelbrot set, as a picture.
 */
export function encodePng(width: number, height: number, pixel: (x: number, y: number) => number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError('image size must be positive integers');
  }
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) raw[row + 1 + x] = pixel(x, y) & 0xff;
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // depth 8, greyscale, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A grid of MCU outputs as an image: MCU i is column i % width of row
 * floor(i / width), rows counted from the bottom (the Mandelbrot example's
 * layout). Truthy outputs are black, the rest white, missing (undefined) ones grey.
 */
export function gridPng(output: (index: number) => unknown, width: number, height: number): Uint8Array {
  return encodePng(width, height, (x, y) => {
    const o = output((height - 1 - y) * width + x);
    if (o === undefined) return 0x80;
    return o ? 0x00 : 0xff;
  });
}
