/**
 * FrameDecoder's buffer for frames above `eagerFrameSize` grows with the bytes
 * that arrive, so an announced but unsent huge frame costs little memory
 * (found by test/kafka/fuzz-binary.test.ts: 100 MiB announcements grew RSS).
 */
import { describe, expect, it } from "bun:test";
import { FrameDecoder } from "../../src/kafka/protocol/frame.ts";

/** An allocator that records the sizes it was asked for. */
function recording(sizes: number[]): (n: number) => Uint8Array {
  return (n) => {
    sizes.push(n);
    return new Uint8Array(n);
  };
}

function sized(body: Uint8Array, size = body.length): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setInt32(0, size);
  out.set(body, 4);
  return out;
}

describe("FrameDecoder large frames", () => {
  it("does not allocate an announced 100 MiB frame up front", () => {
    const sizes: number[] = [];
    const d = new FrameDecoder({ allocate: recording(sizes) });
    expect(d.push(sized(new Uint8Array(10), 100 * 1024 * 1024))).toEqual([]);
    expect(d.bufferedBytes).toBe(10);
    expect(sizes).toEqual([]);
  });

  it("assembles frames around the eager limit byte for byte, allocating the exact size once", () => {
    for (const size of [1000, 1024, 1025, 3000, 4096 + 7]) {
      const body = Uint8Array.from({ length: size }, (_, i) => (i * 31 + size) & 0xff);
      const stream = sized(body);
      const sizes: number[] = [];
      const d = new FrameDecoder({
        eagerFrameSize: 1024,
        allocate: recording(sizes),
      });
      const frames: Uint8Array[] = [];
      for (let at = 0; at < stream.length; at += 100) frames.push(...d.push(stream.subarray(at, at + 100)));
      expect(frames).toHaveLength(1);
      expect(frames[0]!.length).toBe(size);
      expect(Buffer.from(frames[0]!).equals(Buffer.from(body))).toBe(true);
      expect(sizes).toEqual([size]);
      expect(d.bufferedBytes).toBe(0);
    }
  });

  it("keeps decoding frames after a grown one", () => {
    const d = new FrameDecoder({ eagerFrameSize: 16 });
    const big = sized(new Uint8Array(100).fill(7));
    const small = sized(Uint8Array.of(1, 2, 3));
    const stream = Buffer.concat([big, small, big]);
    const frames: Uint8Array[] = [];
    for (let at = 0; at < stream.length; at += 9) frames.push(...d.push(stream.subarray(at, at + 9)));
    expect(frames.map((f) => f.length)).toEqual([100, 3, 100]);
    expect([...frames[1]!]).toEqual([1, 2, 3]);
    expect(frames[2]!.every((b) => b === 7)).toBe(true);
  });
});
