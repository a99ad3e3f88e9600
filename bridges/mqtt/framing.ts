/**
 * Sans-io MQTT framing: cut a byte stream into whole control packets using the
 * fixed header (type/flags byte + Variable Byte Integer remaining length,
 * MQTT 5.0 section 2.1.4), enforcing the server's Maximum Packet Size before
 * buffering the body. Parsing of the packet itself is mqtt-packet's job.
 */

export const FrameError = {
  /** Remaining length uses more than 4 bytes [MQTT-1.5.5-1]. */
  MALFORMED_LENGTH: "malformed-length",
  /** Whole packet larger than the server's Maximum Packet Size [MQTT-3.1.2-24]. */
  TOO_LARGE: "too-large",
} as const;
export type FrameError = (typeof FrameError)[keyof typeof FrameError];

export type FrameResult = { packets: Uint8Array[]; error: FrameError | null };

export class Framer {
  /** A packet split across chunks: its bytes so far (sized to the whole packet once its header is known). */
  private partial: Uint8Array = new Uint8Array(0);
  private partialFill = 0;
  /** Total size of the partial packet; 0 while its fixed header is incomplete. */
  private partialTotal = 0;
  private errored = false;

  constructor(private readonly maxPacketSize: number) {}

  /**
   * Append bytes; return every complete packet and the first framing error, if
   * any. Packets are views into the chunk (the transport hands over a fresh
   * buffer per read and never reuses it), except one split across reads, which
   * is assembled in its own buffer: the chunk is not copied. A holder of a
   * long-lived piece keeps the chunk alive: copy it when that matters.
   */
  push(chunk: Uint8Array): FrameResult {
    const packets: Uint8Array[] = [];
    if (this.errored) return { packets, error: null };
    let pos = 0;
    if (this.partialFill > 0) {
      pos = this.completePartial(chunk, packets);
      if (pos < 0) return this.fail(pos === -1 ? FrameError.MALFORMED_LENGTH : FrameError.TOO_LARGE, packets);
      if (this.partialFill > 0) return { packets, error: null }; // still incomplete: chunk consumed
    }
    const end = chunk.length;
    while (pos < end) {
      let length = 0;
      let multiplier = 1;
      let i = pos + 1;
      let complete = false;
      for (let n = 0; n < 4 && i < end; n++, i++) {
        const byte = chunk[i]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete) {
        if (i - (pos + 1) >= 4) return this.fail(FrameError.MALFORMED_LENGTH, packets);
        this.keep(chunk, pos, end, 0); // header split across reads
        break;
      }
      const total = i - pos + length;
      if (total > this.maxPacketSize) return this.fail(FrameError.TOO_LARGE, packets);
      if (pos + total > end) {
        this.keep(chunk, pos, end, total);
        break;
      }
      packets.push(chunk.subarray(pos, pos + total));
      pos += total;
    }
    return { packets, error: null };
  }

  private fail(error: FrameError, packets: Uint8Array[]): FrameResult {
    this.errored = true;
    this.partial = new Uint8Array(0);
    this.partialFill = 0;
    this.partialTotal = 0;
    return { packets, error };
  }

  /** Start a partial packet with chunk[from, to); `total` when its size is known. */
  private keep(chunk: Uint8Array, from: number, to: number, total: number): void {
    const n = to - from;
    this.partial = new Uint8Array(total > 0 ? total : 5);
    this.partial.set(chunk.subarray(from, to), 0);
    this.partialFill = n;
    this.partialTotal = total;
  }

  /**
   * Feed the partial packet from the start of `chunk`; returns where the
   * chunk's own packets begin (the whole chunk when still incomplete), or -1
   * (malformed length) / -2 (too large).
   */
  private completePartial(chunk: Uint8Array, packets: Uint8Array[]): number {
    let pos = 0;
    if (this.partialTotal === 0) {
      // The fixed header is incomplete: add bytes one at a time until it is (at most 4 more).
      while (pos < chunk.length) {
        this.partial[this.partialFill++] = chunk[pos++]!;
        const p = this.partial;
        let length = 0;
        let multiplier = 1;
        let complete = false;
        let i = 1;
        for (; i < this.partialFill && i <= 4; i++) {
          length += (p[i]! & 0x7f) * multiplier;
          multiplier *= 128;
          if ((p[i]! & 0x80) === 0) {
            complete = true;
            i++;
            break;
          }
        }
        if (complete) {
          const total = i + length;
          if (total > this.maxPacketSize) return -2;
          const grown = new Uint8Array(total);
          grown.set(p.subarray(0, this.partialFill), 0);
          this.partial = grown;
          this.partialTotal = total;
          break;
        }
        if (this.partialFill >= 5) return -1;
      }
      if (this.partialTotal === 0) return chunk.length;
    }
    const need = this.partialTotal - this.partialFill;
    const take = Math.min(need, chunk.length - pos);
    this.partial.set(chunk.subarray(pos, pos + take), this.partialFill);
    this.partialFill += take;
    pos += take;
    if (this.partialFill === this.partialTotal) {
      packets.push(this.partial);
      this.partial = new Uint8Array(0);
      this.partialFill = 0;
      this.partialTotal = 0;
    }
    return pos;
  }
}
