/** crc32c's word-load path (inputs of 256+ bytes) on views at every alignment, against a bitwise reference. */
import { describe, expect, it } from "bun:test";
import { crc32c, crc32cUpdate } from "../../src/util/crc32c.ts";

function reference(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe("crc32c on long inputs", () => {
  it("agrees with the reference for views at any byte offset and odd lengths", () => {
    const backing = new Uint8Array(5000);
    let x = 12345;
    for (let i = 0; i < backing.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      backing[i] = x >>> 24;
    }
    for (let offset = 0; offset < 9; offset++) {
      for (const length of [255, 256, 257, 263, 1000, 4091]) {
        const view = backing.subarray(offset, offset + length);
        expect(crc32c(view)).toBe(reference(view));
        // start/end inside a longer buffer, and chaining across the 256-byte threshold
        expect(crc32c(backing, offset, offset + length)).toBe(reference(view));
        expect(crc32cUpdate(crc32cUpdate(0, view, 0, 100), view, 100)).toBe(reference(view));
      }
    }
  });
});
