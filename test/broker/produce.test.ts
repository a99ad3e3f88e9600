import { afterEach, describe, expect, it } from "bun:test";
import {
  type Broker,
  checkBatch,
  decodeBatch,
  encodeBatch,
  ErrorCode,
  readBatchHeader,
} from "../../src/broker/index.ts";
import { codeOf, dec, enc, memoryBroker, readValues } from "./helpers.ts";

let broker: Broker;
afterEach(async () => {
  await broker?.close();
});

/** Kafka's Utils.murmur2 of these UTF-8 keys (Apache Kafka UtilsTest.testMurmur2). */
const JAVA_MURMUR2: Record<string, number> = {
  "21": -973932308,
  foobar: -790332482,
  "a-little-bit-long-string": -985981536,
  "a-little-bit-longer-string": -1486304829,
  lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8: -58897971,
  abc: 479470107,
};

describe("partitioning", () => {
  it("places keyed records where Java's default partitioner would", async () => {
    ({ broker } = await memoryBroker());
    for (const n of [1, 3, 7, 12]) {
      const topic = `keys-${n}`;
      await broker.createTopic({ name: topic, partitions: n });
      const keys = Object.keys(JAVA_MURMUR2);
      const res = await broker.produce({ topic, records: keys.map((k) => ({ key: enc(k), value: enc(k) })) });
      keys.forEach((k, i) => {
        // Utils.toPositive(murmur2(key)) % numPartitions
        const expected = (JAVA_MURMUR2[k]! & 0x7fffffff) % n;
        expect(res.records[i]!.partition).toBe(expected);
      });
      for (const k of keys)
        expect(await broker.partitionForKey(topic, enc(k))).toBe((JAVA_MURMUR2[k]! & 0x7fffffff) % n);
    }
    // Hand-checked: toPositive(-790332482) = 1357151166, % 12 = 6; 479470107 ("abc") % 7 = 4.
    expect(await broker.partitionForKey("keys-12", enc("foobar"))).toBe(6);
    expect(await broker.partitionForKey("keys-7", enc("abc"))).toBe(4);
  });

  it("keeps keyless records of one produce call together and rotates between calls", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "sticky", partitions: 3 });
    const seen: number[] = [];
    for (let call = 0; call < 6; call++) {
      const res = await broker.produce({
        topic: "sticky",
        records: [{ value: enc("a") }, { value: enc("b") }],
      });
      expect(res.partitions).toHaveLength(1);
      expect(new Set(res.records.map((r) => r.partition)).size).toBe(1);
      seen.push(res.records[0]!.partition);
    }
    expect(new Set(seen)).toEqual(new Set([0, 1, 2]));
    expect(seen.slice(0, 3)).toEqual(seen.slice(3));
  });

  it("honours an explicit partition and rejects a missing one", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "p", partitions: 2 });
    const res = await broker.produce({
      topic: "p",
      partition: 1,
      records: [{ key: enc("abc"), value: null }],
    });
    expect(res.records).toEqual([{ partition: 1, offset: 0 }]);
    expect(await codeOf(broker.produce({ topic: "p", partition: 2, records: [{ value: null }] }))).toBe(
      ErrorCode.PARTITION_NOT_FOUND,
    );
  });
});

describe("produce", () => {
  it("returns offsets in input order across partitions and stores key, value, headers, timestamp", async () => {
    const m = await memoryBroker();
    broker = m.broker;
    await broker.createTopic({ name: "t", partitions: 4 });
    const keys = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
    const res = await broker.produce({
      topic: "t",
      records: keys.map((k, i) => ({
        key: enc(k),
        value: enc(`v${i}`),
        headers: [{ key: "h", value: enc(k) }],
        timestamp: i === 0 ? 1234 : undefined,
      })),
    });
    const count = new Map<number, number>();
    for (const [i, r] of res.records.entries()) {
      const expected = count.get(r.partition) ?? 0;
      expect(r.offset).toBe(expected);
      count.set(r.partition, expected + 1);
      const { records } = await broker.readRecords({
        topic: "t",
        partition: r.partition,
        offset: r.offset,
        maxRecords: 1,
      });
      expect(dec(records[0]!.key)).toBe(keys[i]!);
      expect(dec(records[0]!.value)).toBe(`v${i}`);
      expect(records[0]!.headers.map((h) => [h.key, dec(h.value)])).toEqual([["h", keys[i]!]]);
      expect(records[0]!.timestamp).toBe(i === 0 ? 1234 : m.clock.now());
    }
    expect(res.partitions.reduce((n, p) => n + p.recordCount, 0)).toBe(keys.length);
    expect(broker.stats().appendedRecords).toBe(keys.length);
  });

  it("acks=0 returns -1 offsets, acks=1 and -1 return offsets and make records visible", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "a" });
    const r0 = await broker.produce({ topic: "a", acks: 0, records: [{ value: enc("x") }] });
    expect(r0.records).toEqual([{ partition: 0, offset: -1 }]);
    expect(r0.partitions[0]).toMatchObject({ baseOffset: -1, lastOffset: -1, recordCount: 1 });
    const r1 = await broker.produce({ topic: "a", acks: 1, records: [{ value: enc("y") }] });
    expect(r1.records).toEqual([{ partition: 0, offset: 1 }]);
    const rAll = await broker.produce({
      topic: "a",
      acks: -1,
      records: [{ value: enc("z") }, { value: enc("w") }],
    });
    expect(rAll.partitions[0]).toMatchObject({ baseOffset: 2, lastOffset: 3 });
    expect(await readValues(broker, "a", 0)).toEqual(["x", "y", "z", "w"]);
    expect(await codeOf(broker.produce({ topic: "a", acks: 2 as 1, records: [] }))).toBe(
      ErrorCode.INVALID_REQUEST,
    );
  });

  it("rejects records over max.message.bytes and splits large batches of small records", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "m", configs: { "max.message.bytes": 1000 } });
    expect(await codeOf(broker.produce({ topic: "m", records: [{ value: new Uint8Array(1000) }] }))).toBe(
      ErrorCode.RECORD_TOO_LARGE,
    );
    // Nothing was written by the refused call, even though other records were small.
    expect(
      await codeOf(
        broker.produce({ topic: "m", records: [{ value: enc("ok") }, { value: new Uint8Array(5000) }] }),
      ),
    ).toBe(ErrorCode.RECORD_TOO_LARGE);
    expect(broker.partitionState("m", 0).logEndOffset).toBe(0);
    const many = Array.from({ length: 40 }, (_, i) => ({ value: enc(`${i}`.padStart(100, "x")) }));
    const res = await broker.produce({ topic: "m", records: many });
    expect(res.records.map((r) => r.offset)).toEqual(many.map((_, i) => i));
    const fetched = await broker.fetch({ partitions: [{ topic: "m", partition: 0, offset: 0 }] });
    const bytes = fetched.partitions[0]!.records;
    let pos = 0;
    let batches = 0;
    while (pos < bytes.length) {
      const check = checkBatch(bytes, pos);
      expect(check.ok).toBe(true);
      if (!check.ok) break;
      expect(check.size).toBeLessThanOrEqual(1000);
      pos += check.size;
      batches++;
    }
    expect(batches).toBeGreaterThan(1);
  });

  it("requires keys on compacted topics", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "state", configs: { "cleanup.policy": "compact" } });
    expect(await codeOf(broker.produce({ topic: "state", records: [{ value: enc("v") }] }))).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    const keyless = encodeBatch([{ value: enc("v") }]);
    expect(await codeOf(broker.appendBatch({ topic: "state", partition: 0, batch: keyless }))).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    await broker.produce({ topic: "state", records: [{ key: enc("k"), value: enc("v") }] });
    expect(broker.partitionState("state", 0).highWatermark).toBe(1);
  });

  it("requires min.insync.replicas for acks=all", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "isr", configs: { "min.insync.replicas": 2 } });
    expect(await codeOf(broker.produce({ topic: "isr", acks: -1, records: [{ value: null }] }))).toBe(
      ErrorCode.NOT_ENOUGH_REPLICAS,
    );
    await broker.produce({ topic: "isr", acks: 1, records: [{ value: null }] });
    expect(broker.partitionState("isr", 0).highWatermark).toBe(1);
  });

  it("stamps LogAppendTime topics with the broker clock", async () => {
    const m = await memoryBroker();
    broker = m.broker;
    await broker.createTopic({ name: "lat", configs: { "message.timestamp.type": "LogAppendTime" } });
    const res = await broker.produce({ topic: "lat", records: [{ value: enc("x"), timestamp: 5 }] });
    expect(res.partitions[0]!.logAppendTime).toBe(m.clock.now());
    const { records } = await broker.readRecords({ topic: "lat", partition: 0, offset: 0 });
    expect(records[0]!.timestamp).toBe(m.clock.now());
  });

  it("fails with STORAGE_FULL when the disk is full and keeps what was stored", async () => {
    let full = false;
    ({ broker } = await memoryBroker({ diskFull: () => full }));
    await broker.createTopic({ name: "d" });
    await broker.produce({ topic: "d", records: [{ value: enc("kept") }] });
    full = true;
    expect(await codeOf(broker.produce({ topic: "d", records: [{ value: enc("lost") }] }))).toBe(
      ErrorCode.STORAGE_FULL,
    );
    expect(
      await codeOf(broker.appendBatch({ topic: "d", partition: 0, batch: encodeBatch([{ value: null }]) })),
    ).toBe(ErrorCode.STORAGE_FULL);
    expect(await readValues(broker, "d", 0)).toEqual(["kept"]);
    full = false;
    await broker.produce({ topic: "d", records: [{ value: enc("later") }] });
    expect(await readValues(broker, "d", 0)).toEqual(["kept", "later"]);
  });
});

describe("appendBatch", () => {
  it("appends a raw batch with offsets assigned by the log", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "raw" });
    await broker.produce({ topic: "raw", records: [{ value: enc("first") }] });
    const batch = encodeBatch([{ value: enc("a") }, { value: enc("b"), key: enc("k") }], { baseOffset: 77 });
    const res = await broker.appendBatch({ topic: "raw", partition: 0, batch });
    expect(res).toMatchObject({ baseOffset: 1, lastOffset: 2, logStartOffset: 0 });
    expect(await readValues(broker, "raw", 0)).toEqual(["first", "a", "b"]);
    const fetched = await broker.fetch({ partitions: [{ topic: "raw", partition: 0, offset: 1 }] });
    const { header, records } = decodeBatch(fetched.partitions[0]!.records, 0);
    expect(header.baseOffset).toBeLessThanOrEqual(1);
    expect(records.at(-1)!.offset).toBe(2);
  });

  it("rejects corrupt, old-format, multi-batch and transactional input", async () => {
    ({ broker } = await memoryBroker());
    await broker.createTopic({ name: "raw" });
    const good = encodeBatch([{ value: enc("a") }]);
    const flipped = good.slice();
    flipped[flipped.length - 1]! ^= 0xff;
    expect(await codeOf(broker.appendBatch({ topic: "raw", partition: 0, batch: flipped }))).toBe(
      ErrorCode.CORRUPT_RECORD,
    );
    const v1 = good.slice();
    v1[16] = 1; // magic byte
    expect(await codeOf(broker.appendBatch({ topic: "raw", partition: 0, batch: v1 }))).toBe(
      ErrorCode.UNSUPPORTED_FORMAT,
    );
    const two = new Uint8Array(good.length * 2);
    two.set(good, 0);
    two.set(good, good.length);
    expect(await codeOf(broker.appendBatch({ topic: "raw", partition: 0, batch: two }))).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    const txn = encodeBatch([{ value: enc("t") }], {
      producerId: 5,
      producerEpoch: 0,
      baseSequence: 0,
      transactional: true,
    });
    expect(readBatchHeader(txn).producerId).toBe(5);
    // A transactional batch outside a transaction (no AddPartitionsToTxn) is refused.
    expect(await codeOf(broker.appendBatch({ topic: "raw", partition: 0, batch: txn }))).toBe(
      ErrorCode.INVALID_TXN_STATE,
    );
    expect(
      await codeOf(broker.appendBatch({ topic: "raw", partition: 0, batch: good, expectedLeaderEpoch: 3 })),
    ).toBe(ErrorCode.NOT_LEADER);
    expect(broker.partitionState("raw", 0).logEndOffset).toBe(0);
  });
});
