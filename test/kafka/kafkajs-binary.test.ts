/**
 * kafkajs consumer groups, transactions and idempotence against the compiled
 * binary (dist/eddy), with the group coordinator's initial rebalance delay and
 * minimum session timeout lowered through Kafka-style config keys (--set).
 *
 * - two consumers of one group split the partitions; the survivor takes all of
 *   them when the other leaves;
 * - a transactional producer commits and aborts; a read_committed consumer
 *   sees only committed records, a read_uncommitted one sees the aborted ones too;
 * - an idempotent producer's retry after a broker restart (SIGTERM, same data
 *   dir and port) is answered with the original offset, not appended again,
 *   and a kafkajs idempotent producer keeps producing across the restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { ConfigResourceTypes, type Consumer, Kafka, logLevel } from "kafkajs";
import { InitProducerId, Produce } from "../../src/kafka/generated/index.ts";
import { type RunningBinary, useBinary } from "../helpers/binary.ts";
import { batchOf, produceBody } from "./server-requests.ts";
import { encodeBatch } from "../../src/broker/index.ts";
import { RawClient } from "./server-harness.ts";

const { tmpDir, start } = useBinary();
const FAST_GROUPS = [
  "--set",
  "group.initial.rebalance.delay.ms=100",
  "--set",
  "group.min.session.timeout.ms=1000",
];
let dataDir: string;
let eddy: RunningBinary;
let kafka: Kafka;

function client(address: string): Kafka {
  return new Kafka({
    clientId: "kafkajs-binary",
    brokers: [address],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 500 },
  });
}

beforeAll(async () => {
  dataDir = tmpDir();
  eddy = await start(dataDir, FAST_GROUPS);
  kafka = client(eddy.listeners.kafka!);
}, 300_000);

afterAll(async () => {
  if (eddy.proc.exitCode === null) {
    eddy.proc.kill("SIGTERM");
    await eddy.proc.exited;
  }
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** Every GROUP_JOIN's assigned partitions of `topic`, in order. */
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

/** Values of `topic` read by a fresh consumer group from the beginning until `last` is seen. */
async function consumeAll(opts: {
  topic: string;
  group: string;
  readUncommitted: boolean;
  last: string;
}): Promise<string[]> {
  const consumer = kafka.consumer({
    groupId: opts.group,
    readUncommitted: opts.readUncommitted,
    sessionTimeout: 6000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: 100,
  });
  const seen: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value?.toString() ?? "");
      },
    });
    await waitFor(() => seen.includes(opts.last), `${opts.last} in ${opts.topic}`);
    await Bun.sleep(150); // anything after the last record would show up now
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

describe("kafkajs against dist/eddy", () => {
  it("two consumers of a group split the partitions and rebalance when one leaves", async () => {
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer();
    const a = kafka.consumer({
      groupId: "split",
      sessionTimeout: 6000,
      heartbeatInterval: 200,
      maxWaitTimeInMs: 100,
    });
    const b = kafka.consumer({
      groupId: "split",
      sessionTimeout: 6000,
      heartbeatInterval: 200,
      maxWaitTimeInMs: 100,
    });
    try {
      // The Kafka-style keys given with --set reach the broker's settings.
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.BROKER, name: "1" }],
      });
      const settings = Object.fromEntries(
        resources[0]!.configEntries.map((e) => [e.configName, e.configValue]),
      );
      expect(settings["group.initial.rebalance.delay.ms"]).toBe("100");
      expect(settings["group.min.session.timeout.ms"]).toBe("1000");
      expect(settings["transaction.max.timeout.ms"]).toBe("900000");
      await admin.createTopics({ topics: [{ topic: "grp", numPartitions: 4 }] });
      await producer.connect();
      await producer.send({
        topic: "grp",
        messages: Array.from({ length: 40 }, (_, i) => ({ partition: i % 4, value: `v${i}` })),
      });
      const seen = { a: new Set<string>(), b: new Set<string>() };
      const aJoins = joins(a, "grp");
      const bJoins = joins(b, "grp");
      for (const [name, c] of [
        ["a", a],
        ["b", b],
      ] as const) {
        await c.connect();
        await c.subscribe({ topic: "grp", fromBeginning: true });
        await c.run({
          eachMessage: async ({ message }) => {
            seen[name].add(String(message.value));
          },
        });
      }
      // Converge on one generation where both hold disjoint, non-empty halves.
      let aParts = await aJoins.next();
      let bParts = await bJoins.next();
      while (aParts.length + bParts.length !== 4 || aParts.length === 0 || bParts.length === 0) {
        if (aParts.length === 4 || aParts.length + bParts.length > 4) aParts = await aJoins.next();
        else bParts = await bJoins.next();
      }
      expect([...aParts, ...bParts].sort()).toEqual([0, 1, 2, 3]);
      await waitFor(() => seen.a.size + seen.b.size >= 40, "40 records");
      expect(new Set([...seen.a, ...seen.b]).size).toBe(40);

      const described = await admin.describeGroups(["split"]);
      expect(described.groups[0]?.state).toBe("Stable");
      expect(described.groups[0]?.members).toHaveLength(2);

      await b.disconnect(); // LeaveGroup: a is handed every partition
      let all = await aJoins.next();
      while (all.length !== 4) all = await aJoins.next();
      expect(all).toEqual([0, 1, 2, 3]);
    } finally {
      await a.disconnect();
      await b.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  }, 20_000);

  it("a transactional producer commits and aborts; read_committed sees only committed records", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "txn", numPartitions: 1 }] });
    await admin.disconnect();
    const producer = kafka.producer({ transactionalId: "bin-tx", idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const t1 = await producer.transaction();
      await t1.send({ topic: "txn", messages: [{ value: "c1" }, { value: "c2" }] });
      await t1.sendOffsets({
        consumerGroupId: "txn-offsets",
        topics: [{ topic: "txn", partitions: [{ partition: 0, offset: "2" }] }],
      });
      await t1.commit();
      const t2 = await producer.transaction();
      await t2.send({ topic: "txn", messages: [{ value: "a1" }, { value: "a2" }] });
      await t2.abort();
      const t3 = await producer.transaction();
      await t3.send({ topic: "txn", messages: [{ value: "c3" }] });
      await t3.commit();
    } finally {
      await producer.disconnect();
    }
    expect(await consumeAll({ topic: "txn", group: "rc", readUncommitted: false, last: "c3" })).toEqual([
      "c1",
      "c2",
      "c3",
    ]);
    expect(await consumeAll({ topic: "txn", group: "ru", readUncommitted: true, last: "c3" })).toEqual([
      "c1",
      "c2",
      "a1",
      "a2",
      "c3",
    ]);
    const admin2 = kafka.admin();
    await admin2.connect();
    try {
      const offsets = await admin2.fetchOffsets({ groupId: "txn-offsets", topics: ["txn"] });
      expect(offsets[0]?.partitions[0]?.offset).toBe("2");
    } finally {
      await admin2.disconnect();
    }
  }, 20_000);

  it("an idempotent producer's retry after a broker restart gets its original offset, not a duplicate", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "idem", numPartitions: 1 }] });
    await admin.disconnect();
    const kafkaPort = Number(eddy.listeners.kafka!.split(":").pop());

    // Raw frames: a producer id, two batches (sequences 0-2 and 3-4).
    const raw = await RawClient.connect(kafkaPort);
    const pid = await raw.request(InitProducerId, 4, {
      transactionalId: null,
      transactionTimeoutMs: 60_000,
      producerId: -1,
      producerEpoch: -1,
    });
    expect(pid.errorCode).toBe(0);
    const te = new TextEncoder();
    const batch = (values: string[], baseSequence: number): Uint8Array =>
      encodeBatch(
        values.map((v) => ({ key: null, value: te.encode(v) })),
        { now: Date.now(), producerId: pid.producerId, producerEpoch: pid.producerEpoch, baseSequence },
      );
    const produce = async (c: RawClient, records: Uint8Array) =>
      (await c.request(Produce, 9, produceBody("idem", records))).responses[0]!.partitionResponses[0]!;
    const first = batch(["r0", "r1", "r2"], 0);
    const second = batch(["r3", "r4"], 3);
    expect(await produce(raw, first)).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(await produce(raw, second)).toMatchObject({ errorCode: 0, baseOffset: 3 });

    // A kafkajs idempotent producer writes before the restart, too.
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 20, initialRetryTime: 50, maxRetryTime: 300 },
    });
    await producer.connect();
    await producer.send({ topic: "idem", acks: -1, messages: [{ value: "k0" }, { value: "k1" }] });

    raw.close();
    eddy.proc.kill("SIGTERM");
    expect(await eddy.proc.exited).toBe(0);
    eddy = await start(dataDir, [...FAST_GROUPS, "--kafka-listen", `127.0.0.1:${kafkaPort}`]);
    expect(eddy.listeners.kafka).toBe(`127.0.0.1:${kafkaPort}`);

    // The retry of the second batch: acknowledged at its original offset, not appended.
    const again = await RawClient.connect(kafkaPort);
    try {
      expect(await produce(again, second)).toMatchObject({ errorCode: 0, baseOffset: 3 });
      expect(await produce(again, batch(["r5"], 5))).toMatchObject({ errorCode: 0, baseOffset: 7 });
      // A gap in the sequence is refused (OUT_OF_ORDER_SEQUENCE_NUMBER).
      expect((await produce(again, batch(["gap"], 9))).errorCode).toBe(45);
      // A batch without a producer id is appended as usual.
      expect((await produce(again, batchOf(["plain"]))).errorCode).toBe(0);
    } finally {
      again.close();
    }

    // kafkajs's producer reconnects and continues its own sequence without duplicates.
    try {
      await producer.send({ topic: "idem", acks: -1, messages: [{ value: "k2" }] });
    } finally {
      await producer.disconnect();
    }
    expect(
      await consumeAll({ topic: "idem", group: "idem-check", readUncommitted: true, last: "k2" }),
    ).toEqual(["r0", "r1", "r2", "r3", "r4", "k0", "k1", "r5", "plain", "k2"]);
  }, 20_000);
});
