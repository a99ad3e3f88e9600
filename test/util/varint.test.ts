import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { EddyError } from "../../src/errors.ts";
import {
  ByteReader,
  sizeOfUnsignedVarint,
  sizeOfVarint,
  sizeOfVarlong,
  unzigzag32,
  writeUnsignedVarint,
  writeVarint,
  writeVarlong,
  zigzag32,
} from "../../src/util/varint.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);

describe("varint", () => {
  it("encodes the protobuf/Kafka examples", () => {
    const buf = new Uint8Array(10);
    expect(buf.subarray(0, writeVarint(buf, 0, 0))).toEqual(bytes(0));
    expect(buf.subarray(0, writeVarint(buf, 0, -1))).toEqual(bytes(1));
    expect(buf.subarray(0, writeVarint(buf, 0, 1))).toEqual(bytes(2));
    expect(buf.subarray(0, writeVarint(buf, 0, -64))).toEqual(bytes(0x7f));
    expect(buf.subarray(0, writeVarint(buf, 0, 64))).toEqual(bytes(0x80, 0x01));
    expect(buf.subarray(0, writeVarint(buf, 0, 300))).toEqual(bytes(0xd8, 0x04));
    expect(buf.subarray(0, writeVarint(buf, 0, -2147483648))).toEqual(bytes(0xff, 0xff, 0xff, 0xff, 0x0f));
    expect(buf.subarray(0, writeUnsignedVarint(buf, 0, 300))).toEqual(bytes(0xac, 0x02));
    expect(zigzag32(-2147483648)).toBe(0xffffffff);
    expect(unzigzag32(0xffffffff)).toBe(-2147483648);
  });

  it("round-trips int32 varints, safe-integer varlongs and unsigned varints with exact sizes", () => {
    const buf = new Uint8Array(16);
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: -(2 ** 52), max: 2 ** 52 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (i, l, u) => {
          let end = writeVarint(buf, 1, i);
          expect(end - 1).toBe(sizeOfVarint(i));
          let r = new ByteReader(buf, 1, end);
          expect(r.readVarint()).toBe(i);
          expect(r.remaining).toBe(0);
          end = writeVarlong(buf, 0, l);
          expect(end).toBe(sizeOfVarlong(l));
          r = new ByteReader(buf, 0, end);
          expect(r.readVarlong()).toBe(l);
          end = writeUnsignedVarint(buf, 0, u);
          expect(end).toBe(sizeOfUnsignedVarint(u));
          expect(new ByteReader(buf, 0, end).readUnsignedVarint()).toBe(u);
        },
      ),
    );
  });

  it("reads fixed-width big-endian ints and byte views", () => {
    const r = new ByteReader(bytes(0xff, 0x80, 0x01, 0xff, 0xff, 0xff, 0xfe, 0, 0, 1, 0, 0, 0, 0, 5, 9, 8));
    expect(r.readInt8()).toBe(-1);
    expect(r.readInt16()).toBe(-32767);
    expect(r.readInt32()).toBe(-2);
    expect(r.readInt64()).toBe(2 ** 40 + 5);
    expect(r.readBytes(2)).toEqual(bytes(9, 8));
  });

  it("throws EddyError (with the chosen code) on truncated or overlong input", () => {
    const cases: Array<(r: ByteReader) => unknown> = [
      (r) => r.readVarint(),
      (r) => r.readVarlong(),
      (r) => r.readInt32(),
      (r) => r.readInt64(),
      (r) => r.readBytes(3),
    ];
    for (const read of cases) {
      const r = new ByteReader(bytes(0x80, 0x80), 0, 2, "INVALID_REQUEST");
      expect(() => read(r)).toThrow(EddyError);
      try {
        read(new ByteReader(bytes(0x80, 0x80), 0, 2, "INVALID_REQUEST"));
      } catch (err) {
        expect((err as EddyError).code).toBe("INVALID_REQUEST");
      }
    }
    const overlong = new ByteReader(new Uint8Array(11).fill(0x80));
    expect(() => overlong.readVarint()).toThrow(EddyError);
    expect(() => new ByteReader(new Uint8Array(11).fill(0x80)).readVarlong()).toThrow(EddyError);
    expect(() => new ByteReader(bytes(1)).readBytes(-1)).toThrow(EddyError);
  });
});
