/**
 * Outbound bytes for one socket. Bun's socket.write() buffers nothing: it
 * returns the bytes actually written (short write, 0 when the kernel buffer is
 * full, -1 when closed), so the unsent tail is kept here and flushed on drain.
 *
 * Everything queued in one tick goes out in one socket write (a microtask
 * flushes it). Packets are copied into one staging buffer, except that the
 * last packet queued is only referenced, together with the packets that
 * follow it directly in the same memory (inbound QoS 0 frames forwarded as
 * they are sit back to back in their socket chunk): a run of those costs one
 * copy, or none when it is all there is to write. The staging buffer grows to
 * what is queued (powers of two) and is given back by release() (the
 * connection's periodic sweep) when empty, so an idle connection holds none.
 */
export interface RawSocket {
  write(data: Uint8Array, offset: number, length: number): number;
  /** Bytes the transport itself buffered (a WebSocket buffers; a Bun TCP socket does not). */
  buffered?(): number;
  /** Stop / restart reading input (inbound flow control); absent on transports that cannot. */
  pause?(): void;
  resume?(): void;
}

const EMPTY = new Uint8Array(0);
/** Buffer's copy works on any Uint8Array and is several times faster than TypedArray.set for small copies in Bun. */
const copy = Buffer.prototype.copy;
const MIN_BUFFER = 512;

export class WriteQueue {
  private buf: Uint8Array = EMPTY;
  /** Next byte to write. */
  private head = 0;
  /** End of the queued bytes. */
  private tail = 0;
  /** The referenced run after the staged bytes: [runStart, runEnd) of runBuffer (runBuffer null: none). */
  private runBuffer: ArrayBufferLike | null = null;
  private runView: Uint8Array = EMPTY;
  private runStart = 0;
  private runEnd = 0;
  private scheduled = false;
  private blocked = false;
  closed = false;

  constructor(
    private readonly socket: RawSocket,
    /** Called when the queue empties after the socket refused bytes or the queue reached `highWater`. */
    private readonly onDrained: () => void,
    private readonly highWater: number,
  ) {}

  /** Bytes waiting for the socket. */
  get pending(): number {
    const own = this.tail - this.head + (this.runEnd - this.runStart);
    return this.socket.buffered === undefined ? own : own + this.socket.buffered();
  }

  enqueue(bytes: Uint8Array): void {
    const n = bytes.length;
    if (this.closed || n === 0) return;
    if (n <= 16) {
      // Acknowledgements and other small packets: copy.
      this.stageRun();
      this.stage(bytes);
    } else {
      const buffer = bytes.buffer;
      const off = bytes.byteOffset;
      if (buffer === this.runBuffer && off === this.runEnd) this.runEnd += n;
      else {
        this.stageRun();
        this.runBuffer = buffer;
        this.runView = bytes;
        this.runStart = off;
        this.runEnd = off + n;
      }
    }
    if (!this.blocked && this.pending >= this.highWater) this.blocked = true;
    this.schedule();
  }

  /** Queue a 4-byte packet (a plain acknowledgement: type byte, length 2, packet id) without allocating it. */
  enqueueAck(first: number, packetId: number): void {
    if (this.closed) return;
    this.stageRun();
    if (this.tail + 4 > this.buf.length) this.makeRoom(4);
    const buf = this.buf;
    const at = this.tail;
    buf[at] = first;
    buf[at + 1] = 2;
    buf[at + 2] = packetId >> 8;
    buf[at + 3] = packetId & 0xff;
    this.tail = at + 4;
    if (!this.blocked && this.pending >= this.highWater) this.blocked = true;
    this.schedule();
  }

  /**
   * Queue a PUBLISH without properties (publish-encoder.ts's layout: fixed
   * header, topic, packet id when QoS > 0, an empty Property Length for v5,
   * payload), written straight into the staging buffer: a QoS 1/2 delivery
   * allocates no packet of its own. `first` is the fixed header's first
   * byte, `remaining` the Remaining Length (publish-encoder.ts's
   * publishRemaining()).
   */
  enqueuePublish(p: {
    first: number;
    remaining: number;
    topic: Uint8Array;
    packetId: number;
    v5: boolean;
    payload: Uint8Array;
  }): void {
    if (this.closed) return;
    this.stageRun();
    const remaining = p.remaining;
    const size = 5 + remaining; // at most 4 Remaining Length bytes
    if (this.tail + size > this.buf.length) this.makeRoom(size);
    const buf = this.buf;
    let pos = this.tail;
    buf[pos++] = p.first;
    const topic = p.topic;
    let n = remaining;
    do {
      let b = n & 0x7f;
      n = Math.floor(n / 128);
      if (n > 0) b |= 0x80;
      buf[pos++] = b;
    } while (n > 0);
    buf[pos++] = topic.length >> 8;
    buf[pos++] = topic.length & 0xff;
    copy.call(topic, buf, pos);
    pos += topic.length;
    if ((p.first & 0x06) !== 0) {
      buf[pos++] = p.packetId >> 8;
      buf[pos++] = p.packetId & 0xff;
    }
    if (p.v5) buf[pos++] = 0;
    copy.call(p.payload, buf, pos);
    this.tail = pos + p.payload.length;
    if (!this.blocked && this.pending >= this.highWater) this.blocked = true;
    this.schedule();
  }

  private schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Write as much as the socket takes; call again from the socket's drain handler. */
  flush(): void {
    if (this.closed) return;
    if (this.runBuffer !== null) {
      if (this.tail === this.head) {
        // Only a referenced run waits: write it from where it is.
        const view = this.runView;
        const at = this.runStart - view.byteOffset;
        const want = this.runEnd - this.runStart;
        const fits = view.byteLength >= at + want;
        const wrote = this.socket.write(fits ? view : this.runAsView(), fits ? at : 0, want);
        if (wrote < 0) {
          this.closed = true;
          this.clear();
          return;
        }
        this.runStart += wrote;
        if (wrote < want) {
          this.stageRun(); // keep the rest in our own buffer, not the sender's chunk
          this.blocked = true;
          return;
        }
        this.dropRun();
      } else this.stageRun();
    }
    const want = this.tail - this.head;
    if (want > 0) {
      const wrote = this.socket.write(this.buf, this.head, want);
      if (wrote < 0) {
        this.closed = true;
        this.clear();
        return;
      }
      if (wrote < want) {
        this.head += wrote;
        this.blocked = true;
        return;
      }
      this.head = 0;
      this.tail = 0;
    }
    if ((this.socket.buffered?.() ?? 0) >= this.highWater) {
      this.blocked = true; // the transport's own buffer is full: wait for its drain
      return;
    }
    if (this.blocked) {
      this.blocked = false;
      this.onDrained();
    }
  }

  /** Give the staging buffer back when nothing waits in it (idle connections hold no buffer). */
  release(): void {
    if (this.tail === this.head && this.runBuffer === null && this.buf !== EMPTY) {
      this.buf = EMPTY;
      this.head = 0;
      this.tail = 0;
    }
  }

  clear(): void {
    this.buf = EMPTY;
    this.head = 0;
    this.tail = 0;
    this.dropRun();
  }

  /** Copy bytes to the staging buffer. */
  private stage(bytes: Uint8Array): void {
    const n = bytes.length;
    if (this.tail + n > this.buf.length) this.makeRoom(n);
    const buf = this.buf;
    const at = this.tail;
    if (n <= 8) for (let i = 0; i < n; i++) buf[at + i] = bytes[i]!;
    else copy.call(bytes, buf, at);
    this.tail = at + n;
  }

  /** Move the referenced run (if any) into the staging buffer. */
  private stageRun(): void {
    if (this.runBuffer === null) return;
    const n = this.runEnd - this.runStart;
    if (n > 0) {
      if (this.tail + n > this.buf.length) this.makeRoom(n);
      const view = this.runView;
      const at = this.runStart - view.byteOffset;
      if (at + n <= view.byteLength) copy.call(view, this.buf, this.tail, at, at + n);
      else copy.call(this.runAsView(), this.buf, this.tail);
      this.tail += n;
    }
    this.dropRun();
  }

  private runAsView(): Uint8Array {
    const view = this.runView;
    const at = this.runStart - view.byteOffset;
    const n = this.runEnd - this.runStart;
    return at === 0 && n === view.byteLength ? view : new Uint8Array(this.runBuffer!, this.runStart, n);
  }

  private dropRun(): void {
    this.runBuffer = null;
    this.runView = EMPTY;
    this.runStart = 0;
    this.runEnd = 0;
  }

  /** Room for `n` more bytes at the tail: move the unsent bytes to the front, or grow. */
  private makeRoom(n: number): void {
    const live = this.tail - this.head;
    if (this.head > 0 && live + n <= this.buf.length) {
      this.buf.copyWithin(0, this.head, this.tail);
    } else {
      let size = Math.max(MIN_BUFFER, this.buf.length);
      while (size < live + n) size *= 2;
      const next = new Uint8Array(size);
      if (live > 0) copy.call(this.buf, next, 0, this.head, this.tail);
      this.buf = next;
    }
    this.head = 0;
    this.tail = live;
  }
}
