/** Conformance: append, validation, offset assignment, segment roll, durability. */
import { describe, expect, it } from "bun:test";
import { ErrorCode } from "../../src/errors.ts";
import {
  checkBatch,
  decodeRecords,
  isLogAppendTime,
  readBatchHeader,
  setBaseOffset,
} from "../../src/log/record-batch.ts";
import { Durability } from "../../src/log/types.ts";
import {
  bytes,
  expectCode,
  type Harness,
  readAll,
  shape,
  testConfig,
  text,
  values,
} from "./conformance-helpers.ts";

export function appendTests(h: () => Harness): void {
  describe("append", () => {
    it("starts empty with one segment", async () => {
      const log = await h().open("events", 3, { segmentBytes: 4096 });
      expect(log.topic).toBe("events");
      expect(log.partition).toBe(3);
      expect(log.offsets()).toEqual({ logStartOffset: 0, logEndOffset: 0, flushedOffset: 0 });
      expect(log.config()).toEqual(testConfig({ segmentBytes: 4096 }));
      expect(log.segmentCount()).toBe(1);
      expect(log.sizeBytes()).toBe(0);
      expect(await log.maxTimestamp()).toBeNull();
      expect(await log.offsetForTimestamp(0)).toBeNull();
    });

    it("assigns consecutive offsets, ignoring the batch's own baseOffset", async () => {
      const log = await h().open();
      const t = h().clock.now();
      const b1 = h().batch(["a", "b"], { baseOffset: 1000 });
      const b2 = h().batch([
        { value: "c", ts: t + 5 },
        { value: "d", ts: t + 9 },
        { value: "e", ts: t + 2 },
      ]);
      const b3 = h().batch(["f"], { baseOffset: 7 });
      const i1 = await log.append(b1);
      const i2 = await log.append(b2);
      const i3 = await log.append(b3);
      expect(i1).toEqual({
        baseOffset: 0,
        lastOffset: 1,
        maxTimestamp: t,
        logAppendTime: -1,
        recordCount: 2,
        size: b1.length,
      });
      expect(i2).toEqual({
        baseOffset: 2,
        lastOffset: 4,
        maxTimestamp: t + 9,
        logAppendTime: -1,
        recordCount: 3,
        size: b2.length,
      });
      expect(i3.baseOffset).toBe(5);
      expect(i3.lastOffset).toBe(5);
      expect(log.offsets().logEndOffset).toBe(6);
      expect(log.offsets().logStartOffset).toBe(0);
      expect(log.sizeBytes()).toBe(b1.length + b2.length + b3.length);
      const recs = await readAll(log);
      expect(recs.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(recs.map((r) => text(r.value))).toEqual(["a", "b", "c", "d", "e", "f"]);
      expect(recs.map((r) => r.timestamp)).toEqual([t, t, t + 5, t + 9, t + 2, t]);
    });

    it("stores keys, null values and headers exactly", async () => {
      const log = await h().open();
      const headers = [
        { key: "trace", value: bytes("abc") },
        { key: "empty", value: null },
      ];
      await log.append(
        h().batch([{ key: "k1", value: "v1", headers }, { key: "k2", value: null }, { value: "" }]),
      );
      const recs = await readAll(log);
      expect(recs.map((r) => [text(r.key), text(r.value)])).toEqual([
        ["k1", "v1"],
        ["k2", null],
        [null, ""],
      ]);
      expect(recs[0]?.headers.map((x) => [x.key, text(x.value)])).toEqual([
        ["trace", "abc"],
        ["empty", null],
      ]);
      expect(recs[1]?.headers).toEqual([]);
    });

    it("keeps its own copy of the appended bytes", async () => {
      const log = await h().open();
      const b = h().batch(["original"]);
      await log.append(b);
      b.fill(0x55);
      const r = await log.read(0, 1 << 20);
      expect(checkBatch(r.bytes, 0, r.bytes.length).ok).toBe(true);
      expect(await values(log)).toEqual(["original"]);
    });

    it("with assignOffsets=false accepts only a batch starting at or past the log end", async () => {
      const log = await h().open();
      await log.append(h().batch(["a", "b"]));
      const good = h().batch(["c", "d"], { baseOffset: 2 });
      const info = await log.append(good, { assignOffsets: false });
      expect([info.baseOffset, info.lastOffset]).toEqual([2, 3]);
      const before = shape(log);
      for (const base of [1, 3, 0]) {
        let threw = false;
        try {
          await log.append(h().batch(["x"], { baseOffset: base }), { assignOffsets: false });
        } catch (err) {
          threw = true;
          expect((err as { code?: unknown }).code).toBeString();
        }
        expect(threw).toBe(true);
        expect(shape(log)).toEqual(before);
      }
      expect((await readAll(log)).map((r) => r.offset)).toEqual([0, 1, 2, 3]);
    });

    it("stamps the leader epoch into the stored batch", async () => {
      const log = await h().open();
      await log.append(h().batch(["a"], { partitionLeaderEpoch: 0 }), { leaderEpoch: 7 });
      await log.append(h().batch(["b"]), { leaderEpoch: 9 });
      const r = await log.read(0, 1 << 20);
      expect(r.batchCount).toBe(2);
      expect(readBatchHeader(r.bytes, 0).partitionLeaderEpoch).toBe(7);
      const second = readBatchHeader(r.bytes, 0).batchLength + 12;
      expect(readBatchHeader(r.bytes, second).partitionLeaderEpoch).toBe(9);
      expect(checkBatch(r.bytes, 0).ok).toBe(true);
      expect(checkBatch(r.bytes, second).ok).toBe(true);
    });

    it("applies LogAppendTime from the store's clock", async () => {
      const log = await h().open("events", 0, { timestampType: "LogAppendTime" });
      const old = h().clock.now() - 50_000;
      h().clock.advance(1234);
      const now = h().clock.now();
      const info = await log.append(
        h().batch([
          { value: "a", ts: old },
          { value: "b", ts: old + 1 },
        ]),
      );
      expect(info.logAppendTime).toBe(now);
      expect(info.maxTimestamp).toBe(now);
      const r = await log.read(0, 1 << 20);
      const header = readBatchHeader(r.bytes, 0);
      expect(isLogAppendTime(header.attributes)).toBe(true);
      expect(header.maxTimestamp).toBe(now);
      expect(checkBatch(r.bytes, 0, r.bytes.length).ok).toBe(true);
      expect(await log.offsetForTimestamp(old)).toEqual({ offset: 0, timestamp: now });
      expect(await log.maxTimestamp()).toEqual({ offset: 0, timestamp: now });
    });

    it("rejects corrupt input with CORRUPT_RECORD and stays unchanged", async () => {
      const log = await h().open();
      await log.append(h().batch(["a"]));
      const before = shape(log);
      const good = h().batch(["hello", "world"]);
      const flipped = good.slice();
      flipped[good.length - 3] = (flipped[good.length - 3] ?? 0) ^ 0xff;
      const badLength = good.slice();
      new DataView(badLength.buffer).setInt32(8, good.length + 100);
      const trailing = new Uint8Array(good.length + 5);
      trailing.set(good);
      const cases = [
        flipped,
        good.subarray(0, 30),
        good.subarray(0, good.length - 1),
        badLength,
        trailing,
        new Uint8Array(0),
      ];
      for (const bad of cases) {
        await expectCode(() => log.append(bad), ErrorCode.CORRUPT_RECORD);
        expect(shape(log)).toEqual(before);
      }
      expect(await values(log)).toEqual(["a"]);
      expect((await log.append(good)).baseOffset).toBe(1);
    });

    it("rejects another magic with UNSUPPORTED_FORMAT", async () => {
      const log = await h().open();
      const b = h().batch(["a"]);
      b[16] = 1;
      await expectCode(() => log.append(b), ErrorCode.UNSUPPORTED_FORMAT);
      expect(shape(log)).toEqual({ logStartOffset: 0, logEndOffset: 0, sizeBytes: 0, segmentCount: 1 });
    });

    it("rejects batches over maxMessageBytes with BATCH_TOO_LARGE", async () => {
      const b = h().batch(["x".repeat(200)]);
      const log = await h().open("events", 0, { maxMessageBytes: b.length - 1 });
      await expectCode(() => log.append(b), ErrorCode.BATCH_TOO_LARGE);
      expect(shape(log)).toEqual({ logStartOffset: 0, logEndOffset: 0, sizeBytes: 0, segmentCount: 1 });
      log.reconfigure({ ...log.config(), maxMessageBytes: b.length });
      expect((await log.append(b)).size).toBe(b.length);
    });
  });

  describe("segments", () => {
    it("roll when the active segment would exceed segmentBytes", async () => {
      const size = h().batch(["abcdef"]).length;
      const log = await h().open("events", 0, { segmentBytes: 3 * size });
      for (let i = 0; i < 7; i++) await log.append(h().batch(["abcdef"]));
      expect(log.segmentCount()).toBe(3);
      expect(log.sizeBytes()).toBe(7 * size);
      const log2 = await h().open("events", 1, { segmentBytes: 3 * size - 1 });
      for (let i = 0; i < 7; i++) await log2.append(h().batch(["abcdef"]));
      expect(log2.segmentCount()).toBe(4);
      expect((await readAll(log2)).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    });

    it("put an oversized batch into the empty active segment", async () => {
      const log = await h().open("events", 0, { segmentBytes: 100 });
      const big = h().batch(["y".repeat(300)]);
      await log.append(big);
      expect(log.segmentCount()).toBe(1);
      await log.append(big);
      expect(log.segmentCount()).toBe(2);
      expect(log.sizeBytes()).toBe(2 * big.length);
    });

    it("roll when the first batch of the active segment is older than segmentMs", async () => {
      const log = await h().open("events", 0, { segmentMs: 1000 });
      await log.append(h().batch(["a"]));
      h().clock.advance(600);
      await log.append(h().batch(["b"]));
      expect(log.segmentCount()).toBe(1);
      h().clock.advance(600);
      await log.append(h().batch(["c"]));
      expect(log.segmentCount()).toBe(2);
      h().clock.advance(900);
      await log.append(h().batch(["d"]));
      expect(log.segmentCount()).toBe(2);
      h().clock.advance(5000);
      await log.append(h().batch(["e"]));
      expect(log.segmentCount()).toBe(3);
      expect(await values(log)).toEqual(["a", "b", "c", "d", "e"]);
    });

    it("follow a reconfigured segment size", async () => {
      const log = await h().open();
      const b = h().batch(["abc"]);
      for (let i = 0; i < 3; i++) await log.append(b);
      expect(log.segmentCount()).toBe(1);
      const cfg = { ...log.config(), segmentBytes: 2 * b.length };
      log.reconfigure(cfg);
      expect(log.config()).toEqual(cfg);
      await log.append(b);
      expect(log.segmentCount()).toBe(2);
      await log.append(b);
      expect(log.segmentCount()).toBe(2);
      await log.append(b);
      expect(log.segmentCount()).toBe(3);
    });
  });

  describe("durability", () => {
    it("waitDurable and flush make everything durable", async () => {
      const log = await h().open("events", 0, { durability: Durability.FSYNC });
      const info = await log.append(h().batch(["a", "b"]));
      await log.waitDurable(info.lastOffset + 1);
      expect(log.offsets().flushedOffset).toBeGreaterThanOrEqual(info.lastOffset + 1);
      await log.append(h().batch(["c"]));
      await log.flush();
      expect(log.offsets().flushedOffset).toBe(3);
      expect(log.offsets().logEndOffset).toBe(3);
    });

    it("waitDurable resolves for several appends waiting together", async () => {
      const log = await h().open("events", 0, { durability: Durability.FSYNC });
      const waits: Array<Promise<void>> = [];
      for (let i = 0; i < 5; i++) {
        const info = await log.append(h().batch([`v${i}`]));
        waits.push(log.waitDurable(info.lastOffset + 1));
      }
      await Promise.all(waits);
      expect(log.offsets().flushedOffset).toBe(5);
      expect(await values(log)).toEqual(["v0", "v1", "v2", "v3", "v4"]);
    });

    it("waitDurable resolves for offsets already durable", async () => {
      const log = await h().open("events", 0, { durability: Durability.MEMORY });
      await log.waitDurable(0);
      await log.append(h().batch(["a"]));
      await log.flush();
      await log.waitDurable(1);
      expect(log.offsets().flushedOffset).toBe(1);
    });
  });

  describe("offsets", () => {
    it("decode with absolute offsets after a baseOffset rewrite", async () => {
      const log = await h().open();
      await log.append(h().batch(["a"]));
      const b = h().batch(["b", "c"]);
      setBaseOffset(b, 0, 99);
      const info = await log.append(b);
      expect(info.baseOffset).toBe(1);
      const r = await log.read(1, 1 << 20);
      expect(decodeRecords(r.bytes).map((x) => x.offset)).toEqual([1, 2]);
    });
  });
}
