/**
 * Idempotence and transactions with a third-party client (kafkajs) against
 * the in-process Kafka listener: an idempotent producer, a transactional
 * producer that commits and aborts (with offsets sent to a group), and a
 * read_committed consumer that sees only committed records.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Kafka, logLevel } from "kafkajs";
import { type KafkaHarness, createKafkaHarness } from "./server-harness.ts";

let h: KafkaHarness;
let kafka: Kafka;

beforeAll(async () => {
  h = await createKafkaHarness();
  kafka = new Kafka({
    clientId: "txn-test",
    brokers: [`127.0.0.1:${h.listener.port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 50 },
  });
});
afterAll(async () => {
  await h.close();
});

/** Values of a partition as the broker stores them (read_uncommitted) or as read_committed sees them. */
async function values(topic: string, isolation: "read_committed" | "read_uncommitted"): Promise<string[]> {
  const { records } = await h.broker.readRecords({
    topic,
    partition: 0,
    offset: 0,
    maxRecords: 1000,
    isolation,
  });
  return records.map((r) => new TextDecoder().decode(r.value!));
}

describe("kafkajs idempotence and transactions", () => {
  it("an idempotent producer writes every record once", async () => {
    await h.broker.createTopic({ name: "idem", partitions: 1 });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let i = 0; i < 3; i++) {
        await producer.send({
          topic: "idem",
          acks: -1,
          messages: [{ value: `m${i}a` }, { value: `m${i}b` }],
        });
      }
    } finally {
      await producer.disconnect();
    }
    expect(await values("idem", "read_uncommitted")).toEqual(["m0a", "m0b", "m1a", "m1b", "m2a", "m2b"]);
  });

  it("a transactional producer commits and aborts; a read_committed consumer sees only committed records", async () => {
    await h.broker.createTopic({ name: "tx", partitions: 1 });
    const producer = kafka.producer({
      transactionalId: "kafkajs-tx",
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      const t1 = await producer.transaction();
      await t1.send({ topic: "tx", messages: [{ value: "c1" }, { value: "c2" }] });
      await t1.sendOffsets({
        consumerGroupId: "tx-group",
        topics: [{ topic: "tx", partitions: [{ partition: 0, offset: "2" }] }],
      });
      await t1.commit();

      const t2 = await producer.transaction();
      await t2.send({ topic: "tx", messages: [{ value: "a1" }, { value: "a2" }] });
      await t2.abort();

      const t3 = await producer.transaction();
      await t3.send({ topic: "tx", messages: [{ value: "c3" }] });
      await t3.commit();
    } finally {
      await producer.disconnect();
    }
    expect(await values("tx", "read_uncommitted")).toEqual(["c1", "c2", "a1", "a2", "c3"]);
    expect(await values("tx", "read_committed")).toEqual(["c1", "c2", "c3"]);
    expect((await h.broker.fetchOffsets("tx-group")).map((o) => o.offset)).toEqual([2]);
    const state = h.broker.partitionState("tx", 0);
    expect(state.lastStableOffset).toBe(state.highWatermark);

    const consumer = kafka.consumer({
      groupId: "tx-readers",
      readUncommitted: false,
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      retry: { retries: 5, initialRetryTime: 50 },
    });
    const seen: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: "tx", fromBeginning: true });
      const done = new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(message.value?.toString() ?? "");
            if (seen.includes("c3")) resolve();
          },
        });
      });
      await done;
    } finally {
      await consumer.disconnect();
    }
    expect(seen).toEqual(["c1", "c2", "c3"]);
  }, 30_000);

  it("a second producer with the same transactional id fences the first", async () => {
    await h.broker.createTopic({ name: "fence", partitions: 1 });
    const first = kafka.producer({
      transactionalId: "kafkajs-fence",
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await first.connect();
    const t1 = await first.transaction();
    await t1.send({ topic: "fence", messages: [{ value: "zombie" }] });
    const second = kafka.producer({
      transactionalId: "kafkajs-fence",
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await second.connect();
    try {
      // kafkajs sends the transactional InitProducerId when a transaction begins.
      const t2 = await second.transaction();
      await expect(t1.commit()).rejects.toThrow();
      await t2.send({ topic: "fence", messages: [{ value: "real" }] });
      await t2.commit();
    } finally {
      await first.disconnect().catch(() => {});
      await second.disconnect();
    }
    expect(await values("fence", "read_committed")).toEqual(["real"]);
  }, 30_000);
});
