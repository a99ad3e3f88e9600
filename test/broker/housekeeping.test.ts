import { afterEach, describe, expect, it } from "bun:test";
import { type Broker, type BrokerObserver, ErrorCode } from "../../src/broker/index.ts";
import { codeOf, dec, enc, memoryBroker, produceValues, readValues } from "./helpers.ts";

let broker: Broker;
afterEach(async () => {
  await broker?.close();
});

/** Each ~100-byte record batch fills a 120-byte segment, so every produce call rolls a new segment. */
const SMALL_SEGMENTS = { "segment.bytes": 120 };

describe("housekeeping", () => {
  it("applies time retention with the injected clock", async () => {
    const m = await memoryBroker();
    broker = m.broker;
    await broker.createTopic({ name: "r", configs: { ...SMALL_SEGMENTS, "retention.ms": 1000 } });
    for (const v of ["a", "b", "c", "d"]) await produceValues(broker, "r", 0, [v.repeat(60)]);
    const segments = (await broker.describeTopic("r")).partitions[0]!.segments;
    expect(segments).toBeGreaterThan(1);

    m.clock.advance(500);
    expect((await broker.runHousekeeping()).deletedSegments).toBe(0);
    expect(broker.partitionState("r", 0).logStartOffset).toBe(0);

    m.clock.advance(1000);
    const report = await broker.runHousekeeping();
    expect(report.deletedSegments).toBe(segments - 1);
    const start = broker.partitionState("r", 0).logStartOffset;
    expect(start).toBe(4 - 1);
    expect(await readValues(broker, "r", 0, start)).toEqual(["d".repeat(60)]);
    expect(await broker.listOffsets("r", 0, "earliest")).toMatchObject({ offset: start });
    expect(await codeOf(broker.readRecords({ topic: "r", partition: 0, offset: 0 }))).toBe(
      ErrorCode.OFFSET_OUT_OF_RANGE,
    );
  });

  it("applies size retention and compaction, reporting to the observer", async () => {
    const seen: string[] = [];
    const observer: BrokerObserver = {
      onRetention: (t, p, r) => seen.push(`retention ${t}-${p} ${r.deletedSegments}`),
      onCompaction: (t, p, r) => seen.push(`compaction ${t}-${p} ${r.removedRecords}`),
    };
    ({ broker } = await memoryBroker({ observer }));
    await broker.createTopic({ name: "sz", configs: { ...SMALL_SEGMENTS, "retention.bytes": 250 } });
    for (const v of ["a", "b", "c", "d", "e"]) await produceValues(broker, "sz", 0, [v.repeat(60)]);
    await broker.createTopic({ name: "kv", configs: { ...SMALL_SEGMENTS, "cleanup.policy": "compact" } });
    for (const [k, v] of [
      ["k1", "a"],
      ["k2", "b"],
      ["k1", "c"],
      ["k1", "d"],
      ["k3", "e"],
    ]) {
      await broker.produce({ topic: "kv", records: [{ key: enc(k!), value: enc(v!.repeat(50)) }] });
    }
    await broker.runHousekeeping();
    const state = broker.partitionState("sz", 0);
    expect(state.logStartOffset).toBeGreaterThan(0);
    expect((await broker.describeTopic("sz")).partitions[0]!.sizeBytes).toBeLessThanOrEqual(250 + 120);
    const { records } = await broker.readRecords({ topic: "kv", partition: 0, offset: 0 });
    const latest = records.map((r) => [r.offset, dec(r.key), dec(r.value)?.[0]]);
    // Offsets are preserved; superseded k1 values (offsets 0 and 2) are gone.
    expect(latest).toEqual([
      [1, "k2", "b"],
      [3, "k1", "d"],
      [4, "k3", "e"],
    ]);
    expect(seen).toContain("compaction kv-0 2");
    expect(seen.some((s) => s.startsWith("retention sz-0"))).toBe(true);
  });

  it("runs on its own every interval and stops on close", async () => {
    const m = await memoryBroker({ housekeepingIntervalMs: 5 });
    broker = m.broker;
    await broker.createTopic({ name: "auto", configs: { ...SMALL_SEGMENTS, "retention.ms": 10 } });
    for (const v of ["a", "b", "c"]) await produceValues(broker, "auto", 0, [v.repeat(60)]);
    m.clock.advance(1000);
    for (let i = 0; i < 400 && broker.partitionState("auto", 0).logStartOffset === 0; i++) await Bun.sleep(5);
    expect(broker.partitionState("auto", 0).logStartOffset).toBe(2);
    await broker.close();
    expect(await codeOf(broker.runHousekeeping())).toBe(ErrorCode.SHUTTING_DOWN);
  });
});
