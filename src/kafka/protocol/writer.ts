/**
 * Growable write buffer for Kafka protocol messages (sans-IO), used by the
 * generated encoders in src/kafka/generated/.
 *
 * Large byte fields (record batches in Fetch responses, ≥ 4 KiB) are not copied:
 * the writer closes the current segment and keeps the caller's Uint8Array as a
 * chunk of its own, so `toChunks()` hands a socket a list of views to write in
 * order (`toBytes()` joins them when one buffer is wanted). The caller must not
 * change a byte field until the output has been written.
 *
 * `f` means "flexible (compact) encoding" as in reader.ts. Encoding a value a
 * field cannot carry (null in a non-nullable field, a 40 KB int16-length
 * string, an unsafe int64, a non-default value in a version without the field)
 * throws an EddyError INVALID_REQUEST that names the field.
 */
import { EddyError } from "../../errors.ts";
import { sizeOfUnsignedVarint } from "../../util/varint.ts";

export type ItemWriter<T> = (w: Writer, item: T, v: number, f: boolean) => void;

const TWO_32 = 4294967296;
/** Byte fields at least this long travel as their own chunk instead of being copied. */
const CHUNK_THRESHOLD = 4096;
const textEncoder = new TextEncoder();

function fail(message: string): never {
  throw new EddyError("INVALID_REQUEST", message);
}

export class Writer {
  buf: Uint8Array;
  pos = 0;
  private view: DataView;
  private chunks: Uint8Array[] = [];
  private segmentStart = 0;
  private chunkedBytes = 0;
  private tagDepth = 0;

  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  /** Bytes written so far, including byte fields kept as chunks. */
  get length(): number {
    return this.pos + this.chunkedBytes;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = Math.max(64, this.buf.length * 2);
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    // Earlier chunks are views of the old buffer; they stay valid.
    next.set(this.buf.subarray(this.segmentStart, this.pos), this.segmentStart);
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  writeInt8(n: number): void {
    this.ensure(1);
    this.buf[this.pos++] = n;
  }

  writeBool(b: boolean): void {
    this.writeInt8(b ? 1 : 0);
  }

  writeInt16(n: number): void {
    this.ensure(2);
    this.view.setInt16(this.pos, n);
    this.pos += 2;
  }

  writeUint16(n: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, n);
    this.pos += 2;
  }

  writeInt32(n: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, n);
    this.pos += 4;
  }

  writeUint32(n: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, n);
    this.pos += 4;
  }

  /** int64 from a safe-integer number. */
  writeInt64(n: number): void {
    if (!Number.isSafeInteger(n)) fail(`int64 value ${n} is not a safe integer`);
    const hi = Math.floor(n / TWO_32);
    this.ensure(8);
    this.view.setInt32(this.pos, hi);
    this.view.setUint32(this.pos + 4, n - hi * TWO_32);
    this.pos += 8;
  }

  writeFloat64(n: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, n);
    this.pos += 8;
  }

  writeUnsignedVarint(u: number): void {
    this.ensure(5);
    let v = u >>> 0;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  /** A UUID in Kafka's text form (22 characters of unpadded base64url). */
  writeUuid(s: string): void {
    const b = Buffer.from(s, "base64url");
    if (s.length !== 22 || b.length !== 16) fail(`"${s}" is not a UUID (22 characters of base64url)`);
    this.writeRaw(b);
  }

  /** Copy bytes as they are (no length prefix). */
  writeRaw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A length prefix, or the null marker when `n` is -1. */
  writeLength(n: number, f: boolean, short = false): void {
    if (f) this.writeUnsignedVarint(n + 1);
    else if (short) this.writeInt16(n);
    else this.writeInt32(n);
  }

  writeString(s: string | null, f: boolean, nullable = false): void {
    if (s === null) {
      this.writeNull(f, nullable, true);
      return;
    }
    const n = s.length;
    let ascii = n < 64;
    for (let i = 0; ascii && i < n; i++) ascii = s.charCodeAt(i) < 0x80;
    const size = ascii ? n : Buffer.byteLength(s, "utf8");
    if (!f && size > 0x7fff) fail(`a string of ${size} bytes is too long for an int16 length`);
    this.writeLength(size, f, true);
    this.ensure(size);
    if (ascii) {
      const buf = this.buf;
      for (let i = 0; i < n; i++) buf[this.pos + i] = s.charCodeAt(i);
    } else {
      textEncoder.encodeInto(s, this.buf.subarray(this.pos, this.pos + size));
    }
    this.pos += size;
  }

  /** `bytes` and `records` fields. */
  writeBlob(b: Uint8Array | null, f: boolean, nullable = false): void {
    if (b === null) {
      this.writeNull(f, nullable, false);
      return;
    }
    this.writeLength(b.length, f);
    if (b.length < CHUNK_THRESHOLD || this.tagDepth > 0) {
      this.writeRaw(b);
      return;
    }
    this.chunks.push(this.buf.subarray(this.segmentStart, this.pos), b);
    this.segmentStart = this.pos;
    this.chunkedBytes += b.length;
  }

  writeArray<T>(a: readonly T[] | null, f: boolean, v: number, item: ItemWriter<T>, nullable = false): void {
    if (a === null) {
      this.writeNull(f, nullable, false);
      return;
    }
    this.writeLength(a.length, f);
    for (let i = 0; i < a.length; i++) item(this, a[i]!, v, f);
  }

  /** A struct field that may be null: in nullable versions an int8 marker (-1 null, 1 present) comes first. */
  writeStruct<T>(m: T | null, v: number, item: ItemWriter<T>, nullable: boolean): void {
    if (nullable) this.writeInt8(m === null ? -1 : 1);
    else if (m === null) fail("null in a non-nullable struct field");
    if (m !== null) item(this, m, v, false);
  }

  private writeNull(f: boolean, nullable: boolean, short: boolean): void {
    if (!nullable) fail("null in a non-nullable field");
    this.writeLength(-1, f, short);
  }

  /** Start a tagged field: writes the tag and reserves a size byte; pass the result to endTag. */
  beginTag(tag: number): number {
    this.writeUnsignedVarint(tag);
    this.writeInt8(0);
    this.tagDepth++;
    return this.pos;
  }

  /** Finish a tagged field: fill in its size, moving the value if the size needs more than a byte. */
  endTag(start: number): void {
    this.tagDepth--;
    const size = this.pos - start;
    const extra = sizeOfUnsignedVarint(size) - 1;
    if (extra > 0) {
      this.ensure(extra);
      this.buf.copyWithin(start + extra, start, this.pos);
      this.pos += extra;
    }
    const end = this.pos;
    this.pos = start - 1;
    this.writeUnsignedVarint(size);
    this.pos = end;
  }

  /** Throw for a non-default value in a version that does not have the field (Kafka's "non-ignorable"). */
  absent(field: string, v: number): never {
    fail(`field ${field} cannot be sent at version ${v}; leave it at its default or use a newer version`);
  }

  /** Reserve the 4-byte size prefix of a frame; call first, then `toFrameChunks()`. */
  startFrame(): void {
    if (this.length !== 0) fail("startFrame must be called on an empty writer");
    this.writeInt32(0);
  }

  /** The output as chunks to write in order (views, not copies). */
  toChunks(): Uint8Array[] {
    const tail = this.buf.subarray(this.segmentStart, this.pos);
    if (this.chunks.length === 0) return [tail];
    return tail.length > 0 ? [...this.chunks, tail] : [...this.chunks];
  }

  /** Fill in the size reserved by startFrame and return the chunks. */
  toFrameChunks(): Uint8Array[] {
    const chunks = this.toChunks();
    const first = chunks[0]!;
    new DataView(first.buffer, first.byteOffset, 4).setInt32(0, this.length - 4);
    return chunks;
  }

  /** The output as one buffer (a view when nothing was chunked). */
  toBytes(): Uint8Array {
    const chunks = this.toChunks();
    if (chunks.length === 1) return chunks[0]!;
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Item writers for arrays of primitives (static functions: no per-call closures). */
export const writeItem = {
  int8: (w: Writer, x: number) => w.writeInt8(x),
  int16: (w: Writer, x: number) => w.writeInt16(x),
  uint16: (w: Writer, x: number) => w.writeUint16(x),
  int32: (w: Writer, x: number) => w.writeInt32(x),
  uint32: (w: Writer, x: number) => w.writeUint32(x),
  int64: (w: Writer, x: number) => w.writeInt64(x),
  float64: (w: Writer, x: number) => w.writeFloat64(x),
  bool: (w: Writer, x: boolean) => w.writeBool(x),
  uuid: (w: Writer, x: string) => w.writeUuid(x),
  string: (w: Writer, x: string, _v: number, f: boolean) => w.writeString(x, f),
  bytes: (w: Writer, x: Uint8Array, _v: number, f: boolean) => w.writeBlob(x, f),
} as const;
