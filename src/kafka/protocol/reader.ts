/**
 * Read cursor for Kafka protocol messages (sans-IO), used by the generated
 * decoders in src/kafka/generated/.
 *
 * Every failure is an EddyError INVALID_REQUEST naming the byte position:
 * truncated input, a negative length where the field is not nullable, a length
 * larger than the bytes left, an int64 outside the safe-integer range, a
 * malformed varint or tagged-field section. Nothing else (no RangeError) escapes.
 *
 * Conventions: `f` is "this field uses the flexible (compact) encoding":
 * unsigned-varint lengths plus one, 0 meaning null; otherwise int16 (strings) or
 * int32 (bytes, arrays) lengths, -1 meaning null. Byte fields (`bytes`,
 * `records`) come back as views (subarray) into the input, never copies.
 */
import { EddyError } from "../../errors.ts";
import { ByteReader } from "../../util/varint.ts";
import { EMPTY_BYTES } from "./values.ts";

export type ItemReader<T> = (r: Reader, v: number, f: boolean) => T;

const TWO_32 = 4294967296;
const textDecoder = new TextDecoder();

export class Reader extends ByteReader {
  private view: DataView | undefined;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    super(buf, pos, end, "INVALID_REQUEST");
  }

  override fail(what: string): never {
    throw new EddyError("INVALID_REQUEST", `malformed Kafka message: ${what} at byte ${this.pos}`, {
      pos: this.pos,
    });
  }

  readBool(): boolean {
    this.need(1);
    return this.buf[this.pos++] !== 0;
  }

  readUint16(): number {
    return this.readInt16() & 0xffff;
  }

  readUint32(): number {
    return this.readInt32() >>> 0;
  }

  /** int64 as a safe-integer number; anything outside ±(2^53-1) is rejected. */
  override readInt64(): number {
    const hi = this.readInt32();
    const x = hi * TWO_32 + (this.readInt32() >>> 0);
    if (!Number.isSafeInteger(x)) {
      this.pos -= 8;
      this.fail("int64 outside the safe integer range (±2^53-1)");
    }
    return x;
  }

  readFloat64(): number {
    this.need(8);
    this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    const x = this.view.getFloat64(this.pos);
    this.pos += 8;
    return x;
  }

  /** A UUID in Kafka's text form: 22 characters of unpadded base64url. */
  readUuid(): string {
    const b = this.readBytes(16);
    return Buffer.from(b.buffer, b.byteOffset, 16).toString("base64url");
  }

  /**
   * A length prefix: compact (unsigned varint, n+1) or int32 / int16 (`short`).
   * Returns -1 for null (only when `nullable`), else a length ≤ the bytes left
   * (each array element takes at least... nothing for an empty struct, so the
   * bound keeps hostile counts to the frame's size).
   */
  readLength(f: boolean, nullable: boolean, short = false): number {
    const n = f ? this.readUnsignedVarint() - 1 : short ? this.readInt16() : this.readInt32();
    if (n < 0) {
      if (n === -1 && nullable) return -1;
      this.fail(n === -1 ? "null in a non-nullable field" : `negative length ${n}`);
    }
    if (n > this.end - this.pos) this.fail(`length ${n} exceeds the ${this.end - this.pos} bytes left`);
    return n;
  }

  readString(f: boolean): string;
  readString(f: boolean, nullable: boolean): string | null;
  readString(f: boolean, nullable = false): string | null {
    const n = this.readLength(f, nullable, true);
    if (n < 0) return null;
    const buf = this.buf;
    const start = this.pos;
    this.pos = start + n;
    if (n < 32) {
      let s = "";
      for (let i = start; i < start + n; i++) {
        const c = buf[i]!;
        if (c >= 0x80) return textDecoder.decode(buf.subarray(start, start + n));
        s += String.fromCharCode(c);
      }
      return s;
    }
    return textDecoder.decode(buf.subarray(start, start + n));
  }

  /** `bytes` and `records`: a view into the input. */
  readBlob(f: boolean): Uint8Array;
  readBlob(f: boolean, nullable: boolean): Uint8Array | null;
  readBlob(f: boolean, nullable = false): Uint8Array | null {
    const n = this.readLength(f, nullable);
    if (n < 0) return null;
    return n === 0 ? EMPTY_BYTES : this.readBytes(n);
  }

  readArray<T>(f: boolean, v: number, item: ItemReader<T>): T[];
  readArray<T>(f: boolean, v: number, item: ItemReader<T>, nullable: boolean): T[] | null;
  readArray<T>(f: boolean, v: number, item: ItemReader<T>, nullable = false): T[] | null {
    const n = this.readLength(f, nullable);
    if (n < 0) return null;
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this, v, f));
    return out;
  }

  /** A struct field that may be null: in nullable versions an int8 marker (-1 null, 1 present) comes first. */
  readStruct<T>(v: number, item: ItemReader<T>, nullable: boolean): T | null {
    if (nullable && this.readInt8() < 0) return null;
    return item(this, v, false);
  }

  /** Skip a tagged-field section whose tags this version does not know. */
  skipTags(): void {
    for (let n = this.readUnsignedVarint(); n > 0; n--) {
      this.readUnsignedVarint();
      this.pos = this.tagEnd();
    }
  }

  /** Read a tagged field's size; returns where its value ends. */
  tagEnd(): number {
    const size = this.readUnsignedVarint();
    if (size > this.end - this.pos) this.fail(`tagged field of ${size} bytes exceeds the bytes left`);
    return this.pos + size;
  }

  /** Check that a tagged field's value used exactly its declared size. */
  checkTagEnd(end: number): void {
    if (this.pos !== end) this.fail("tagged field size does not match its value");
  }
}

/** Item readers for arrays of primitives (static functions: no per-call closures). */
export const readItem = {
  int8: (r: Reader) => r.readInt8(),
  int16: (r: Reader) => r.readInt16(),
  uint16: (r: Reader) => r.readUint16(),
  int32: (r: Reader) => r.readInt32(),
  uint32: (r: Reader) => r.readUint32(),
  int64: (r: Reader) => r.readInt64(),
  float64: (r: Reader) => r.readFloat64(),
  bool: (r: Reader) => r.readBool(),
  uuid: (r: Reader) => r.readUuid(),
  string: (r: Reader, _v: number, f: boolean) => r.readString(f),
  bytes: (r: Reader, _v: number, f: boolean) => r.readBlob(f),
} as const;
