/**
 * The link's transactional producer (see README.md, "Delivery"): forwarders
 * submit chunks; chunks are produced inside a Kafka transaction and a
 * chunk's records count as delivered only once that transaction committed.
 *
 * Group commit: every chunk submitted while a transaction is open joins it
 * (one Produce request per broker carries the chunks of every partition that
 * is ready), so the cost of AddPartitionsToTxn + EndTxn is paid per
 * transaction, not per chunk. A chunk's `produced` resolves when central
 * acknowledged its Produce (the forwarder may then submit the partition's
 * next chunk, which keeps the partition in edge order); `committed` resolves
 * when its transaction committed. A transaction is committed once it holds
 * `maxRecords` records or is `maxMs` old, or when nothing is waiting after
 * the last Produce and no chunk of it said `more` (its partition has a
 * backlog, so its next chunk is on the way: a draining link commits every
 * `maxRecords` / `maxMs`, a link that keeps up commits after every Produce).
 *
 * Any failure breaks the sender: every chunk in the open transaction and
 * every waiting chunk is rejected, and the link replaces the sender (a new
 * producer with the same transactional.id: its InitProducerId fences this
 * one and aborts its open transaction, so nothing it produced becomes
 * visible to read_committed readers).
 */
import type { Producer } from "@platformatic/kafka";
import type { RemoteMessage } from "./remote.ts";

export interface SendTicket {
  /** The sender generation the chunk went to (pass it to RemoteCluster.reset after a failure). */
  generation: number;
  /** Central acknowledged the chunk's Produce (inside the open transaction). */
  produced: Promise<void>;
  /** The chunk's transaction committed: its records are visible at central. */
  committed: Promise<void>;
}

export interface TxnSenderOptions {
  producer: BufferProducer;
  generation: number;
  /** Bounds one network call (request_timeout_ms). */
  deadline: <T>(what: string, call: Promise<T>) => Promise<T>;
  maxRecords: number;
  maxMs: number;
  now: () => number;
}

type BufferProducer = Producer<Buffer, Buffer, Buffer, Buffer>;
/** The client's Transaction class (not exported by name). */
type Transaction = Awaited<ReturnType<BufferProducer["beginTransaction"]>>;

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Chunk {
  messages: RemoteMessage[];
  /** The partition has more records ready: its next chunk follows as soon as this one is produced. */
  more: boolean;
  produced: Deferred;
  committed: Deferred;
}

export class TxnSender {
  private readonly waiting: Chunk[] = [];
  private readonly inTxn: Chunk[] = [];
  private inTxnRecords = 0;
  private openedAt = 0;
  private tx: Transaction | null = null;
  private pumping = false;
  private broken: unknown = null;
  private fencing: Promise<void> | null = null;
  /** A chunk of the last Produce said `more`: wait (up to the transaction's age limit) for the next one. */
  private expectMore = false;
  private lingerExpired = false;
  private wake: (() => void) | null = null;

  constructor(private readonly o: TxnSenderOptions) {}

  get generation(): number {
    return this.o.generation;
  }

  /**
   * InitProducerId for the link's transactional.id (once per sender; a
   * failure breaks the sender): fences older producers of the same id and
   * aborts their open transaction, so after it nothing older can become
   * visible.
   */
  fence(): Promise<void> {
    if (this.broken !== null) return Promise.reject(this.broken);
    this.fencing ??= (async () => {
      try {
        const tx = await this.o.deadline("initProducerId", this.o.producer.beginTransaction());
        await tx.cancel(); // local only: the next beginTransaction reuses the producer id
      } catch (err) {
        // The client keeps a transaction that failed to begin: this producer is done.
        this.breakWith(err);
        throw err;
      }
    })();
    return this.fencing;
  }

  submit(messages: RemoteMessage[], opts: { more?: boolean } = {}): SendTicket {
    const chunk: Chunk = { messages, more: opts.more ?? false, produced: deferred(), committed: deferred() };
    const ticket = {
      generation: this.o.generation,
      produced: chunk.produced.promise,
      committed: chunk.committed.promise,
    };
    if (this.broken !== null) {
      chunk.produced.reject(this.broken);
      chunk.committed.reject(this.broken);
      return ticket;
    }
    this.waiting.push(chunk);
    this.wake?.();
    void this.pump();
    return ticket;
  }

  /** Reject everything still waiting or uncommitted; the sender takes nothing more. */
  close(reason: unknown): void {
    this.breakWith(reason);
    this.wake?.();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.broken === null && (this.waiting.length > 0 || this.inTxn.length > 0)) {
        if (this.waiting.length > 0 && !this.full()) {
          await this.produceWaiting();
          // Let forwarders whose chunk was just acknowledged submit their next one into this transaction.
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
        if (this.waiting.length === 0 && this.expectMore && !this.full()) {
          await this.awaitSubmit();
          continue;
        }
        await this.commit();
      }
    } catch (err) {
      this.breakWith(err);
    } finally {
      this.pumping = false;
    }
  }

  /** Wait for the next submit, at most until the open transaction reaches its age limit. */
  private async awaitSubmit(): Promise<void> {
    this.expectMore = false;
    const left = Math.max(0, this.openedAt + this.o.maxMs - this.o.now());
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      timer = setTimeout(() => {
        this.lingerExpired = true;
        resolve();
      }, left);
    });
    clearTimeout(timer);
    this.wake = null;
  }

  private full(): boolean {
    return (
      this.inTxn.length > 0 &&
      (this.lingerExpired ||
        this.inTxnRecords >= this.o.maxRecords ||
        this.o.now() - this.openedAt >= this.o.maxMs)
    );
  }

  private async produceWaiting(): Promise<void> {
    await this.fence();
    if (this.tx === null) {
      this.tx = await this.o.deadline("beginTransaction", this.o.producer.beginTransaction());
      this.openedAt = this.o.now();
    }
    const chunks = this.waiting.splice(0);
    this.inTxn.push(...chunks);
    const messages = chunks.length === 1 ? chunks[0]!.messages : chunks.flatMap((c) => c.messages);
    await this.o.deadline("produce", this.tx.send({ messages, acks: -1 }));
    this.expectMore = chunks.some((c) => c.more);
    for (const c of chunks) {
      this.inTxnRecords += c.messages.length;
      c.produced.resolve();
    }
  }

  private async commit(): Promise<void> {
    const tx = this.tx;
    if (tx === null) return;
    await this.o.deadline("commit", tx.commit());
    this.tx = null;
    const done = this.inTxn.splice(0);
    this.inTxnRecords = 0;
    this.expectMore = false;
    this.lingerExpired = false;
    for (const c of done) c.committed.resolve();
  }

  private breakWith(err: unknown): void {
    this.broken ??= err;
    for (const c of [...this.inTxn.splice(0), ...this.waiting.splice(0)]) {
      c.produced.reject(this.broken);
      c.committed.reject(this.broken);
    }
    this.inTxnRecords = 0;
    this.tx = null;
  }
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // rejections are seen by whoever awaits; never unhandled
  return { promise, resolve, reject };
}
