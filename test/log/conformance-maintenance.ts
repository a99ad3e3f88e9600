/** Conformance: delete-records, truncation, retention (time, bytes, floors). */
import { describe, expect, it } from "bun:test";
import { ErrorCode } from "../../src/errors.ts";
import { CleanupPolicy, type LogConfig, type PartitionLog } from "../../src/log/types.ts";
import { expectCode, type Harness, readAll, shape, values } from "./conformance-helpers.ts";

export function maintenanceTests(h: () => Harness): void {
  /** Size of one single-record batch of `batchValue`. */
  const batchValue = "payload-0123456789";
  const unit = (): number => h().batch([batchValue]).length;

  /**
   * `n` single-record batches in segments of `perSegment` batches; batch i has
   * timestamp t0 + tsOf(i).
   */
  async function segmented(
    n: number,
    perSegment: number,
    config: Partial<LogConfig> = {},
    tsOf: (i: number) => number = () => 0,
  ): Promise<PartitionLog> {
    const log = await h().open("events", 0, { segmentBytes: perSegment * unit(), ...config });
    const t0 = h().clock.now();
    for (let i = 0; i < n; i++) await log.append(h().batch([{ value: batchValue, ts: t0 + tsOf(i) }]));
    expect(log.segmentCount()).toBe(Math.ceil(n / perSegment));
    return log;
  }

  describe("deleteRecordsBefore", () => {
    it("advances the log start, never backwards, and hides records below it", async () => {
      const log = await h().open();
      await h().appendAll(log, [["a", "b"], ["c", "d", "e"], ["f"]]);
      expect(await log.deleteRecordsBefore(3)).toBe(3);
      expect(log.offsets().logStartOffset).toBe(3);
      expect(log.offsets().logEndOffset).toBe(6);
      await expectCode(() => log.read(2, 1000), ErrorCode.OFFSET_OUT_OF_RANGE);
      await expectCode(() => log.read(0, 1000), ErrorCode.OFFSET_OUT_OF_RANGE);
      expect(await values(log)).toEqual(["d", "e", "f"]);
      expect(await log.deleteRecordsBefore(1)).toBe(3);
      expect(log.offsets().logStartOffset).toBe(3);
      expect(await log.deleteRecordsBefore(3)).toBe(3);
      expect((await log.append(h().batch(["g"]))).baseOffset).toBe(6);
    });

    it("accepts the log end and rejects beyond it", async () => {
      const log = await h().open();
      await h().appendAll(log, [["a", "b"]]);
      const before = shape(log);
      await expectCode(() => log.deleteRecordsBefore(3), ErrorCode.OFFSET_OUT_OF_RANGE);
      expect(shape(log)).toEqual(before);
      expect(await log.deleteRecordsBefore(2)).toBe(2);
      expect(log.offsets()).toMatchObject({ logStartOffset: 2, logEndOffset: 2 });
      expect((await log.read(2, 1000)).batchCount).toBe(0);
      expect(await log.maxTimestamp()).toBeNull();
      expect(await log.offsetForTimestamp(0)).toBeNull();
      expect((await log.append(h().batch(["c"]))).baseOffset).toBe(2);
      expect(await values(log)).toEqual(["c"]);
    });

    it("deletes sealed segments wholly below the new start at once", async () => {
      const log = await segmented(7, 2);
      const u = unit();
      expect(await log.deleteRecordsBefore(3)).toBe(3);
      expect(log.segmentCount()).toBe(3);
      expect(log.sizeBytes()).toBe(5 * u);
      expect(await log.deleteRecordsBefore(6)).toBe(6);
      expect(log.segmentCount()).toBe(1);
      expect(log.sizeBytes()).toBe(u);
      expect(await log.deleteRecordsBefore(7)).toBe(7);
      expect(log.segmentCount()).toBe(1);
    });
  });

  describe("truncateTo", () => {
    it("drops everything at and above a batch boundary", async () => {
      const log = await h().open();
      await h().appendAll(log, [["a", "b"], ["c", "d", "e"], ["f"]]);
      await log.truncateTo(2);
      expect(log.offsets().logEndOffset).toBe(2);
      expect(log.offsets().flushedOffset).toBeLessThanOrEqual(2);
      expect(await values(log)).toEqual(["a", "b"]);
      await expectCode(() => log.read(3, 1000), ErrorCode.OFFSET_OUT_OF_RANGE);
      expect((await log.append(h().batch(["x"]))).baseOffset).toBe(2);
      expect(await values(log)).toEqual(["a", "b", "x"]);
      expect(log.sizeBytes()).toBe(h().batch(["a", "b"]).length + h().batch(["x"]).length);
    });

    it("does nothing at or beyond the log end", async () => {
      const log = await h().open();
      await h().appendAll(log, [["a", "b"]]);
      const before = shape(log);
      await log.truncateTo(2);
      await log.truncateTo(10);
      expect(shape(log)).toEqual(before);
      expect(await values(log)).toEqual(["a", "b"]);
    });

    it("removes later segments; the segment holding the offset becomes active", async () => {
      const log = await segmented(7, 2);
      const u = unit();
      await log.truncateTo(3);
      expect(log.offsets().logEndOffset).toBe(3);
      expect(log.segmentCount()).toBe(2);
      expect(log.sizeBytes()).toBe(3 * u);
      await log.append(h().batch([batchValue]));
      expect(log.segmentCount()).toBe(2);
      await log.append(h().batch([batchValue]));
      expect(log.segmentCount()).toBe(3);
      expect((await readAll(log)).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4]);
    });

    it("keeps an empty segment when truncating to a segment's base offset", async () => {
      const log = await segmented(6, 2);
      await log.truncateTo(4);
      expect(log.offsets().logEndOffset).toBe(4);
      expect(log.segmentCount()).toBe(3);
      expect(log.sizeBytes()).toBe(4 * unit());
      expect((await log.append(h().batch([batchValue]))).baseOffset).toBe(4);
      expect(log.segmentCount()).toBe(3);
    });

    it("empties the log when truncating to or below the log start", async () => {
      const log = await segmented(5, 2);
      await log.truncateTo(0);
      expect(shape(log)).toEqual({ logStartOffset: 0, logEndOffset: 0, sizeBytes: 0, segmentCount: 1 });
      expect((await log.read(0, 1000)).batchCount).toBe(0);
      expect((await log.append(h().batch(["again"]))).baseOffset).toBe(0);
      await log.append(h().batch(["b", "c", "d"]));
      await log.deleteRecordsBefore(2);
      await log.truncateTo(2);
      expect(shape(log)).toEqual({ logStartOffset: 2, logEndOffset: 2, sizeBytes: 0, segmentCount: 1 });
      expect((await log.append(h().batch(["e"]))).baseOffset).toBe(2);
      expect(await values(log)).toEqual(["e"]);
    });
  });

  describe("applyRetention", () => {
    /** Segments [0,1] [2,3] [4,5] [6]: timestamps t0, t0+10s, t0+20s, t0+30s per segment. */
    const bySegment = (i: number): number => Math.floor(i / 2) * 10_000;

    it("deletes sealed segments older than retentionMs, never the active one", async () => {
      const log = await segmented(7, 2, { retentionMs: 15_000 }, bySegment);
      const t0 = h().clock.now();
      const u = unit();
      expect(await log.applyRetention(t0 + 15_000)).toEqual({
        deletedSegments: 0,
        deletedBytes: 0,
        logStartOffset: 0,
      });
      expect(await log.applyRetention(t0 + 15_001)).toEqual({
        deletedSegments: 1,
        deletedBytes: 2 * u,
        logStartOffset: 2,
      });
      expect(log.offsets().logStartOffset).toBe(2);
      expect(log.segmentCount()).toBe(3);
      expect(log.sizeBytes()).toBe(5 * u);
      await expectCode(() => log.read(1, 1000), ErrorCode.OFFSET_OUT_OF_RANGE);
      expect(await log.applyRetention(t0 + 1_000_000)).toEqual({
        deletedSegments: 2,
        deletedBytes: 4 * u,
        logStartOffset: 6,
      });
      expect(shape(log)).toEqual({ logStartOffset: 6, logEndOffset: 7, sizeBytes: u, segmentCount: 1 });
      expect(await values(log)).toEqual([batchValue]);
    });

    it("keeps everything by time with retentionMs = -1", async () => {
      const log = await segmented(5, 2, { retentionMs: -1 });
      const res = await log.applyRetention(h().clock.now() + 10 * 365 * 24 * 3600 * 1000);
      expect(res).toEqual({ deletedSegments: 0, deletedBytes: 0, logStartOffset: 0 });
      expect(log.segmentCount()).toBe(3);
    });

    it("stops at the first segment that is not expired", async () => {
      const log = await segmented(7, 2, { retentionMs: 15_000 }, (i) => (i < 2 ? 20_000 : 0));
      const res = await log.applyRetention(h().clock.now() + 30_000);
      expect(res.deletedSegments).toBe(0);
      expect(log.segmentCount()).toBe(4);
    });

    it("deletes the oldest segments by size without going below retentionBytes", async () => {
      const u = unit();
      const log = await segmented(7, 2, { retentionBytes: 4 * u, retentionMs: -1 });
      expect(await log.applyRetention(h().clock.now())).toEqual({
        deletedSegments: 1,
        deletedBytes: 2 * u,
        logStartOffset: 2,
      });
      expect(log.sizeBytes()).toBe(5 * u);
      log.reconfigure({ ...log.config(), retentionBytes: 3 * u });
      expect((await log.applyRetention(h().clock.now())).deletedSegments).toBe(1);
      expect(shape(log)).toEqual({ logStartOffset: 4, logEndOffset: 7, sizeBytes: 3 * u, segmentCount: 2 });
      log.reconfigure({ ...log.config(), retentionBytes: 0 });
      expect((await log.applyRetention(h().clock.now())).deletedSegments).toBe(1);
      expect(shape(log)).toEqual({ logStartOffset: 6, logEndOffset: 7, sizeBytes: u, segmentCount: 1 });
    });

    it("respects the retention floor for time but not for size", async () => {
      const u = unit();
      const log = await segmented(7, 2, { retentionMs: 1000 }, bySegment);
      const later = h().clock.now() + 1_000_000;
      log.setRetentionFloor(1);
      expect((await log.applyRetention(later)).deletedSegments).toBe(0);
      log.setRetentionFloor(2);
      expect(await log.applyRetention(later)).toEqual({
        deletedSegments: 1,
        deletedBytes: 2 * u,
        logStartOffset: 2,
      });
      log.setRetentionFloor(5);
      expect(await log.applyRetention(later)).toEqual({
        deletedSegments: 1,
        deletedBytes: 2 * u,
        logStartOffset: 4,
      });
      log.reconfigure({ ...log.config(), retentionMs: -1, retentionBytes: u });
      expect(await log.applyRetention(later)).toEqual({
        deletedSegments: 1,
        deletedBytes: 2 * u,
        logStartOffset: 6,
      });
      log.setRetentionFloor(null);
      expect(shape(log)).toEqual({ logStartOffset: 6, logEndOffset: 7, sizeBytes: u, segmentCount: 1 });
    });

    it("applies only log-start deletion when the policy is compact only", async () => {
      const u = unit();
      const log = await segmented(7, 2, {
        cleanupPolicy: CleanupPolicy.COMPACT,
        retentionMs: 1000,
        retentionBytes: u,
      });
      const later = h().clock.now() + 1_000_000;
      expect((await log.applyRetention(later)).deletedSegments).toBe(0);
      expect(log.segmentCount()).toBe(4);
      log.reconfigure({ ...log.config(), cleanupPolicy: CleanupPolicy.COMPACT_DELETE });
      expect((await log.applyRetention(later)).deletedSegments).toBe(3);
      expect(log.offsets().logStartOffset).toBe(6);
    });
  });
}
