import { afterEach, describe, expect, it } from "bun:test";
import { type AppendEvent, type Broker, decodeRecords, ErrorCode } from "../../src/broker/index.ts";
import { codeOf, dec, memoryBroker, produceValues } from "./helpers.ts";

let broker: Broker;
afterEach(async () => {
  await broker?.close();
});

const values = (bytes: Uint8Array, from = 0) => decodeRecords(bytes, from).map((r) => dec(r.value));

describe("fetch", () => {
  it("returns batches from an offset with the partition's offsets", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t" });
    await produceValues(broker, "t", 0, ["a", "b"]);
    await produceValues(broker, "t", 0, ["c"]);
    const res = await broker.fetch({ partitions: [{ topic: "t", partition: 0, offset: 1 }] });
    const p = res.partitions[0]!;
    expect(p).toMatchObject({ error: null, highWatermark: 3, lastStableOffset: 3, logStartOffset: 0 });
    expect(values(p.records, 1)).toEqual(["b", "c"]);
    // At the high watermark: empty, no error.
    const atEnd = await broker.fetch({ partitions: [{ topic: "t", partition: 0, offset: 3 }] });
    expect(atEnd.partitions[0]!.error).toBeNull();
    expect(atEnd.partitions[0]!.records.length).toBe(0);
  });

  it("reports per-partition errors without throwing", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t" });
    await produceValues(broker, "t", 0, ["a"]);
    const res = await broker.fetch({
      maxWaitMs: 5000,
      partitions: [
        { topic: "t", partition: 0, offset: 0 },
        { topic: "t", partition: 0, offset: 5 },
        { topic: "t", partition: 9, offset: 0 },
        { topic: "nope", partition: 0, offset: 0 },
        { topic: "t", partition: 0, offset: 0, currentLeaderEpoch: 4 },
      ],
    });
    expect(res.partitions.map((p) => p.error)).toEqual([
      null,
      ErrorCode.OFFSET_OUT_OF_RANGE,
      ErrorCode.PARTITION_NOT_FOUND,
      ErrorCode.TOPIC_NOT_FOUND,
      ErrorCode.NOT_LEADER,
    ]);
    expect(res.partitions[1]!.highWatermark).toBe(1);
    expect(values(res.partitions[0]!.records)).toEqual(["a"]);
  });

  it("long-polls until a produce makes data visible", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t", partitions: 2 });
    const pending = broker.fetch({
      maxWaitMs: 20_000,
      partitions: [
        { topic: "t", partition: 0, offset: 0 },
        { topic: "t", partition: 1, offset: 0 },
      ],
    });
    await Bun.sleep(5);
    await produceValues(broker, "t", 1, ["late"]);
    const res = await pending;
    expect(res.partitions[0]!.records.length).toBe(0);
    expect(values(res.partitions[1]!.records)).toEqual(["late"]);
  });

  it("waits for minBytes across several produces", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t" });
    let done = false;
    const pending = broker
      .fetch({ maxWaitMs: 20_000, minBytes: 150, partitions: [{ topic: "t", partition: 0, offset: 0 }] })
      .finally(() => {
        done = true;
      });
    await produceValues(broker, "t", 0, ["x".repeat(10)]);
    await Bun.sleep(5);
    expect(done).toBe(false);
    await produceValues(broker, "t", 0, ["y".repeat(100)]);
    const res = await pending;
    expect(values(res.partitions[0]!.records)).toEqual(["x".repeat(10), "y".repeat(100)]);
  });

  it("times out empty, and stops early on abort", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t" });
    const res = await broker.fetch({ maxWaitMs: 20, partitions: [{ topic: "t", partition: 0, offset: 0 }] });
    expect(res.partitions[0]!.records.length).toBe(0);
    expect(res.partitions[0]!.error).toBeNull();
    const ac = new AbortController();
    const pending = broker.fetch({
      maxWaitMs: 60_000,
      signal: ac.signal,
      partitions: [{ topic: "t", partition: 0, offset: 0 }],
    });
    ac.abort();
    expect((await pending).partitions[0]!.records.length).toBe(0);
  });

  it("limits the response to maxBytes but always returns the first batch", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t", partitions: 2 });
    for (let i = 0; i < 5; i++) await produceValues(broker, "t", 0, ["p0-" + "x".repeat(200)]);
    for (let i = 0; i < 5; i++) await produceValues(broker, "t", 1, ["p1-" + "x".repeat(200)]);
    const req = [
      { topic: "t", partition: 0, offset: 0 },
      { topic: "t", partition: 1, offset: 0 },
    ];
    const tiny = await broker.fetch({ maxBytes: 10, partitions: req });
    expect(values(tiny.partitions[0]!.records)).toHaveLength(1);
    expect(tiny.partitions[1]!.records.length).toBe(0);
    const mid = await broker.fetch({ maxBytes: 700, partitions: req });
    const total = mid.partitions.reduce((n, p) => n + p.records.length, 0);
    expect(total).toBeLessThanOrEqual(700);
    expect(values(mid.partitions[0]!.records).length).toBeGreaterThan(1);
    const perPartition = await broker.fetch({ partitions: req.map((r) => ({ ...r, maxBytes: 10 })) });
    expect(perPartition.partitions.map((p) => values(p.records).length)).toEqual([1, 0]);
    const all = await broker.fetch({ partitions: req });
    expect(all.partitions.map((p) => values(p.records).length)).toEqual([5, 5]);
    expect(broker.stats().fetchedBytes).toBeGreaterThan(0);
  });

  it("read_committed sees exactly the high watermark for now", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t" });
    await produceValues(broker, "t", 0, ["a", "b", "c"]);
    const uncommitted = await broker.fetch({ partitions: [{ topic: "t", partition: 0, offset: 0 }] });
    const committed = await broker.fetch({
      isolation: "read_committed",
      partitions: [{ topic: "t", partition: 0, offset: 0 }],
    });
    expect(committed.partitions[0]!.lastStableOffset).toBe(committed.partitions[0]!.highWatermark);
    expect(committed.partitions[0]!.records).toEqual(uncommitted.partitions[0]!.records);
    expect(committed.partitions[0]!.abortedTransactions).toEqual([]);
  });
});

describe("readRecords, waitForData, onAppend", () => {
  it("decodes records from the requested offset with maxRecords and nextOffset", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t" });
    await produceValues(broker, "t", 0, ["a", "b", "c", "d"]);
    const r = await broker.readRecords({ topic: "t", partition: 0, offset: 1, maxRecords: 2 });
    expect(r.records.map((x) => [x.offset, dec(x.value)])).toEqual([
      [1, "b"],
      [2, "c"],
    ]);
    expect(r.nextOffset).toBe(3);
    expect(r.highWatermark).toBe(4);
    const rest = await broker.readRecords({ topic: "t", partition: 0, offset: r.nextOffset });
    expect(rest.records.map((x) => dec(x.value))).toEqual(["d"]);
    expect(rest.nextOffset).toBe(4);
    const none = await broker.readRecords({ topic: "t", partition: 0, offset: 4, maxWaitMs: 10 });
    expect(none).toMatchObject({ records: [], nextOffset: 4 });
    expect(await codeOf(broker.readRecords({ topic: "t", partition: 0, offset: 99 }))).toBe(
      ErrorCode.OFFSET_OUT_OF_RANGE,
    );
    expect(await codeOf(broker.readRecords({ topic: "x", partition: 0, offset: 0 }))).toBe(
      ErrorCode.TOPIC_NOT_FOUND,
    );
  });

  it("readRecords long-polls", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t" });
    const pending = broker.readRecords({ topic: "t", partition: 0, offset: 0, maxWaitMs: 20_000 });
    await Bun.sleep(5);
    await produceValues(broker, "t", 0, ["hello"]);
    expect((await pending).records.map((r) => dec(r.value))).toEqual(["hello"]);
  });

  it("waitForData resolves on data and false on timeout; onAppend reports new high watermarks", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t", partitions: 2 });
    const events: AppendEvent[] = [];
    const off = broker.onAppend((e) => events.push(e));
    expect(await broker.waitForData("t", 0, 0, 10)).toBe(false);
    const waiting = broker.waitForData("t", 0, 0, 20_000);
    await produceValues(broker, "t", 0, ["a", "b"]);
    expect(await waiting).toBe(true);
    await produceValues(broker, "t", 1, ["c"]);
    expect(events).toEqual([
      { topic: "t", partition: 0, highWatermark: 2 },
      { topic: "t", partition: 1, highWatermark: 1 },
    ]);
    off();
    await produceValues(broker, "t", 1, ["d"]);
    expect(events).toHaveLength(2);
    const ac = new AbortController();
    const aborted = broker.waitForData("t", 0, 5, 60_000, ac.signal);
    ac.abort();
    expect(await aborted).toBe(false);
  });

  it("close wakes long-polls and later calls throw SHUTTING_DOWN", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "t" });
    const pending = broker.fetch({
      maxWaitMs: 60_000,
      partitions: [{ topic: "t", partition: 0, offset: 0 }],
    });
    const waiting = broker.waitForData("t", 0, 0, 60_000);
    await Bun.sleep(2);
    await broker.close();
    expect((await pending).partitions[0]!.records.length).toBe(0);
    expect(await waiting).toBe(false);
    expect(await codeOf(broker.produce({ topic: "t", records: [{ value: null }] }))).toBe(
      ErrorCode.SHUTTING_DOWN,
    );
    expect(await codeOf(broker.listTopics())).toBe(ErrorCode.SHUTTING_DOWN);
    expect(await codeOf(() => broker.partitionState("t", 0))).toBe(ErrorCode.SHUTTING_DOWN);
  });
});
