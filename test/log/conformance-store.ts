/** Conformance: compaction, several partitions in one store, list/destroy, close and reopen. */
import { describe, expect, it } from "bun:test";
import { ErrorCode } from "../../src/errors.ts";
import { CleanupPolicy, type PartitionLog } from "../../src/log/types.ts";
import {
  expectCode,
  type Harness,
  type Rec,
  readAll,
  readTriples,
  shape,
  values,
} from "./conformance-helpers.ts";

const SEGMENT_MS = 1000;

export function compactionTests(h: () => Harness): void {
  /** Append each group of batches into its own segment (rolled by time); returns the AppendInfos. */
  async function inSegments(log: PartitionLog, groups: Rec[][][]) {
    const infos = [];
    for (const group of groups) {
      for (const batch of group) infos.push(await log.append(h().batch(batch)));
      h().clock.advance(SEGMENT_MS + 1);
    }
    expect(log.segmentCount()).toBe(groups.length);
    return infos;
  }
  const compacted = (extra = {}) =>
    h().open("table", 0, { cleanupPolicy: CleanupPolicy.COMPACT, segmentMs: SEGMENT_MS, ...extra });

  describe("compact", () => {
    it("keeps the latest record per key in sealed segments, with offsets preserved", async () => {
      const log = await compacted();
      const infos = await inSegments(log, [
        [
          [
            { key: "k1", value: "a" },
            { key: "k2", value: "b" },
            { key: "k1", value: "c" },
          ],
          [{ key: "k3", value: "d" }, { value: "no-key" }],
        ],
        [
          [{ key: "k2", value: "e" }],
          [
            { key: "k3", value: "f" },
            { key: "k4", value: "g" },
          ],
        ],
        [[{ key: "k1", value: "h" }]],
      ]);
      const sealedBytes = infos.slice(0, 4).reduce((n, i) => n + i.size, 0);
      const sizeBefore = log.sizeBytes();
      const res = await log.compact(h().clock.now());
      expect(res.removedRecords).toBe(3);
      expect(res.bytesBefore).toBe(sealedBytes);
      expect(res.bytesAfter).toBeLessThan(sealedBytes);
      expect(log.sizeBytes()).toBe(sizeBefore - (res.bytesBefore - res.bytesAfter));
      expect(log.offsets()).toMatchObject({ logStartOffset: 0, logEndOffset: 9 });
      const expected: Array<[number, string | null, string | null]> = [
        [2, "k1", "c"],
        [4, null, "no-key"],
        [5, "k2", "e"],
        [6, "k3", "f"],
        [7, "k4", "g"],
        [8, "k1", "h"],
      ];
      expect(await readTriples(log)).toEqual(expected);
      const atGap = await log.read(3, 1 << 20);
      expect(atGap.nextOffset).toBe(9);
      expect((await readAll(log, 3)).map((r) => r.offset)).toEqual([4, 5, 6, 7, 8]);
      expect((await readAll(log, 0)).map((r) => r.offset)).toEqual([2, 4, 5, 6, 7, 8]);
      const again = await log.compact(h().clock.now());
      expect(again.removedRecords).toBe(0);
      expect(again.bytesAfter).toBe(again.bytesBefore);
      expect((await log.append(h().batch([{ key: "k1", value: "i" }]))).baseOffset).toBe(9);
      const shapeBefore = shape(log);
      const reopened = await h().reopen(log);
      expect(shape(reopened)).toEqual(shapeBefore);
      expect(await readTriples(reopened)).toEqual([...expected, [9, "k1", "i"]]);
      expect(reopened.offsets()).toMatchObject({ logStartOffset: 0, logEndOffset: 10 });
    });

    it("keeps tombstones until they are older than deleteRetentionMs", async () => {
      const log = await compacted({ deleteRetentionMs: 10_000 });
      const t0 = h().clock.now();
      await inSegments(log, [
        [[{ key: "k1", value: "a" }], [{ key: "k1", value: null }], [{ key: "k2", value: "b" }]],
        [[{ key: "k2", value: "c" }]],
        [[{ key: "k9", value: "z" }]],
      ]);
      const first = await log.compact(t0 + 9_000);
      expect(first.removedRecords).toBe(2);
      expect(await readTriples(log)).toEqual([
        [1, "k1", null],
        [3, "k2", "c"],
        [4, "k9", "z"],
      ]);
      const second = await log.compact(t0 + 20_000);
      expect(second.removedRecords).toBe(1);
      expect(await readTriples(log)).toEqual([
        [3, "k2", "c"],
        [4, "k9", "z"],
      ]);
      expect(log.offsets().logEndOffset).toBe(5);
    });

    it("does not compact records newer than minCompactionLagMs", async () => {
      const log = await compacted({ minCompactionLagMs: 5_000 });
      const t0 = h().clock.now();
      await inSegments(log, [[[{ key: "k1", value: "a" }]], [[{ key: "k1", value: "b" }]], [["tail"]]]);
      expect((await log.compact(t0 + 3_000)).removedRecords).toBe(0);
      expect(await values(log)).toEqual(["a", "b", "tail"]);
      expect((await log.compact(t0 + 6_000)).removedRecords).toBe(1);
      expect(await readTriples(log)).toEqual([
        [1, "k1", "b"],
        [2, null, "tail"],
      ]);
    });

    it("does nothing when the policy does not include compact", async () => {
      const log = await h().open("plain", 0, { cleanupPolicy: CleanupPolicy.DELETE, segmentMs: SEGMENT_MS });
      await inSegments(log, [[[{ key: "k", value: "a" }]], [[{ key: "k", value: "b" }]], [["c"]]]);
      const before = shape(log);
      const res = await log.compact(h().clock.now());
      expect(res.removedRecords).toBe(0);
      expect(res.bytesAfter).toBe(res.bytesBefore);
      expect(shape(log)).toEqual(before);
      expect(await values(log)).toEqual(["a", "b", "c"]);
    });

    it("compacts with compact,delete and then applies retention", async () => {
      const log = await compacted({ cleanupPolicy: CleanupPolicy.COMPACT_DELETE, retentionMs: 1_000 });
      await inSegments(log, [[[{ key: "k", value: "a" }]], [[{ key: "k", value: "b" }]], [["c"]]]);
      expect((await log.compact(h().clock.now())).removedRecords).toBe(1);
      const res = await log.applyRetention(h().clock.now() + 60_000);
      expect(res.logStartOffset).toBe(2);
      expect(log.segmentCount()).toBe(1);
      expect(await values(log)).toEqual(["c"]);
    });
  });
}

export function storeTests(h: () => Harness): void {
  describe("store", () => {
    it("keeps partitions independent and lists them", async () => {
      const a = await h().open("events", 0);
      const b = await h().open("events", 1);
      const c = await h().open("sensor-data.v1", 12);
      await h().appendAll(a, [["a0", "a1"], ["a2"]]);
      await h().appendAll(b, [["b0"]]);
      await h().appendAll(c, [["c0", "c1", "c2", "c3"]]);
      expect([a, b, c].map((l) => l.offsets().logEndOffset)).toEqual([3, 1, 4]);
      expect(await values(a)).toEqual(["a0", "a1", "a2"]);
      expect(await values(b)).toEqual(["b0"]);
      expect(await values(c)).toEqual(["c0", "c1", "c2", "c3"]);
      await b.deleteRecordsBefore(1);
      expect(a.offsets().logStartOffset).toBe(0);
      const sort = (xs: Array<{ topic: string; partition: number }>) =>
        [...xs].sort((x, y) => x.topic.localeCompare(y.topic) || x.partition - y.partition);
      expect(sort(await h().store.list())).toEqual([
        { topic: "events", partition: 0 },
        { topic: "events", partition: 1 },
        { topic: "sensor-data.v1", partition: 12 },
      ]);
    });

    it("destroy removes a partition's data", async () => {
      const a = await h().open("events", 0);
      const b = await h().open("events", 1);
      await h().appendAll(a, [["a"]]);
      await h().appendAll(b, [["b"]]);
      await b.destroy();
      expect(await h().store.list()).toEqual([{ topic: "events", partition: 0 }]);
      const again = await h().open("events", 1);
      expect(shape(again)).toEqual({ logStartOffset: 0, logEndOffset: 0, sizeBytes: 0, segmentCount: 1 });
      expect(await values(a)).toEqual(["a"]);
    });

    it("keeps data, offsets and segments across close and reopen", async () => {
      const t0 = h().clock.now();
      const keyed = (i: number) => h().batch([{ key: `k${i}`, value: "same-size", ts: t0 + i * 10 }]);
      const size = keyed(0).length;
      let log = await h().open("events", 0, { segmentBytes: 2 * size });
      for (let i = 0; i < 7; i++) await log.append(keyed(i));
      await log.deleteRecordsBefore(3);
      await log.flush();
      const before = shape(log);
      expect(before).toEqual({ logStartOffset: 3, logEndOffset: 7, sizeBytes: 5 * size, segmentCount: 3 });
      const triples = await readTriples(log);
      log = await h().reopen(log);
      expect(shape(log)).toEqual(before);
      expect(log.offsets().flushedOffset).toBe(7);
      expect(await readTriples(log)).toEqual(triples);
      expect(await log.offsetForTimestamp(t0)).toEqual({ offset: 3, timestamp: t0 + 30 });
      expect(await log.maxTimestamp()).toEqual({ offset: 6, timestamp: t0 + 60 });
      expect((await log.append(keyed(7))).baseOffset).toBe(7);
      expect(log.segmentCount()).toBe(3);
      await log.truncateTo(5);
      log = await h().reopen(log);
      expect(shape(log)).toEqual({
        logStartOffset: 3,
        logEndOffset: 5,
        sizeBytes: 3 * size,
        segmentCount: 2,
      });
      expect((await log.append(keyed(5))).baseOffset).toBe(5);
      await log.deleteRecordsBefore(6);
      log = await h().reopen(log);
      expect(log.offsets()).toMatchObject({ logStartOffset: 6, logEndOffset: 6 });
      expect((await log.read(6, 1000)).batchCount).toBe(0);
      expect((await log.append(h().batch(["last"]))).baseOffset).toBe(6);
      expect(await values(log)).toEqual(["last"]);
      expect(await h().store.list()).toEqual([{ topic: "events", partition: 0 }]);
    });

    it("reopens a log truncated to a segment's base offset", async () => {
      const size = h().batch(["x"]).length;
      let log = await h().open("events", 0, { segmentBytes: 2 * size });
      for (let i = 0; i < 6; i++) await log.append(h().batch(["x"]));
      await log.truncateTo(4);
      const before = shape(log);
      expect(before).toEqual({ logStartOffset: 0, logEndOffset: 4, sizeBytes: 4 * size, segmentCount: 3 });
      log = await h().reopen(log);
      expect(shape(log)).toEqual(before);
      expect((await log.append(h().batch(["y"]))).baseOffset).toBe(4);
      expect(await values(log)).toEqual(["x", "x", "x", "x", "y"]);
    });

    it("reopens an empty log and a log after retention", async () => {
      let empty = await h().open("empty", 0);
      empty = await h().reopen(empty);
      expect(shape(empty)).toEqual({ logStartOffset: 0, logEndOffset: 0, sizeBytes: 0, segmentCount: 1 });
      const size = h().batch(["x"]).length;
      let log = await h().open("events", 0, { segmentBytes: 2 * size, retentionMs: 1000 });
      for (let i = 0; i < 5; i++) await log.append(h().batch(["x"]));
      await log.applyRetention(h().clock.now() + 5000);
      const before = shape(log);
      expect(before).toEqual({ logStartOffset: 4, logEndOffset: 5, sizeBytes: size, segmentCount: 1 });
      log = await h().reopen(log);
      expect(shape(log)).toEqual(before);
      await expectCode(() => log.read(3, 1000), ErrorCode.OFFSET_OUT_OF_RANGE);
    });
  });
}
