/**
 * Appends MQTT messages to stream topics in batches, pipelined: records
 * submitted while a batch is being appended go together into the next
 * produce, in submission order, so a client's messages keep their order
 * [MQTT-4.6.0-5]; appending does not wait for durability. Each batch is
 * appended with acks=0 (one append per partition, in order), then waits for
 * the partition's high watermark to pass the log end it produced (the
 * group commit under the topic's durability policy: fsync by default)
 * while the next batches are appended — many publishers and many batches
 * share one fsync. A submit's promise resolves once its record is durable
 * (committed), in batch order, or rejects with the broker's error (TIMEOUT
 * when durability did not come within the produce timeout); `enqueue` is the
 * same with a callback (the per-message hot path: no promise per message).
 */
import { type BrokerApi, EddyError, ErrorCode, type RecordInput } from "../../src/broker/index.ts";

/** Called once: null when the record is durable, else the error. */
export type StoreDone = (err: unknown) => void;

interface Pending {
  record: RecordInput;
  done: StoreDone;
}

interface TopicQueue {
  waiting: Pending[];
  busy: boolean;
  /** The previous batch's settlement: batches settle in order. */
  tail: Promise<void>;
}

const MAX_BATCH = 1000;

export class ProduceBatcher {
  private readonly queues = new Map<string, TopicQueue>();

  constructor(
    private readonly broker: BrokerApi,
    private readonly timeoutMs: number,
  ) {}

  /** Queue one record; resolves once it is durable under the topic's policy. */
  submit(topic: string, record: RecordInput): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.enqueue(topic, record, (err) => (err === null ? resolve() : reject(err)));
    });
  }

  /** Queue one record; `done(null)` once it is durable, `done(err)` if it failed. */
  enqueue(topic: string, record: RecordInput, done: StoreDone): void {
    let q = this.queues.get(topic);
    if (!q) {
      q = { waiting: [], busy: false, tail: Promise.resolve() };
      this.queues.set(topic, q);
    }
    q.waiting.push({ record, done });
    if (!q.busy) {
      q.busy = true;
      const queue = q;
      queueMicrotask(() => void this.drain(topic, queue));
    }
  }

  private async drain(topic: string, q: TopicQueue): Promise<void> {
    while (q.waiting.length > 0) {
      const batch = q.waiting.splice(0, MAX_BATCH);
      let durable: Promise<unknown>;
      try {
        const res = await this.broker.produce({
          topic,
          records: batch.map((p) => p.record),
          acks: 0,
          timeoutMs: this.timeoutMs,
        });
        durable = Promise.all(
          res.partitions.map((p) =>
            this.committed(topic, p.partition, this.broker.partitionState(topic, p.partition).logEndOffset),
          ),
        );
      } catch (err) {
        durable = Promise.reject(err);
      }
      const settle = q.tail.then(() => durable);
      q.tail = settle.then(
        () => {
          for (const p of batch) p.done(null);
        },
        (err) => {
          for (const p of batch) p.done(err ?? new Error("produce failed"));
        },
      );
    }
    q.busy = false;
  }

  /** Resolves once the partition's high watermark reaches `end`. */
  private async committed(topic: string, partition: number, end: number): Promise<void> {
    if (this.broker.partitionState(topic, partition).highWatermark >= end) return;
    const ok = await this.broker.waitForData(topic, partition, end - 1, this.timeoutMs);
    if (!ok) {
      throw new EddyError(
        ErrorCode.TIMEOUT,
        `records on ${topic}-${partition} not durable within ${this.timeoutMs} ms: check the disk, or raise the produce timeout`,
      );
    }
  }
}
