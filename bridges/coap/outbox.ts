/**
 * Outgoing datagrams, coalesced: what is sent during an event-loop turn
 * leaves in order at the end of the turn in one `sendMany` (sendmmsg(2)) of
 * up to `chunk` datagrams; a longer queue goes out one chunk per turn, so a
 * fan-out of thousands of notifications is paced by the event loop (incoming
 * ACKs are read between chunks) rather than dropped by a receiver's buffer in
 * one burst. Bun's udpSocket buffers nothing: when
 * the kernel refuses part of a chunk the rest waits for `drain()`. The queue
 * is bounded; datagrams beyond `maxQueued` are dropped and counted (CoAP's
 * retransmission and Observe's next notification recover).
 */
export interface OutboxOptions {
  /** Send [bytes, port, address, ...]; returns how many datagrams the kernel took. */
  sendMany(packets: Array<Uint8Array | number | string>): number;
  /** Datagrams per sendMany call. Default 256. */
  chunk?: number;
  /** Default 65 536. */
  maxQueued?: number;
  /** Called with the number of datagrams dropped because the queue was full. */
  onDrop?(count: number): void;
  defer?: (fn: () => void) => void;
  /** Retry a blocked queue after this long even if no drain event came. Default 5 ms. */
  retry?: (fn: () => void) => void;
}

export class Outbox {
  private queue: Array<Uint8Array | number | string> = [];
  private scheduled = false;
  private blocked = false;
  private readonly chunk: number;
  private readonly maxQueued: number;
  private readonly defer: (fn: () => void) => void;

  constructor(private readonly o: OutboxOptions) {
    this.chunk = o.chunk ?? 256;
    this.maxQueued = o.maxQueued ?? 65_536;
    this.defer = o.defer ?? ((fn) => setImmediate(fn));
  }

  get queued(): number {
    return this.queue.length / 3;
  }

  send(address: string, port: number, bytes: Uint8Array): void {
    if (this.queue.length / 3 >= this.maxQueued) {
      this.o.onDrop?.(1);
      return;
    }
    this.queue.push(bytes, port, address);
    if (!this.scheduled && !this.blocked) {
      this.scheduled = true;
      this.defer(() => this.flush());
    }
  }

  /** The socket is writable again. */
  drain(): void {
    this.blocked = false;
    this.flush();
  }

  /** Send one chunk; schedule the next while more waits. */
  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const end = Math.min(this.queue.length, this.chunk * 3);
    const part = end === this.queue.length ? this.queue : this.queue.slice(0, end);
    const sent = Math.max(0, this.o.sendMany(part));
    this.queue = sent * 3 >= this.queue.length ? [] : this.queue.slice(sent * 3);
    if (sent * 3 < part.length) {
      this.blocked = true;
      const retry = this.o.retry ?? ((fn: () => void) => setTimeout(fn, 5));
      retry(() => {
        if (this.blocked) this.drain();
      });
    } else if (this.queue.length > 0) {
      this.scheduled = true;
      this.defer(() => this.flush());
    }
  }

  /** Send everything now (closing). */
  flushAll(): void {
    while (this.queue.length > 0 && !this.blocked) this.flush();
  }

  clear(): void {
    this.queue = [];
  }
}
