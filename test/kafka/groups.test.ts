/**
 * Consumer groups with a third-party client (kafkajs) against the in-process
 * Kafka listener: two consumers of one group split the partitions, the
 * survivor takes them all when the other leaves, and committed offsets let a
 * consumer resume after the broker restarts from its data directory.
 */
import { afterAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Consumer, Kafka, logLevel } from "kafkajs";
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { type KafkaListener, startKafkaListener } from "../../src/kafka/server.ts";
import { createFileLogStore } from "../../src/log/file-store.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-groups-"));

interface Node {
  broker: Broker;
  listener: KafkaListener;
  close(): Promise<void>;
}

async function startNode(): Promise<Node> {
  const metadata = openMetadataStore({ path: path.join(dataDir, "metadata.db") });
  const logStore = await createFileLogStore({ dataDir, clock: systemClock, logger: silentLogger });
  const broker = await createBroker({
    logStore,
    metadata,
    logger: silentLogger,
    housekeepingIntervalMs: 0,
    groups: { initialRebalanceDelayMs: 100, minSessionTimeoutMs: 1000 },
  });
  const listener = await startKafkaListener({
    broker,
    host: "127.0.0.1",
    port: 0,
    logger: silentLogger,
    clock: systemClock,
  });
  return {
    broker,
    listener,
    async close() {
      await listener.close();
      await broker.close();
    },
  };
}

function client(port: number): Kafka {
  return new Kafka({
    clientId: "groups-test",
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 50 },
  });
}

function newConsumer(kafka: Kafka): Consumer {
  return kafka.consumer({
    groupId: "g1",
    sessionTimeout: 6000,
    rebalanceTimeout: 4000,
    heartbeatInterval: 200,
    maxWaitTimeInMs: 100,
  });
}

/** Resolves with each GROUP_JOIN's assigned partitions of `topic`. */
function joins(consumer: Consumer, topic: string): { next(): Promise<number[]> } {
  const queue: number[][] = [];
  let wake: (() => void) | null = null;
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    queue.push([...(e.payload.memberAssignment[topic] ?? [])].sort());
    wake?.();
  });
  return {
    async next() {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      return queue.shift() as number[];
    },
  };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

let node: Node | undefined;
afterAll(async () => {
  await node?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("kafkajs consumer groups", () => {
  it("split partitions, take over on leave, resume from committed offsets after a restart", async () => {
    node = await startNode();
    const kafka = client(node.listener.port);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "events", numPartitions: 4 }] });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: "events",
      messages: Array.from({ length: 40 }, (_, i) => ({ partition: i % 4, value: `v${i}` })),
    });

    const seen = new Map<string, Set<string>>([
      ["a", new Set()],
      ["b", new Set()],
    ]);
    const a = newConsumer(kafka);
    const b = newConsumer(kafka);
    const aJoins = joins(a, "events");
    const bJoins = joins(b, "events");
    for (const [name, c] of [
      ["a", a],
      ["b", b],
    ] as const) {
      await c.connect();
      await c.subscribe({ topic: "events", fromBeginning: true });
      await c.run({
        eachMessage: async ({ message }) => {
          seen.get(name)?.add(String(message.value));
        },
      });
    }
    // Both end up in one generation with disjoint halves of the partitions.
    let aParts = await aJoins.next();
    let bParts = await bJoins.next();
    while (aParts.length + bParts.length !== 4 || aParts.length === 0 || bParts.length === 0) {
      if (aParts.length === 4 || aParts.length + bParts.length > 4) aParts = await aJoins.next();
      else bParts = await bJoins.next();
    }
    expect([...aParts, ...bParts].sort()).toEqual([0, 1, 2, 3]);
    await waitFor(() => (seen.get("a")?.size ?? 0) + (seen.get("b")?.size ?? 0) >= 40, "40 messages");

    const groupA = await admin.describeGroups(["g1"]);
    expect(groupA.groups[0]?.state).toBe("Stable");
    expect(groupA.groups[0]?.members).toHaveLength(2);

    // b leaves: a gets every partition.
    await b.disconnect();
    let all = await aJoins.next();
    while (all.length !== 4) all = await aJoins.next();
    expect(all).toEqual([0, 1, 2, 3]);
    await a.disconnect(); // commits its offsets and leaves
    await producer.disconnect();
    await admin.disconnect();

    const committed = await node.broker.fetchOffsets("g1", "events");
    expect(committed.map((o) => [o.partition, o.offset])).toEqual([
      [0, 10],
      [1, 10],
      [2, 10],
      [3, 10],
    ]);

    // Restart the broker from the same directory; a new consumer resumes.
    await node.close();
    node = await startNode();
    const kafka2 = client(node.listener.port);
    const producer2 = kafka2.producer();
    await producer2.connect();
    await producer2.send({
      topic: "events",
      messages: Array.from({ length: 8 }, (_, i) => ({ partition: i % 4, value: `after${i}` })),
    });
    const c = newConsumer(kafka2);
    const got: string[] = [];
    await c.connect();
    await c.subscribe({ topic: "events", fromBeginning: true });
    await c.run({
      eachMessage: async ({ message }) => {
        got.push(String(message.value));
      },
    });
    await waitFor(() => got.length >= 8, "8 new messages");
    await Bun.sleep(200);
    expect(got.sort()).toEqual(Array.from({ length: 8 }, (_, i) => `after${i}`).sort());
    await c.disconnect();
    await producer2.disconnect();
  }, 60_000);
});
