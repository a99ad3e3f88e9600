/**
 * kafkajs against the compiled binary: admin (create/describe/alter/delete
 * topics, partitions, offsets), the producer (keys, headers, gzip, acks),
 * and a simple consumer without a group (kafkajs's own Fetch request through
 * its cluster object, at whatever version it negotiates).
 */
import { beforeAll, describe, expect, it } from "bun:test";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import { type RunningBinary, useBinary } from "../helpers/binary.ts";

const { tmpDir, start } = useBinary();
let eddy: RunningBinary;
let kafka: Kafka;

beforeAll(async () => {
  eddy = await start(tmpDir());
  kafka = new Kafka({
    clientId: "eddy-kafkajs-test",
    brokers: [eddy.listeners.kafka!],
    logLevel: logLevel.NOTHING,
  });
}, 300_000);

interface FetchedMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}

interface KafkajsBroker {
  fetch(req: unknown): Promise<{
    responses: Array<{
      topicName: string;
      partitions: Array<{
        partition: number;
        errorCode: number;
        highWatermark: string;
        messages: FetchedMessage[];
      }>;
    }>;
  }>;
}

interface KafkajsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(opts: { nodeId: string }): Promise<KafkajsBroker>;
}

/** kafkajs has no group-less consumer: use its cluster object (private) to send Fetch itself. */
async function simpleConsume(topic: string, partition: number, offset: number): Promise<FetchedMessage[]> {
  const sym = Object.getOwnPropertySymbols(kafka).find(
    (s) => s.description === "private:Kafka:createCluster",
  )!;
  const create = (kafka as unknown as Record<symbol, (o: object) => KafkajsCluster>)[sym]!;
  const cluster = create({ allowAutoTopicCreation: false });
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    const leaders = cluster.findLeaderForPartitions(topic, [partition]);
    const leader = Object.keys(leaders)[0]!;
    const broker = await cluster.findBroker({ nodeId: leader });
    const res = await broker.fetch({
      replicaId: -1,
      isolationLevel: 1,
      maxWaitTime: 100,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ topic, partitions: [{ partition, fetchOffset: String(offset), maxBytes: 1 << 20 }] }],
    });
    const p = res.responses[0]!.partitions[0]!;
    expect(p.errorCode).toBe(0);
    return p.messages.filter((m) => Number(m.offset) >= offset);
  } finally {
    await cluster.disconnect();
  }
}

describe("kafkajs against dist/eddy", () => {
  it("admin: create, describe, grow, list offsets, alter configs and delete topics", async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(
        await admin.createTopics({
          topics: [
            {
              topic: "js-admin",
              numPartitions: 2,
              configEntries: [{ name: "retention.ms", value: "3600000" }],
            },
          ],
        }),
      ).toBe(true);
      expect(await admin.createTopics({ topics: [{ topic: "js-admin" }] })).toBe(false);
      const meta = await admin.fetchTopicMetadata({ topics: ["js-admin"] });
      expect(meta.topics[0]!.partitions.map((p) => p.leader)).toEqual([1, 1]);
      await admin.createPartitions({ topicPartitions: [{ topic: "js-admin", count: 4 }] });
      const offsets = await admin.fetchTopicOffsets("js-admin");
      expect(offsets.map((o) => [o.partition, o.offset, o.low])).toEqual([
        [0, "0", "0"],
        [1, "0", "0"],
        [2, "0", "0"],
        [3, "0", "0"],
      ]);
      const configs = await admin.describeConfigs({
        resources: [{ type: 2, name: "js-admin", configNames: ["retention.ms"] }],
        includeSynonyms: false,
      });
      expect(configs.resources[0]!.configEntries[0]!.configValue).toBe("3600000");
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: 2, name: "js-admin", configEntries: [{ name: "retention.ms", value: "60000" }] }],
      });
      const after = await admin.describeConfigs({
        resources: [{ type: 2, name: "js-admin", configNames: ["retention.ms"] }],
        includeSynonyms: false,
      });
      expect(after.resources[0]!.configEntries[0]!.configValue).toBe("60000");
      const cluster = await admin.describeCluster();
      expect(cluster.controller).toBe(1);
      await admin.deleteTopics({ topics: ["js-admin"] });
      expect(await admin.listTopics()).not.toContain("js-admin");
    } finally {
      await admin.disconnect();
    }
  });

  it("producer (keys, headers, gzip, acks 1 and all) and a simple consumer read it back", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "js-data", numPartitions: 1 }] });
    await admin.disconnect();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const first = await producer.send({
        topic: "js-data",
        acks: -1,
        messages: [
          { key: "a", value: "one", headers: { trace: "t1" } },
          { key: "b", value: "two" },
        ],
      });
      expect(first[0]!).toMatchObject({ topicName: "js-data", partition: 0, errorCode: 0, baseOffset: "0" });
      const second = await producer.send({
        topic: "js-data",
        acks: 1,
        compression: CompressionTypes.GZIP,
        messages: Array.from({ length: 20 }, (_, i) => ({ key: `g${i}`, value: `gzip ${i}` })),
      });
      expect(second[0]!.baseOffset).toBe("2");
    } finally {
      await producer.disconnect();
    }
    const messages = await simpleConsume("js-data", 0, 0);
    expect(messages).toHaveLength(22);
    expect(messages.slice(0, 2).map((m) => [m.offset, m.key?.toString(), m.value?.toString()])).toEqual([
      ["0", "a", "one"],
      ["1", "b", "two"],
    ]);
    expect(messages[0]!.headers.trace?.toString()).toBe("t1");
    expect(messages[21]!.value?.toString()).toBe("gzip 19");
    const tail = await simpleConsume("js-data", 0, 20);
    expect(tail.map((m) => m.key?.toString())).toEqual(["g18", "g19"]);
  });
});
