/**
 * Outbound bytes for one socket. Bun's socket.write() buffers nothing: it
 * returns the bytes actually written (short write, 0 when the kernel buffer is
 * full, -1 when closed), so the unsent tail is kept here and flushed on drain.
 * Writes issued in one tick are coalesced into one socket write.
 */
export interface RawSocket {
  write(data: Uint8Array, offset: number, length: number): number;
  /** Bytes the transport itself buffered (a WebSocket buffers; a Bun TCP socket does not). */
  buffered?(): number;
  /** Stop / restart reading input (inbound flow control); absent on transports that cannot. */
  pause?(): void;
  resume?(): void;
}

export class WriteQueue {
  private chunks: Uint8Array[] = [];
  private queuedBytes = 0;
  /** Offset into chunks[0] already written. */
  private head = 0;
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
    return this.queuedBytes - this.head + (this.socket.buffered?.() ?? 0);
  }

  enqueue(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    this.chunks.push(bytes);
    this.queuedBytes += bytes.length;
    if (this.pending >= this.highWater) this.blocked = true;
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
    while (this.chunks.length > 0) {
      if (this.chunks.length > 1 && this.head === 0) this.coalesce();
      const chunk = this.chunks[0]!;
      const want = chunk.length - this.head;
      const wrote = this.socket.write(chunk, this.head, want);
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
      this.chunks.shift();
      this.queuedBytes -= chunk.length;
      this.head = 0;
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

  clear(): void {
    this.chunks = [];
    this.queuedBytes = 0;
    this.head = 0;
  }

  /** Merge queued chunks (up to 1 MiB) so that one syscall carries many packets. */
  private coalesce(): void {
    let size = 0;
    let n = 0;
    for (const c of this.chunks) {
      if (n > 0 && size + c.length > 1024 * 1024) break;
      size += c.length;
      n++;
    }
    if (n < 2) return;
    const merged = new Uint8Array(size);
    let pos = 0;
    for (let i = 0; i < n; i++) {
      merged.set(this.chunks[i]!, pos);
      pos += this.chunks[i]!.length;
    }
    this.chunks.splice(0, n, merged);
  }
}
