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
  private buf: Uint8Array = new Uint8Array(0);
  private errored = false;

  constructor(private readonly maxPacketSize: number) {}

  /**
   * Append bytes; return every complete packet and the first framing error, if
   * any. The chunk is copied once (the transport may reuse it); packets are
   * views into that copy, so a holder of a long-lived piece should copy it.
   */
  push(chunk: Uint8Array): FrameResult {
    const packets: Uint8Array[] = [];
    if (this.errored) return { packets, error: null };
    let data: Uint8Array;
    if (this.buf.length === 0) data = chunk.slice();
    else {
      data = new Uint8Array(this.buf.length + chunk.length);
      data.set(this.buf, 0);
      data.set(chunk, this.buf.length);
    }
    let pos = 0;
    let error: FrameError | null = null;
    while (pos < data.length) {
      let length = 0;
      let multiplier = 1;
      let i = pos + 1;
      let complete = false;
      for (let n = 0; n < 4 && i < data.length; n++, i++) {
        const byte = data[i]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete) {
        if (i - (pos + 1) >= 4) error = FrameError.MALFORMED_LENGTH;
        break;
      }
      const total = i - pos + length;
      if (total > this.maxPacketSize) {
        error = FrameError.TOO_LARGE;
        break;
      }
      if (pos + total > data.length) break;
      packets.push(data.subarray(pos, pos + total));
      pos += total;
    }
    if (error) {
      this.errored = true;
      this.buf = new Uint8Array(0);
    } else {
      this.buf = pos === data.length ? new Uint8Array(0) : data.subarray(pos);
    }
    return { packets, error };
  }
}
