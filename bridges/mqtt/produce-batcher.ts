/**
 * Appends MQTT messages to stream topics in batches: records submitted while
 * a topic's previous produce is in flight are written together in the next
 * one (one produce, one group-commit wait), in submission order, so a
 * client's messages keep their order [MQTT-4.6.0-5] and many publishers
 * share one fsync. A promise resolves once its batch is acknowledged with
 * acks=-1 (durable under the topic's policy) or rejects with the broker's error.
 */
import type { Acks, BrokerApi, RecordInput } from "../../src/broker/index.ts";

interface Pending {
  record: RecordInput;
  durable: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface TopicQueue {
  waiting: Pending[];
  busy: boolean;
}

const MAX_BATCH = 1000;

export class ProduceBatcher {
  private readonly queues = new Map<string, TopicQueue>();

  constructor(
    private readonly broker: BrokerApi,
    private readonly timeoutMs: number,
  ) {}

  /** Queue one record; `durable` asks for acks=-1 on its batch. */
  submit(topic: string, record: RecordInput, durable: boolean): Promise<void> {
    let queue = this.queues.get(topic);
    if (!queue) {
      queue = { waiting: [], busy: false };
      this.queues.set(topic, queue);
    }
    const q = queue;
    const done = new Promise<void>((resolve, reject) => {
      q.waiting.push({ record, durable, resolve, reject });
    });
    if (!q.busy) {
      q.busy = true;
      queueMicrotask(() => void this.drain(topic, q));
    }
    return done;
  }

  private async drain(topic: string, q: TopicQueue): Promise<void> {
    while (q.waiting.length > 0) {
      const batch = q.waiting.splice(0, MAX_BATCH);
      const acks: Acks = batch.some((p) => p.durable) ? -1 : 0;
      try {
        await this.broker.produce({
          topic,
          records: batch.map((p) => p.record),
          acks,
          timeoutMs: this.timeoutMs,
        });
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    q.busy = false;
  }
}
