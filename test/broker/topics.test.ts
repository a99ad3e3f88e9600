import { afterEach, describe, expect, it } from "bun:test";
import { type Broker, EddyError, ErrorCode, TOPIC_CONFIG_DEFAULTS } from "../../src/broker/index.ts";
import { codeOf, memoryBroker } from "./helpers.ts";

let broker: Broker;
afterEach(async () => {
  await broker?.close();
});

describe("topic CRUD", () => {
  it("creates, describes, lists and deletes topics", async () => {
    ({ broker } = await memoryBroker({ defaults: { numPartitions: 2 } }));
    const created = await broker.createTopic({ name: "telemetry", partitions: 3 });
    expect(created.name).toBe("telemetry");
    expect(created.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
    expect(created.partitions[0]).toMatchObject({ leader: 1, replicas: [1], isr: [1], highWatermark: 0 });
    expect(created.configs).toEqual({ ...TOPIC_CONFIG_DEFAULTS });
    expect(created.overrides).toEqual({});
    await broker.createTopic({ name: "alerts" });
    expect((await broker.describeTopic("alerts")).partitions).toHaveLength(2);
    expect((await broker.listTopics()).map((t) => [t.name, t.partitions])).toEqual([
      ["alerts", 2],
      ["telemetry", 3],
    ]);
    expect(await codeOf(broker.createTopic({ name: "alerts" }))).toBe(ErrorCode.TOPIC_EXISTS);
    await broker.deleteTopic("alerts");
    expect((await broker.listTopics()).map((t) => t.name)).toEqual(["telemetry"]);
    expect(await codeOf(broker.describeTopic("alerts"))).toBe(ErrorCode.TOPIC_NOT_FOUND);
    expect(await codeOf(broker.deleteTopic("alerts"))).toBe(ErrorCode.TOPIC_NOT_FOUND);
  });

  it("validates topic names like Kafka", async () => {
    ({ broker } = await memoryBroker());
    for (const bad of ["", ".", "..", "a/b", "has space", "ü", "x".repeat(250)]) {
      expect(await codeOf(broker.createTopic({ name: bad }))).toBe(ErrorCode.INVALID_TOPIC);
    }
    await broker.createTopic({ name: "x".repeat(249) });
    await broker.createTopic({ name: "Dev-1.temp_c" });
    // '.' and '_' collide, as in Kafka.
    expect(await codeOf(broker.createTopic({ name: "Dev-1_temp.c" }))).toBe(ErrorCode.INVALID_TOPIC);
  });

  it("validates partition counts and replication factor", async () => {
    ({ broker } = await memoryBroker());
    expect(await codeOf(broker.createTopic({ name: "t", partitions: 0 }))).toBe(ErrorCode.INVALID_PARTITIONS);
    expect(await codeOf(broker.createTopic({ name: "t", partitions: 1.5 }))).toBe(
      ErrorCode.INVALID_PARTITIONS,
    );
    expect(await codeOf(broker.createTopic({ name: "t", replicationFactor: 3 }))).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    expect(await broker.listTopics()).toEqual([]);
  });

  it("validateOnly creates nothing", async () => {
    ({ broker } = await memoryBroker());
    const d = await broker.createTopic({
      name: "dry",
      partitions: 4,
      configs: { "retention.ms": 5 },
      validateOnly: true,
    });
    expect(d.configs["retention.ms"]).toBe(5);
    expect(d.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    expect(await broker.listTopics()).toEqual([]);
    expect(await codeOf(broker.createTopic({ name: "dry", configs: { nope: 1 }, validateOnly: true }))).toBe(
      ErrorCode.INVALID_CONFIG,
    );
  });

  it("grows partitions and never shrinks", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t", partitions: 2 });
    const grown = await broker.createPartitions("t", 5);
    expect(grown.partitions).toHaveLength(5);
    expect(broker.partitionState("t", 4).highWatermark).toBe(0);
    expect(await codeOf(broker.createPartitions("t", 5))).toBe(ErrorCode.INVALID_PARTITIONS);
    expect(await codeOf(broker.createPartitions("t", 3))).toBe(ErrorCode.INVALID_PARTITIONS);
    await broker.produce({ topic: "t", partition: 4, records: [{ value: null }] });
    expect(broker.partitionState("t", 4).highWatermark).toBe(1);
  });

  it("auto-creates topics only when enabled", async () => {
    ({ broker } = await memoryBroker({ defaults: { autoCreateTopics: true, numPartitions: 3 } }));
    expect(await broker.ensureTopic("auto")).toMatchObject({ name: "auto", partitions: 3 });
    await broker.produce({ topic: "auto2", records: [{ value: null }] });
    expect((await broker.listTopics()).map((t) => t.name)).toEqual(["auto", "auto2"]);
    expect(await codeOf(broker.ensureTopic("bad/name"))).toBe(ErrorCode.INVALID_TOPIC);
    await broker.close();

    ({ broker } = await memoryBroker({ defaults: { autoCreateTopics: false } }));
    expect(await codeOf(broker.ensureTopic("auto"))).toBe(ErrorCode.TOPIC_NOT_FOUND);
    expect(await codeOf(broker.produce({ topic: "auto", records: [{ value: null }] }))).toBe(
      ErrorCode.TOPIC_NOT_FOUND,
    );
  });

  it("concurrent auto-creates of one topic create it once", async () => {
    ({ broker } = await memoryBroker({ defaults: { numPartitions: 2 } }));
    const results = await Promise.all(Array.from({ length: 5 }, () => broker.ensureTopic("race")));
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
  });
});

describe("topic configs", () => {
  it("accepts Kafka-style keys as strings or numbers and normalises them", async () => {
    ({ broker } = await memoryBroker());
    const d = await broker.createTopic({
      name: "c",
      configs: {
        "retention.ms": "3600000",
        "retention.bytes": 1024,
        "cleanup.policy": "delete, compact",
        durability: "write",
        "message.timestamp.type": "LogAppendTime",
      },
    });
    expect(d.configs["retention.ms"]).toBe(3_600_000);
    expect(d.configs["retention.bytes"]).toBe(1024);
    expect(d.configs["cleanup.policy"]).toBe("compact,delete");
    expect(d.configs.durability).toBe("write");
    expect(d.overrides).toEqual({
      "retention.ms": "3600000",
      "retention.bytes": "1024",
      "cleanup.policy": "compact,delete",
      durability: "write",
      "message.timestamp.type": "LogAppendTime",
    });
    expect(d.configs["segment.bytes"]).toBe(TOPIC_CONFIG_DEFAULTS["segment.bytes"]);
  });

  it("rejects unknown keys and bad values with INVALID_CONFIG naming the key", async () => {
    ({ broker } = await memoryBroker());
    const cases: Array<[string, string | number]> = [
      ["compression.type", "gzip"],
      ["retention.ms", "soon"],
      ["retention.ms", -2],
      ["retention.ms", "1.5"],
      ["segment.bytes", 1],
      ["cleanup.policy", "forever"],
      ["durability", "paper"],
      ["min.insync.replicas", 0],
    ];
    for (const [key, value] of cases) {
      try {
        await broker.createTopic({ name: "c", configs: { [key]: value } });
        throw new Error(`accepted ${key}=${value}`);
      } catch (err) {
        expect(err).toBeInstanceOf(EddyError);
        expect((err as EddyError).code).toBe(ErrorCode.INVALID_CONFIG);
        expect((err as EddyError).message).toContain(key);
        expect((err as EddyError).details?.key).toBe(key);
      }
    }
    expect(await broker.listTopics()).toEqual([]);
  });

  it("alters and resets configs live", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "c", configs: { "retention.ms": 1000 } });
    let d = await broker.alterTopicConfigs("c", { "retention.bytes": "2048", "retention.ms": null });
    expect(d.overrides).toEqual({ "retention.bytes": "2048" });
    expect(d.configs["retention.ms"]).toBe(TOPIC_CONFIG_DEFAULTS["retention.ms"]);
    expect(await codeOf(broker.alterTopicConfigs("c", { "retention.bytes": "x" }))).toBe(
      ErrorCode.INVALID_CONFIG,
    );
    expect(await codeOf(broker.alterTopicConfigs("c", { bogus: null }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(await codeOf(broker.alterTopicConfigs("missing", { "retention.ms": 1 }))).toBe(
      ErrorCode.TOPIC_NOT_FOUND,
    );
    // A failed alter changes nothing.
    d = await broker.describeTopic("c");
    expect(d.overrides).toEqual({ "retention.bytes": "2048" });
    // The new max.message.bytes applies to the next produce.
    await broker.alterTopicConfigs("c", { "max.message.bytes": 100 });
    const big = { value: new Uint8Array(200) };
    expect(await codeOf(broker.produce({ topic: "c", records: [big] }))).toBe(ErrorCode.RECORD_TOO_LARGE);
  });

  it("applies broker-wide defaults and validates them", async () => {
    ({ broker } = await memoryBroker({
      defaults: { topicConfigs: { "retention.ms": 60_000, durability: "memory" } },
    }));
    const d = await broker.createTopic({ name: "d" });
    expect(d.configs["retention.ms"]).toBe(60_000);
    expect(d.configs.durability).toBe("memory");
    expect(d.overrides).toEqual({});
    await broker.close();
    expect(await codeOf(memoryBroker({ defaults: { topicConfigs: { "retention.ms": "later" } } }))).toBe(
      ErrorCode.INVALID_CONFIG,
    );
  });
});
