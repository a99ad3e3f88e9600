import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { compress as rawSnappy } from "snappyjs";
import { EddyError } from "../../src/errors.ts";
import { Codec, compress, decompress, snappyXerialCompress } from "../../src/log/compression.ts";
import { lz4CompressFrame, lz4DecompressFrame } from "../../src/log/lz4.ts";
import { xxhash32 } from "../../src/util/xxhash32.ts";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const utf8 = (s: string) => new TextEncoder().encode(s);
const ALL = [Codec.NONE, Codec.GZIP, Codec.SNAPPY, Codec.LZ4, Codec.ZSTD];
const PLAIN = "hello hello hello hello kafka lz4 frame, hello again and again";

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (!(err instanceof EddyError)) throw err;
    return err.code;
  }
}

/** Compressible, sensor-like data of a given size. */
function sample(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = 1;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = i % 16 < 8 ? 0x61 + (i % 7) : (x >>> 24) & 0x0f;
  }
  return out;
}

describe("compression: fixed vectors from the reference tools", () => {
  it("decodes LZ4 frames written by the lz4 CLI (checksums, content size)", () => {
    const withChecksums = hex(
      "04224d187c403e00000000000000cf2e0000006e68656c6c6f200600f3016b61666b61206c7a34206672616d652c2300f000616761696e20616e6420616761696e28c70ae5000000009a312872",
    );
    const contentChecksum = hex(
      "04224d186440a72e0000006e68656c6c6f200600f3016b61666b61206c7a34206672616d652c2300f000616761696e20616e6420616761696e000000009a312872",
    );
    for (const frame of [withChecksums, contentChecksum]) {
      expect(new TextDecoder().decode(decompress(Codec.LZ4, frame))).toBe(PLAIN);
    }
    // A flipped byte inside the block is caught by the block checksum.
    const bad = withChecksums.slice();
    bad[30]! ^= 1;
    expect(codeOf(() => decompress(Codec.LZ4, bad))).toBe("CORRUPT_RECORD");
  });

  it("decodes gzip and zstd written by the gzip and zstd CLIs", () => {
    const gz = hex(
      "1f8b08089edf066b020366782e696e00cb48cdc9c957c8c020b313d3b2131572aa4c14d28a12735375a0c289e98999790a897929101600a5fb8c993e000000",
    );
    const zst = hex(
      "28b52ffd243e7d0100540268656c6c6f206b61666b61206c7a34206672616d652c616761696e20616e6420616761696e02008cca56bc5204fecef84f",
    );
    expect(new TextDecoder().decode(decompress(Codec.GZIP, gz))).toBe(PLAIN);
    expect(new TextDecoder().decode(decompress(Codec.ZSTD, zst))).toBe(PLAIN);
  });

  it("writes the LZ4 frame header Kafka's Java client writes", () => {
    const frame = lz4CompressFrame(utf8(PLAIN));
    // magic 184D2204 (LE), FLG 0x60 (v1, independent blocks), BD 0x40 (64 KiB)
    expect(Buffer.from(frame.subarray(0, 6)).toString("hex")).toBe("04224d186040");
    expect(frame[6]).toBe((xxhash32(frame, 4, 6) >>> 8) & 0xff);
    expect(Buffer.from(frame.subarray(-4)).toString("hex")).toBe("00000000"); // end mark
  });

  it("xxhash32 matches the reference vectors", () => {
    expect(xxhash32(new Uint8Array(0))).toBe(0x02cc5d05);
    expect(xxhash32(utf8("abc"))).toBe(0x32d153ff);
    expect(xxhash32(utf8("Nobody inspects the spammish repetition"))).toBe(0xe2293b2f);
  });
});

describe("compression: snappy framing", () => {
  it("encodes xerial framing like Java's SnappyOutputStream, 32 KiB per chunk", () => {
    const data = sample(70_000);
    const out = compress(Codec.SNAPPY, data);
    expect(Buffer.from(out.subarray(0, 16)).toString("hex")).toBe("82534e41505059000000000100000001");
    let p = 16;
    let chunks = 0;
    while (p < out.length) {
      const len = Buffer.from(out.subarray(p, p + 4)).readUInt32BE(0);
      p += 4 + len;
      chunks++;
    }
    expect(p).toBe(out.length);
    expect(chunks).toBe(3);
    expect(decompress(Codec.SNAPPY, out)).toEqual(data);
  });

  it("decodes raw snappy (no framing) and concatenated xerial streams", () => {
    const a = utf8(PLAIN);
    expect(decompress(Codec.SNAPPY, rawSnappy(a))).toEqual(a);
    const s1 = snappyXerialCompress(utf8("first "));
    const s2 = snappyXerialCompress(utf8("second"));
    const both = new Uint8Array(s1.length + s2.length);
    both.set(s1);
    both.set(s2, s1.length);
    expect(new TextDecoder().decode(decompress(Codec.SNAPPY, both))).toBe("first second");
  });
});

describe("compression: properties and limits", () => {
  it("round-trips random and compressible data with every codec", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 2000 }),
          fc.nat({ max: 200_000 }).map(sample),
          fc.constant(new Uint8Array(0)),
        ),
        fc.constantFrom(...ALL),
        (data, codec) => {
          const packed = compress(codec, data);
          expect(decompress(codec, packed)).toEqual(data);
        },
      ),
      { numRuns: 80 },
    );
  });

  it("lz4 compresses what it should and reproduces data with long runs and overlaps", () => {
    const runs = new Uint8Array(300_000).fill(7);
    const frame = lz4CompressFrame(runs);
    expect(frame.length).toBeLessThan(5_000);
    expect(lz4DecompressFrame(frame)).toEqual(runs);
    const pattern = utf8("abcabcabcabcabcabcabcabcabcabcabcabcabcabcab-xyz".repeat(50));
    expect(lz4DecompressFrame(lz4CompressFrame(pattern))).toEqual(pattern);
  });

  it("garbage or truncated input never throws anything but CORRUPT_RECORD", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(Codec.GZIP, Codec.SNAPPY, Codec.LZ4, Codec.ZSTD),
        fc.uint8Array({ maxLength: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (codec, junk, f) => {
          const code = codeOf(() => decompress(codec, junk));
          expect(code === null || code === "CORRUPT_RECORD").toBe(true);
          const good = compress(codec, sample(5000));
          const cut = good.subarray(0, Math.floor(f * (good.length - 1)));
          const cutCode = codeOf(() => decompress(codec, cut));
          if (codec !== Codec.SNAPPY) expect(cutCode).toBe("CORRUPT_RECORD");
          else expect(cutCode === null || cutCode === "CORRUPT_RECORD").toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("bounds the decompressed size", () => {
    const bomb = new Uint8Array(1_000_000);
    for (const codec of [Codec.GZIP, Codec.SNAPPY, Codec.LZ4, Codec.ZSTD]) {
      const packed = compress(codec, bomb);
      expect(codeOf(() => decompress(codec, packed, 10_000))).toBe("CORRUPT_RECORD");
      expect(decompress(codec, packed, 1_000_000).length).toBe(1_000_000);
    }
  });

  it("rejects unknown codecs with UNSUPPORTED_COMPRESSION", () => {
    for (const codec of [5, 6, 7, -1]) {
      expect(codeOf(() => compress(codec, utf8("x")))).toBe("UNSUPPORTED_COMPRESSION");
      expect(codeOf(() => decompress(codec, utf8("x")))).toBe("UNSUPPORTED_COMPRESSION");
    }
  });
});
