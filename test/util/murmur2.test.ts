import { describe, expect, it } from "bun:test";
import { kafkaPartition, murmur2, toPositive } from "../../src/util/murmur2.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);

describe("murmur2", () => {
  it("matches Apache Kafka's UtilsTest.testMurmur2 vectors", () => {
    const cases: Record<string, number> = {
      "21": -973932308,
      foobar: -790332482,
      "a-little-bit-long-string": -985981536,
      "a-little-bit-longer-string": -1486304829,
      lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8: -58897971,
      abc: 479470107,
    };
    for (const [input, expected] of Object.entries(cases)) expect(murmur2(utf8(input))).toBe(expected);
  });

  it("covers every tail length (0-3 trailing bytes) like Java", () => {
    // Values of Kafka's Utils.murmur2 as quoted by other Kafka-compatible clients.
    expect(murmur2(utf8("1"))).toBe(-1993445489);
    expect(murmur2(utf8("12"))).toBe(126087238);
    expect(murmur2(utf8("123"))).toBe(-267702483);
    expect(murmur2(utf8("1234"))).toBe(-1614185708);
    expect(murmur2(utf8("12345"))).toBe(-1188365604);
    expect(murmur2(utf8("kafka"))).toBe(-798503068);
  });

  it("treats bytes as signed like Java for high bytes in the tail and body", () => {
    // Stable, signed 32-bit results for non-ASCII input.
    const h = murmur2(Uint8Array.from([0xff, 0xfe, 0x80, 0x81, 0xc3]));
    expect(Number.isInteger(h)).toBe(true);
    expect(h).toBe(h | 0);
  });

  it("maps keys to partitions with toPositive, not abs", () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-2147483648)).toBe(0);
    for (const key of ["21", "foobar", "abc", "kafka", "device-42"]) {
      const p = kafkaPartition(utf8(key), 7);
      expect(p).toBe((murmur2(utf8(key)) & 0x7fffffff) % 7);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(7);
    }
    // "21" hashes to -973932308 → 0x7fffffff & h = 1173551340 → % 10 = 0
    expect(kafkaPartition(utf8("21"), 10)).toBe(1173551340 % 10);
  });
});
