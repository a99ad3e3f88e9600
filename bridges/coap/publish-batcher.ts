/**
 * Micro-batching of CoAP publishes: every publish (CON or NON) to the same
 * stream topic that arrives within one event-loop turn goes to the broker as
 * one `produce` call (acks=all), and each request's promise settles when the
 * records of its batch are durable, so a CON still gets its 2.04 only after
 * its record is on disk.
 *
 * Order: records keep their arrival order inside a batch, and a topic's
 * batches are handed to the broker in order (the partition queue appends in
 * call order), so records of one source keep their order. Until the topic is
 * known to exist only one batch is in flight (auto-creation must not race).
 *
 * A failed batch of several publishes is retried one publish at a time, so
 * one bad record (too large, no key on a compacted topic) fails only its own request.
 */
import type { BrokerApi, RecordInput } from "../../src/broker/index.ts";
import { ErrorCode, isEddyError } from "../../src/broker/index.ts";

interface Pending {
  record: RecordInput;
  resolve(): void;
  reject(err: unknown): void;
}

interface TopicQueue {
  waiting: Pending[];
  inFlight: number;
  scheduled: boolean;
}

export interface PublishBatcherOptions {
  broker: BrokerApi;
  /** Most records in one produce call. Default 1000. */
  maxBatchRecords?: number;
  /** Most produce calls in flight per topic once the topic exists. Default 8. */
  maxInFlight?: number;
  /** Schedules the flush at the end of the turn. Default setImmediate. */
  defer?: (fn: () => void) => void;
}

export class PublishBatcher {
  private readonly queues = new Map<string, TopicQueue>();
  private readonly known = new Set<string>();
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private readonly defer: (fn: () => void) => void;
  /** produce calls made (for tests and the benchmark). */
  produceCalls = 0;

  constructor(private readonly o: PublishBatcherOptions) {
    this.maxBatch = o.maxBatchRecords ?? 1000;
    this.maxInFlight = o.maxInFlight ?? 8;
    this.defer = o.defer ?? ((fn) => setImmediate(fn));
  }

  /** Resolves once the record is durable (acks=all); rejects with the broker's error. */
  publish(topic: string, record: RecordInput): Promise<void> {
    let q = this.queues.get(topic);
    if (!q) {
      q = { waiting: [], inFlight: 0, scheduled: false };
      this.queues.set(topic, q);
    }
    const queue = q;
    return new Promise<void>((resolve, reject) => {
      queue.waiting.push({ record, resolve, reject });
      this.schedule(topic, queue);
    });
  }

  /** Forget that a topic exists (it was deleted). */
  forget(topic: string): void {
    this.known.delete(topic);
  }

  private schedule(topic: string, q: TopicQueue): void {
    if (q.scheduled) return;
    q.scheduled = true;
    this.defer(() => {
      q.scheduled = false;
      this.flush(topic, q);
    });
  }

  private flush(topic: string, q: TopicQueue): void {
    const limit = this.known.has(topic) ? this.maxInFlight : 1;
    while (q.waiting.length > 0 && q.inFlight < limit) {
      const batch = q.waiting.splice(0, this.maxBatch);
      q.inFlight++;
      void this.run(topic, batch).finally(() => {
        q.inFlight--;
        if (q.waiting.length > 0) this.schedule(topic, q);
        else if (q.inFlight === 0 && !q.scheduled && this.queues.get(topic) === q) this.queues.delete(topic);
      });
    }
  }

  private async run(topic: string, batch: Pending[]): Promise<void> {
    this.produceCalls++;
    try {
      await this.o.broker.produce({ topic, records: batch.map((p) => p.record), acks: -1 });
      this.known.add(topic);
      for (const p of batch) p.resolve();
      return;
    } catch (err) {
      if (isEddyError(err) && err.code === ErrorCode.TOPIC_NOT_FOUND) this.known.delete(topic);
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
    }
    for (const p of batch) {
      this.produceCalls++;
      try {
        await this.o.broker.produce({ topic, records: [p.record], acks: -1 });
        p.resolve();
      } catch (err) {
        p.reject(err);
      }
    }
  }
}
