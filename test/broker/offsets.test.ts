import { afterEach, describe, expect, it } from "bun:test";
import { type Broker, ErrorCode } from "../../src/broker/index.ts";
import { codeOf, enc, memoryBroker, produceValues, readValues } from "./helpers.ts";

let broker: Broker;
afterEach(async () => {
  await broker?.close();
});

describe("listOffsets", () => {
  it("answers earliest, latest, max-timestamp and by timestamp", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t" });
    expect(await broker.listOffsets("t", 0, "earliest")).toMatchObject({ offset: 0 });
    expect(await broker.listOffsets("t", 0, "latest")).toMatchObject({ offset: 0 });
    expect(await broker.listOffsets("t", 0, "max-timestamp")).toMatchObject({ offset: -1, timestamp: -1 });
    await broker.produce({
      topic: "t",
      records: [100, 200, 900, 300].map((ts, i) => ({ value: enc(`${i}`), timestamp: ts })),
    });
    await broker.produce({ topic: "t", records: [{ value: enc("4"), timestamp: 400 }] });
    expect(await broker.listOffsets("t", 0, "latest")).toEqual({ offset: 5, timestamp: -1, leaderEpoch: 0 });
    expect(await broker.listOffsets("t", 0, { timestamp: 0 })).toMatchObject({ offset: 0, timestamp: 100 });
    expect(await broker.listOffsets("t", 0, { timestamp: 150 })).toMatchObject({ offset: 1, timestamp: 200 });
    expect(await broker.listOffsets("t", 0, { timestamp: 350 })).toMatchObject({ offset: 2, timestamp: 900 });
    expect(await broker.listOffsets("t", 0, { timestamp: 901 })).toMatchObject({ offset: -1, timestamp: -1 });
    expect(await broker.listOffsets("t", 0, "max-timestamp")).toMatchObject({ offset: 2, timestamp: 900 });
    expect(await codeOf(broker.listOffsets("t", 3, "latest"))).toBe(ErrorCode.PARTITION_NOT_FOUND);
    expect(await codeOf(broker.listOffsets("t", 0, { timestamp: Number.NaN }))).toBe(
      ErrorCode.INVALID_REQUEST,
    );
  });
});

describe("deleteRecords", () => {
  it("advances the log start offset, never past the high watermark", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t" });
    for (const v of ["a", "b", "c", "d"]) await produceValues(broker, "t", 0, [v]);
    expect(await broker.deleteRecords("t", 0, 2)).toBe(2);
    expect(broker.partitionState("t", 0)).toMatchObject({ logStartOffset: 2, highWatermark: 4 });
    expect(await readValues(broker, "t", 0, 2)).toEqual(["c", "d"]);
    expect(await codeOf(broker.readRecords({ topic: "t", partition: 0, offset: 1 }))).toBe(
      ErrorCode.OFFSET_OUT_OF_RANGE,
    );
    const f = await broker.fetch({ partitions: [{ topic: "t", partition: 0, offset: 0 }] });
    expect(f.partitions[0]).toMatchObject({ error: ErrorCode.OFFSET_OUT_OF_RANGE, logStartOffset: 2 });
    expect(await broker.listOffsets("t", 0, "earliest")).toMatchObject({ offset: 2 });
    expect(await codeOf(broker.deleteRecords("t", 0, 5))).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(await broker.deleteRecords("t", 0, 1)).toBe(2);
    expect(await broker.deleteRecords("t", 0, -1)).toBe(4);
    expect(await readValues(broker, "t", 0, 4)).toEqual([]);
  });
});

describe("group offsets", () => {
  it("commits, fetches, lists, computes lag and deletes", async () => {
    const m = await memoryBroker();
    broker = m.broker;
    await broker.createTopic({ name: "t", partitions: 2 });
    await broker.createTopic({ name: "u" });
    await produceValues(broker, "t", 0, ["a", "b", "c"]);
    await produceValues(broker, "t", 1, ["d"]);
    await broker.commitOffsets("g1", [
      { topic: "t", partition: 0, offset: 1, metadata: "m" },
      { topic: "t", partition: 1, offset: 1 },
      { topic: "u", partition: 0, offset: 0, leaderEpoch: 0 },
    ]);
    await broker.commitOffsets("g2", [{ topic: "t", partition: 0, offset: 3 }]);
    expect(await broker.listGroups()).toEqual(["g1", "g2"]);
    const fetched = await broker.fetchOffsets("g1", "t");
    expect(fetched).toHaveLength(2);
    expect(fetched.find((o) => o.partition === 0)).toEqual({
      topic: "t",
      partition: 0,
      offset: 1,
      leaderEpoch: -1,
      metadata: "m",
      commitTimestamp: m.clock.now(),
    });
    expect(await broker.fetchOffsets("g1")).toHaveLength(3);
    expect(
      (await broker.groupLag("g1")).map((l) => [
        l.topic,
        l.partition,
        l.committedOffset,
        l.highWatermark,
        l.lag,
      ]),
    ).toEqual([
      ["t", 0, 1, 3, 2],
      ["t", 1, 1, 1, 0],
      ["u", 0, 0, 0, 0],
    ]);
    // A newer commit replaces the old one.
    await broker.commitOffsets("g1", [{ topic: "t", partition: 0, offset: 3 }]);
    expect((await broker.groupLag("g1"))[0]!.lag).toBe(0);

    expect(await codeOf(broker.commitOffsets("g1", [{ topic: "nope", partition: 0, offset: 0 }]))).toBe(
      ErrorCode.TOPIC_NOT_FOUND,
    );
    expect(await codeOf(broker.commitOffsets("g1", [{ topic: "t", partition: 5, offset: 0 }]))).toBe(
      ErrorCode.PARTITION_NOT_FOUND,
    );
    expect(await codeOf(broker.commitOffsets("g1", [{ topic: "t", partition: 0, offset: -3 }]))).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    expect(await codeOf(broker.commitOffsets("", [{ topic: "t", partition: 0, offset: 0 }]))).toBe(
      ErrorCode.INVALID_GROUP_ID,
    );

    await broker.deleteGroup("g2");
    expect(await broker.listGroups()).toEqual(["g1"]);
    expect(await codeOf(broker.deleteGroup("g2"))).toBe(ErrorCode.GROUP_NOT_FOUND);
  });

  it("deleting a topic removes its data and its committed offsets", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t" });
    await broker.createTopic({ name: "keep" });
    await produceValues(broker, "t", 0, ["a", "b"]);
    await broker.commitOffsets("g", [
      { topic: "t", partition: 0, offset: 2 },
      { topic: "keep", partition: 0, offset: 0 },
    ]);
    await broker.deleteTopic("t");
    expect((await broker.fetchOffsets("g")).map((o) => o.topic)).toEqual(["keep"]);
    expect(await codeOf(broker.describeTopic("t"))).toBe(ErrorCode.TOPIC_NOT_FOUND);
    // Re-created under the same name, the topic starts empty.
    await broker.createTopic({ name: "t" });
    expect(broker.partitionState("t", 0)).toMatchObject({ logStartOffset: 0, logEndOffset: 0 });
    expect(await readValues(broker, "t", 0)).toEqual([]);
  });

  it("a long-poll on a deleted topic returns with TOPIC_NOT_FOUND", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t" });
    const pending = broker.fetch({
      maxWaitMs: 60_000,
      partitions: [{ topic: "t", partition: 0, offset: 0 }],
    });
    await Bun.sleep(2);
    await broker.deleteTopic("t");
    expect((await pending).partitions[0]!.error).toBe(ErrorCode.TOPIC_NOT_FOUND);
  });
});

describe("produce racing a topic deletion", () => {
  it("fails with TOPIC_NOT_FOUND rather than writing into a deleted topic", async () => {
    ({ broker } = await memoryBroker({ defaults: { autoCreateTopics: false } }));
    await broker.createTopic({ name: "t" });
    const deleting = broker.deleteTopic("t");
    const producing = broker.produce({ topic: "t", partition: 0, records: [{ value: null }] });
    await deleting;
    expect(await codeOf(producing)).toBe(ErrorCode.TOPIC_NOT_FOUND);
    expect(await broker.listTopics()).toEqual([]);
  });
});
