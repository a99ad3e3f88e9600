import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { crc32c, crc32cUpdate } from "../../src/util/crc32c.ts";

/** Bit-at-a-time reference implementation (reflected poly 0x82F63B78). */
function reference(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

const ascii = (s: string) => new TextEncoder().encode(s);

describe("crc32c", () => {
  it("matches the standard check value", () => {
    expect(crc32c(ascii("123456789"))).toBe(0xe3069283);
  });

  it("matches RFC 3720 (iSCSI) test vectors", () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    const inc = Uint8Array.from({ length: 32 }, (_, i) => i);
    expect(crc32c(inc)).toBe(0x46dd794e);
    const dec = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);
    expect(crc32c(dec)).toBe(0x113fdb5c);
  });

  it("is 0 for empty input and unsigned", () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(ascii("a"))).toBeGreaterThan(0);
    expect(crc32c(ascii("123456789"))).toBeGreaterThan(0x7fffffff);
  });

  it("honours start and end", () => {
    const buf = ascii("xx123456789yyy");
    expect(crc32c(buf, 2, 11)).toBe(0xe3069283);
    expect(crc32c(buf, 5, 5)).toBe(0);
  });

  it("agrees with a bit-at-a-time reference on random input, and chains", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (buf, cut) => {
        const split = Math.min(cut, buf.length);
        const whole = crc32c(buf);
        expect(whole).toBe(reference(buf));
        expect(crc32cUpdate(crc32cUpdate(0, buf, 0, split), buf, split)).toBe(whole);
      }),
    );
  });
});
