import { describe, expect, it } from "bun:test";
import { EddyError } from "../../src/errors.ts";
import { FrameDecoder } from "../../src/kafka/protocol/frame.ts";
import { prng } from "./schema-samples.ts";

function framed(bodies: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(bodies.reduce((n, b) => n + 4 + b.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const b of bodies) {
    view.setInt32(at, b.length);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("FrameDecoder", () => {
  const rand = prng(5);
  const bodies = [0, 1, 3, 4, 5, 100, 70_000, 2].map((n) =>
    Uint8Array.from({ length: n }, () => Math.floor(rand() * 256)),
  );
  const stream = framed(bodies);

  function decodeIn(cuts: number[]): Uint8Array[] {
    const d = new FrameDecoder();
    const frames: Uint8Array[] = [];
    let at = 0;
    for (const cut of [...cuts, stream.length]) {
      frames.push(...d.push(stream.subarray(at, cut)));
      at = cut;
    }
    expect(d.bufferedBytes).toBe(0);
    return frames;
  }

  it("returns every frame whole, in one chunk", () => {
    expect(decodeIn([]).map(hex)).toEqual(bodies.map(hex));
  });

  it("returns the same frames whatever the chunk boundaries", () => {
    for (let trial = 0; trial < 200; trial++) {
      const cuts = Array.from({ length: 1 + (trial % 12) }, () => Math.floor(rand() * stream.length)).sort(
        (a, b) => a - b,
      );
      expect(decodeIn(cuts).map(hex)).toEqual(bodies.map(hex));
    }
  });

  it("handles a stream fed one byte at a time", () => {
    const small = framed(bodies.slice(0, 6));
    const d = new FrameDecoder();
    const frames: Uint8Array[] = [];
    for (let i = 0; i < small.length; i++) {
      frames.push(...d.push(small.subarray(i, i + 1)));
      if (i < small.length - 1) expect(d.bufferedBytes).toBeGreaterThanOrEqual(0);
    }
    expect(frames.map(hex)).toEqual(bodies.slice(0, 6).map(hex));
  });

  it("holds back a partial frame until its last byte arrives", () => {
    const d = new FrameDecoder();
    const one = framed([Uint8Array.of(1, 2, 3)]);
    expect(d.push(one.subarray(0, 2))).toEqual([]);
    expect(d.bufferedBytes).toBe(2);
    expect(d.push(one.subarray(2, 6))).toEqual([]);
    expect(d.push(one.subarray(6))).toEqual([Uint8Array.of(1, 2, 3)]);
  });

  it("rejects a frame above the maximum size with a clear error", () => {
    const d = new FrameDecoder({ maxFrameSize: 1000 });
    expect(() => d.push(framed([new Uint8Array(1001)]))).toThrow(EddyError);
    expect(() => new FrameDecoder({ maxFrameSize: 1000 }).push(Uint8Array.of(0, 0, 3, 0xe9))).toThrow(
      "Kafka frame of 1001 bytes is outside the limit of 1000 bytes",
    );
    expect(() => new FrameDecoder().push(Buffer.from("GET / HTTP/1.1\r\n"))).toThrow("HTTP");
    expect(() => new FrameDecoder().push(Uint8Array.of(0xff, 0xff, 0xff, 0xff))).toThrow(EddyError);
    expect(new FrameDecoder({ maxFrameSize: 1000 }).push(framed([new Uint8Array(1000)]))[0]!.length).toBe(
      1000,
    );
  });
});
