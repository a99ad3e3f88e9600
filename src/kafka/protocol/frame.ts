/**
 * Kafka framing (sans-IO): every request and response is an int32 size
 * followed by that many bytes. FrameDecoder takes bytes as they arrive, in
 * chunks of any size, and returns the complete frames (without the size).
 *
 * A frame that lies wholly inside one pushed chunk comes back as a view of that
 * chunk (no copy): do not reuse a chunk's memory while its frames are in use.
 * A frame split across chunks is copied once into a buffer of its exact size,
 * allocated (options.allocate) when its size is known — for frames up to
 * `eagerFrameSize` (1 MiB). A larger frame is assembled in a buffer that
 * starts at that size and doubles as bytes arrive (the last step allocates
 * the exact size), so a client that announces a huge frame and sends little
 * of it holds only about what it sent. A size above `maxFrameSize` or below zero
 * throws EddyError INVALID_REQUEST; the connection should then be closed (the
 * decoder's position in the stream is lost).
 */
import { EddyError } from "../../errors.ts";

/** Kafka's default socket.request.max.bytes (100 MiB). */
export const DEFAULT_MAX_FRAME_SIZE = 104_857_600;

export interface FrameDecoderOptions {
  maxFrameSize?: number;
  /**
   * Where a frame split across chunks is assembled: a buffer of exactly `size`
   * bytes whose contents will all be overwritten (default: a new Uint8Array).
   * Lets a connection reuse the memory of large frames it has finished with.
   */
  allocate?: (size: number) => Uint8Array;
  /** Frames up to this size get their whole buffer when their size is read; larger ones grow. Default 1 MiB. */
  eagerFrameSize?: number;
}

const DEFAULT_EAGER_FRAME_SIZE = 1024 * 1024;

export class FrameDecoder {
  readonly maxFrameSize: number;
  private readonly allocate: (size: number) => Uint8Array;
  private readonly sizeBytes = new Uint8Array(4);
  private sizeFilled = 0;
  private readonly eagerFrameSize: number;
  private pending: Uint8Array | null = null;
  private pendingFilled = 0;
  /** Size of the pending frame (pending.length is smaller while a large frame's buffer grows). */
  private pendingSize = 0;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.allocate = options.allocate ?? ((size) => new Uint8Array(size));
    this.eagerFrameSize = options.eagerFrameSize ?? DEFAULT_EAGER_FRAME_SIZE;
  }

  /** Bytes held back: a partial size prefix or a partial frame. */
  get bufferedBytes(): number {
    return this.sizeFilled + this.pendingFilled;
  }

  /** Feed the next bytes of the stream; returns the frames they complete, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.pending !== null) {
        if (this.pendingFilled === this.pending.length) this.growPending();
        const take = Math.min(this.pending.length - this.pendingFilled, end - pos);
        this.pending.set(chunk.subarray(pos, pos + take), this.pendingFilled);
        this.pendingFilled += take;
        pos += take;
        if (this.pendingFilled === this.pendingSize) {
          frames.push(this.pending);
          this.pending = null;
          this.pendingFilled = 0;
        }
        continue;
      }
      let size: number;
      if (this.sizeFilled === 0 && end - pos >= 4) {
        size = (chunk[pos]! << 24) | (chunk[pos + 1]! << 16) | (chunk[pos + 2]! << 8) | chunk[pos + 3]!;
        pos += 4;
      } else {
        while (this.sizeFilled < 4 && pos < end) this.sizeBytes[this.sizeFilled++] = chunk[pos++]!;
        if (this.sizeFilled < 4) break;
        const b = this.sizeBytes;
        size = (b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!;
        this.sizeFilled = 0;
      }
      this.checkSize(size);
      if (end - pos >= size) {
        frames.push(chunk.subarray(pos, pos + size));
        pos += size;
      } else {
        this.pendingSize = size;
        this.pending =
          size <= this.eagerFrameSize ? this.allocate(size) : new Uint8Array(this.eagerFrameSize);
      }
    }
    return frames;
  }

  /** A large frame's buffer is full but the frame is not: double it (the exact size at the last step). */
  private growPending(): void {
    const old = this.pending!;
    const next = Math.min(this.pendingSize, old.length * 2);
    const buf = next === this.pendingSize ? this.allocate(next) : new Uint8Array(next);
    buf.set(old.subarray(0, this.pendingFilled));
    this.pending = buf;
  }

  private checkSize(size: number): void {
    if (size >= 0 && size <= this.maxFrameSize) return;
    const hint =
      size < 0 || size > 0x10000000
        ? " (is the client speaking TLS or HTTP to the Kafka port?)"
        : "; raise the limit";
    throw new EddyError(
      "INVALID_REQUEST",
      `Kafka frame of ${size} bytes is outside the limit of ${this.maxFrameSize} bytes${hint}`,
      { size, maxFrameSize: this.maxFrameSize },
    );
  }
}
