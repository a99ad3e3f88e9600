/** Idempotent producer on the broker API: duplicates, sequence gaps, epochs, the 5-batch window. */
import { afterEach, describe, expect, it } from "bun:test";
import { type Broker, ErrorCode } from "../../src/broker/index.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { codeOf, initProducer, memoryBroker, producerBatch, readValues } from "./helpers.ts";

let broker: Broker | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

async function setup(): Promise<Broker> {
  ({ broker } = await memoryBroker());
  await broker.createTopic({ name: "t" });
  return broker;
}

describe("idempotent producer", () => {
  it("hands out distinct producer ids at epoch 0", async () => {
    const b = await setup();
    const a = await initProducer(b);
    const c = await initProducer(b);
    expect(a.producerEpoch).toBe(0);
    expect(c.producerId).not.toBe(a.producerId);
  });

  it("answers a retried batch with its original offsets and writes nothing", async () => {
    const b = await setup();
    const p = await initProducer(b);
    const first = producerBatch(["a", "b", "c"], { ...p, seq: 0 });
    const r1 = await b.appendBatch({ topic: "t", partition: 0, batch: first, acks: -1 });
    expect([r1.baseOffset, r1.lastOffset, r1.duplicate]).toEqual([0, 2, undefined]);
    const r2 = await b.appendBatch({
      topic: "t",
      partition: 0,
      batch: producerBatch(["d", "e"], { ...p, seq: 3 }),
      acks: -1,
    });
    expect([r2.baseOffset, r2.lastOffset]).toEqual([3, 4]);
    const retry = await b.appendBatch({ topic: "t", partition: 0, batch: first, acks: -1 });
    expect(retry).toMatchObject({ baseOffset: 0, lastOffset: 2, duplicate: true });
    const retry2 = await b.appendBatch({
      topic: "t",
      partition: 0,
      batch: producerBatch(["d", "e"], { ...p, seq: 3 }),
    });
    expect(retry2).toMatchObject({ baseOffset: 3, lastOffset: 4, duplicate: true });
    expect(b.partitionState("t", 0).logEndOffset).toBe(5);
    expect(await readValues(b, "t", 0)).toEqual(["a", "b", "c", "d", "e"]);
    expect(b.stats().appendedRecords).toBe(5);
  });

  it("refuses a sequence gap with OUT_OF_ORDER_SEQUENCE", async () => {
    const b = await setup();
    const p = await initProducer(b);
    await b.appendBatch({ topic: "t", partition: 0, batch: producerBatch(["a"], { ...p, seq: 0 }) });
    const gap = producerBatch(["c"], { ...p, seq: 2 });
    expect(await codeOf(b.appendBatch({ topic: "t", partition: 0, batch: gap }))).toBe(
      ErrorCode.OUT_OF_ORDER_SEQUENCE,
    );
    await b.appendBatch({ topic: "t", partition: 0, batch: producerBatch(["b"], { ...p, seq: 1 }) });
    expect(await readValues(b, "t", 0)).toEqual(["a", "b"]);
  });

  it("fences an older epoch and requires a new epoch to start at sequence 0", async () => {
    const b = await setup();
    const p = await initProducer(b);
    const e1 = { producerId: p.producerId, producerEpoch: 1 };
    await b.appendBatch({ topic: "t", partition: 0, batch: producerBatch(["x"], { ...e1, seq: 0 }) });
    expect(
      await codeOf(
        b.appendBatch({ topic: "t", partition: 0, batch: producerBatch(["old"], { ...p, seq: 1 }) }),
      ),
    ).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    const e2 = { producerId: p.producerId, producerEpoch: 2 };
    expect(
      await codeOf(
        b.appendBatch({ topic: "t", partition: 0, batch: producerBatch(["y"], { ...e2, seq: 5 }) }),
      ),
    ).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE);
    await b.appendBatch({ topic: "t", partition: 0, batch: producerBatch(["y"], { ...e2, seq: 0 }) });
    expect(await readValues(b, "t", 0)).toEqual(["x", "y"]);
  });

  it("remembers only the last 5 batches, and accepts an unknown producer at any sequence (KIP-360)", async () => {
    const b = await setup();
    const p = { producerId: 4242, producerEpoch: 0 };
    const batches = Array.from({ length: 6 }, (_, i) => producerBatch([`v${i}`], { ...p, seq: 7 + i }));
    for (const batch of batches) await b.appendBatch({ topic: "t", partition: 0, batch });
    // Batch 1..5 are in the window: duplicates. Batch 0 fell out: out of order.
    const dup = await b.appendBatch({ topic: "t", partition: 0, batch: batches[1]! });
    expect(dup).toMatchObject({ baseOffset: 1, duplicate: true });
    expect(await codeOf(b.appendBatch({ topic: "t", partition: 0, batch: batches[0]! }))).toBe(
      ErrorCode.OUT_OF_ORDER_SEQUENCE,
    );
    expect(b.partitionState("t", 0).logEndOffset).toBe(6);
  });

  it("keeps producer state per partition", async () => {
    ({ broker } = await memoryBroker());
    const b = broker;
    await b.createTopic({ name: "two", partitions: 2 });
    const p = await initProducer(b);
    await b.appendBatch({ topic: "two", partition: 0, batch: producerBatch(["a"], { ...p, seq: 0 }) });
    const other = await b.appendBatch({
      topic: "two",
      partition: 1,
      batch: producerBatch(["a"], { ...p, seq: 0 }),
    });
    expect(other.duplicate).toBeUndefined();
    expect(b.partitionState("two", 1).logEndOffset).toBe(1);
  });

  it("snapshots producer state every 1000 producer batches", async () => {
    const metadata = openMetadataStore({ path: ":memory:" });
    ({ broker } = await memoryBroker({ metadata }));
    const b = broker;
    await b.createTopic({ name: "t" });
    const p = await initProducer(b);
    for (let seq = 0; seq < 1000; seq++) {
      await b.appendBatch({ topic: "t", partition: 0, batch: producerBatch(["v"], { ...p, seq }), acks: 0 });
    }
    for (let i = 0; i < 100 && metadata.getProducerState("t", 0) === null; i++) await Bun.sleep(1);
    const row = metadata.getProducerState("t", 0);
    expect(row?.snapshotOffset).toBe(1000);
    expect(row?.producers).toContain(`[${p.producerId},0,`);
  });

  it("refuses control batches from producers", async () => {
    const b = await setup();
    const { encodeBatch } = await import("../../src/broker/index.ts");
    const control = encodeBatch([{ key: new Uint8Array(4), value: new Uint8Array(6) }], {
      producerId: 1,
      producerEpoch: 0,
      transactional: true,
      control: true,
    });
    expect(await codeOf(b.appendBatch({ topic: "t", partition: 0, batch: control }))).toBe(
      ErrorCode.INVALID_REQUEST,
    );
  });
});
