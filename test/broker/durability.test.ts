/**
 * High-watermark semantics under each durability policy, with a log wrapper
 * whose "fsync" completes only when the test says so.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { type Broker, ErrorCode, toEddyError } from "../../src/broker/index.ts";
import type { AppendOptions, LogConfig, LogStore, PartitionLog } from "../../src/log/types.ts";
import { codeOf, memoryBroker, produceValues, readValues } from "./helpers.ts";

class HeldLog implements PartitionLog {
  private flushed: number;
  /** Simulate ENOSPC from the storage engine. */
  full = false;
  private waiting: Array<{ offset: number; resolve: () => void }> = [];
  constructor(private readonly inner: PartitionLog) {
    this.flushed = inner.offsets().logEndOffset;
  }
  get topic() {
    return this.inner.topic;
  }
  get partition() {
    return this.inner.partition;
  }
  /** Complete the pending "fsync": everything written so far becomes durable. */
  release(): void {
    this.flushed = this.inner.offsets().logEndOffset;
    const ready = this.waiting.filter((w) => w.offset <= this.flushed);
    this.waiting = this.waiting.filter((w) => w.offset > this.flushed);
    for (const w of ready) w.resolve();
  }
  offsets() {
    const o = this.inner.offsets();
    return { ...o, flushedOffset: Math.max(o.logStartOffset, Math.min(this.flushed, o.logEndOffset)) };
  }
  config() {
    return this.inner.config();
  }
  reconfigure(config: LogConfig) {
    this.inner.reconfigure(config);
  }
  append(batch: Uint8Array, opts?: AppendOptions) {
    if (this.full) return Promise.reject(toEddyError(Object.assign(new Error("ENOSPC"), { code: "ENOSPC" })));
    return this.inner.append(batch, opts);
  }
  waitDurable(offset: number): Promise<void> {
    if (this.config().durability !== "fsync" || this.flushed >= offset) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ offset, resolve }));
  }
  async flush() {
    this.release();
  }
  read(offset: number, maxBytes: number, opts?: Parameters<PartitionLog["read"]>[2]) {
    return this.inner.read(offset, maxBytes, opts);
  }
  offsetForTimestamp(ts: number) {
    return this.inner.offsetForTimestamp(ts);
  }
  maxTimestamp() {
    return this.inner.maxTimestamp();
  }
  deleteRecordsBefore(offset: number) {
    return this.inner.deleteRecordsBefore(offset);
  }
  truncateTo(offset: number) {
    return this.inner.truncateTo(offset);
  }
  truncateFullyAndStartAt(offset: number) {
    return this.inner.truncateFullyAndStartAt(offset);
  }
  applyRetention(now: number) {
    return this.inner.applyRetention(now);
  }
  compact(now: number) {
    return this.inner.compact(now);
  }
  setRetentionFloor(offset: number | null) {
    this.inner.setRetentionFloor(offset);
  }
  sizeBytes() {
    return this.inner.sizeBytes();
  }
  segmentCount() {
    return this.inner.segmentCount();
  }
  async close() {
    this.release();
    await this.inner.close();
  }
  async destroy() {
    this.release();
    await this.inner.destroy();
  }
}

function heldStore(inner: LogStore): LogStore & { logs: Map<string, HeldLog> } {
  const logs = new Map<string, HeldLog>();
  return {
    logs,
    async open(topic, partition, config) {
      const log = new HeldLog(await inner.open(topic, partition, config));
      logs.set(`${topic}-${partition}`, log);
      return log;
    },
    list: () => inner.list(),
    close: () => inner.close(),
  };
}

let broker: Broker;
let store: ReturnType<typeof heldStore>;
afterEach(async () => {
  await broker?.close();
});

async function setup(): Promise<void> {
  ({ broker } = await memoryBroker({
    wrapStore: (inner) => {
      store = heldStore(inner);
      return store;
    },
  }));
}

describe("high watermark and durability", () => {
  it("fsync: records stay invisible until flushed; acks wait for the flush", async () => {
    await setup();
    await broker.createTopic({ name: "f" });
    const log = store.logs.get("f-0")!;
    const r0 = await broker.produce({ topic: "f", acks: 0, records: [{ value: null }] });
    expect(r0.records[0]!.offset).toBe(-1);
    expect(broker.partitionState("f", 0)).toMatchObject({
      logEndOffset: 1,
      flushedOffset: 0,
      highWatermark: 0,
    });
    expect(await readValues(broker, "f", 0)).toEqual([]);
    const f = await broker.fetch({ partitions: [{ topic: "f", partition: 0, offset: 0 }] });
    expect(f.partitions[0]).toMatchObject({ highWatermark: 0, error: null });
    expect(f.partitions[0]!.records.length).toBe(0);
    expect(await broker.listOffsets("f", 0, "latest")).toMatchObject({ offset: 0 });

    expect(
      await codeOf(broker.produce({ topic: "f", acks: 1, timeoutMs: 20, records: [{ value: null }] })),
    ).toBe(ErrorCode.TIMEOUT);
    const acked = broker.produce({ topic: "f", acks: -1, records: [{ value: null }] });
    let settled = false;
    void acked.then(() => {
      settled = true;
    });
    await Bun.sleep(5);
    expect(settled).toBe(false);
    log.release();
    expect((await acked).records[0]!.offset).toBe(2);
    expect(broker.partitionState("f", 0)).toMatchObject({
      logEndOffset: 3,
      highWatermark: 3,
      lastStableOffset: 3,
    });
    expect(await readValues(broker, "f", 0)).toHaveLength(3);
  });

  it("fsync: a flush alone advances the high watermark and wakes long-polls", async () => {
    await setup();
    await broker.createTopic({ name: "f" });
    const pending = broker.fetch({
      maxWaitMs: 20_000,
      partitions: [{ topic: "f", partition: 0, offset: 0 }],
    });
    await broker.produce({ topic: "f", acks: 0, records: [{ value: null }, { value: null }] });
    await Bun.sleep(5);
    store.logs.get("f-0")!.release();
    const res = await pending;
    expect(res.partitions[0]!.highWatermark).toBe(2);
    expect(res.partitions[0]!.records.length).toBeGreaterThan(0);
  });

  it("write and memory: the high watermark is the log end offset at once", async () => {
    await setup();
    for (const durability of ["write", "memory"]) {
      const topic = `t-${durability}`;
      await broker.createTopic({ name: topic, configs: { durability } });
      const res = await produceValues(broker, topic, 0, ["a", "b"]);
      expect(res.partitions[0]).toMatchObject({ baseOffset: 0, lastOffset: 1 });
      expect(broker.partitionState(topic, 0)).toMatchObject({
        logEndOffset: 2,
        flushedOffset: 0,
        highWatermark: 2,
      });
      expect(await readValues(broker, topic, 0)).toEqual(["a", "b"]);
    }
  });

  it("switching a topic from fsync to write exposes the written tail", async () => {
    await setup();
    await broker.createTopic({ name: "s" });
    await broker.produce({ topic: "s", acks: 0, records: [{ value: null }] });
    expect(broker.partitionState("s", 0).highWatermark).toBe(0);
    await broker.alterTopicConfigs("s", { durability: "write" });
    expect(broker.partitionState("s", 0).highWatermark).toBe(1);
  });
});

describe("full disk", () => {
  it("produce fails with STORAGE_FULL from the log and stored records are untouched", async () => {
    await setup();
    await broker.createTopic({ name: "d", configs: { durability: "write" } });
    await produceValues(broker, "d", 0, ["kept"]);
    const log = store.logs.get("d-0")!;
    log.full = true;
    expect(await codeOf(produceValues(broker, "d", 0, ["lost"]))).toBe(ErrorCode.STORAGE_FULL);
    expect(broker.partitionState("d", 0)).toMatchObject({ logEndOffset: 1, highWatermark: 1 });
    log.full = false;
    await produceValues(broker, "d", 0, ["next"]);
    expect(await readValues(broker, "d", 0)).toEqual(["kept", "next"]);
  });
});
