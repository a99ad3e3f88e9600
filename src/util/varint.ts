/**
 * Variable-length integers as Kafka encodes them (protobuf style, 7 bits per
 * byte, low bits first): zigzag `varint` (int32) and `varlong` (int64, here
 * limited to JS safe integers), and `unsigned varint` (compact lengths in the
 * flexible Kafka protocol versions).
 *
 * Writers take (buf, pos, value) and return the position after the value; the
 * caller sizes the buffer with the `sizeOf*` functions first. Readers go
 * through a `ByteReader` cursor, which throws an EddyError (CORRUPT_RECORD by
 * default) when the input ends early or a varint is too long, never anything else.
 */
import { EddyError, type ErrorCode } from "../errors.ts";

const TWO_32 = 4294967296;

/** Zigzag-encode a signed 32-bit int into an unsigned 32-bit int. */
export function zigzag32(n: number): number {
  return ((n << 1) ^ (n >> 31)) >>> 0;
}

/** Undo zigzag32. */
export function unzigzag32(z: number): number {
  return (z >>> 1) ^ -(z & 1);
}

/** Zigzag-encode a safe integer (varlong). */
export function zigzag64(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

/** Undo zigzag64. */
export function unzigzag64(z: number): number {
  // z is even → non-negative; odd → negative.
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** Bytes of an unsigned varint (0 ≤ u < 2^32). */
export function sizeOfUnsignedVarint(u: number): number {
  if (u < 0x80) return 1;
  if (u < 0x4000) return 2;
  if (u < 0x200000) return 3;
  if (u < 0x10000000) return 4;
  return 5;
}

/** Bytes of a zigzag varint (signed 32-bit). */
export function sizeOfVarint(n: number): number {
  return sizeOfUnsignedVarint(zigzag32(n));
}

/** Bytes of a zigzag varlong (safe integer). */
export function sizeOfVarlong(n: number): number {
  let z = zigzag64(n);
  if (z < TWO_32) return sizeOfUnsignedVarint(z);
  let size = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 128);
    size++;
  }
  return size;
}

/** Write an unsigned varint (0 ≤ u < 2^32); returns the next position. */
export function writeUnsignedVarint(buf: Uint8Array, pos: number, u: number): number {
  let v = u >>> 0;
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

/** Write a zigzag varint (signed 32-bit); returns the next position. */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  let v = ((n << 1) ^ (n >> 31)) >>> 0;
  if (v < 0x80) {
    buf[pos] = v;
    return pos + 1;
  }
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

/** Write a zigzag varlong (safe integer); returns the next position. */
export function writeVarlong(buf: Uint8Array, pos: number, n: number): number {
  let z = zigzag64(n);
  if (z < TWO_32) return writeUnsignedVarint(buf, pos, z);
  while (z >= 0x80) {
    buf[pos++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[pos++] = z;
  return pos;
}

/** A read cursor over `buf[pos, end)`. */
export class ByteReader {
  buf: Uint8Array;
  pos: number;
  end: number;
  readonly errorCode: ErrorCode;

  constructor(buf: Uint8Array, pos = 0, end = buf.length, errorCode: ErrorCode = "CORRUPT_RECORD") {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.errorCode = errorCode;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(what: string): never {
    throw new EddyError(this.errorCode, `malformed input: ${what} at byte ${this.pos}`, { pos: this.pos });
  }

  /** Ensure `n` more bytes are available. */
  need(n: number): void {
    if (n < 0 || this.pos + n > this.end) this.fail(`needs ${n} bytes but ${this.end - this.pos} remain`);
  }

  readUnsignedVarint(): number {
    const buf = this.buf;
    let result = 0;
    let shift = 0;
    while (shift < 35) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = buf[this.pos++]!;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result >>> 0;
      shift += 7;
    }
    return this.fail("varint longer than 5 bytes");
  }

  readVarint(): number {
    const buf = this.buf;
    const p = this.pos;
    if (p < this.end) {
      const b = buf[p]!;
      if (b < 0x80) {
        this.pos = p + 1;
        return (b >>> 1) ^ -(b & 1);
      }
    }
    const z = this.readUnsignedVarint();
    return (z >>> 1) ^ -(z & 1);
  }

  readVarlong(): number {
    const buf = this.buf;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varlong");
      const b = buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return unzigzag64(result);
      mul *= 128;
    }
    return this.fail("varlong longer than 10 bytes");
  }

  readInt8(): number {
    this.need(1);
    return (this.buf[this.pos++]! << 24) >> 24;
  }

  readInt16(): number {
    this.need(2);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return ((b[p]! << 24) | (b[p + 1]! << 16)) >> 16;
  }

  readInt32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }

  /** Big-endian int64 as a number (exact for safe integers). */
  readInt64(): number {
    const hi = this.readInt32();
    const lo = this.readInt32() >>> 0;
    return hi * TWO_32 + lo;
  }

  /** A view (not a copy) of the next `n` bytes. */
  readBytes(n: number): Uint8Array {
    this.need(n);
    const p = this.pos;
    this.pos = p + n;
    return this.buf.subarray(p, p + n);
  }
}
