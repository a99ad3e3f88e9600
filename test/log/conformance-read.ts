/** Conformance: read (boundaries, maxBytes, minOneBatch, maxOffset), timestamps. */
import { describe, expect, it } from "bun:test";
import { ErrorCode } from "../../src/errors.ts";
import { checkBatch, decodeRecords, iterateBatches } from "../../src/log/record-batch.ts";
import type { PartitionLog } from "../../src/log/types.ts";
import { expectCode, type Harness } from "./conformance-helpers.ts";

/** Base offsets of the batches in a read result. */
function bases(bytes: Uint8Array): number[] {
  return [...iterateBatches(bytes)].map((b) => b.header.baseOffset);
}

export function readTests(h: () => Harness): void {
  /** Batches [0-1] [2-4] [5] [6-7], each of the same size within a pair of calls. */
  async function fourBatches(segmentBytes?: number): Promise<PartitionLog> {
    const log = await h().open("events", 0, segmentBytes ? { segmentBytes } : {});
    await log.append(h().batch(["a0", "a1"]));
    await log.append(h().batch(["b2", "b3", "b4"]));
    await log.append(h().batch(["c5"]));
    await log.append(h().batch(["d6", "d7"]));
    return log;
  }

  describe("read", () => {
    it("returns nothing at the log end, and OFFSET_OUT_OF_RANGE outside the log", async () => {
      const empty = await h().open("empty", 0);
      expect(await empty.read(0, 1000)).toEqual({ bytes: new Uint8Array(0), nextOffset: 0, batchCount: 0 });
      await expectCode(() => empty.read(1, 1000), ErrorCode.OFFSET_OUT_OF_RANGE);
      const log = await fourBatches();
      const end = await log.read(8, 1000);
      expect(end.batchCount).toBe(0);
      expect(end.bytes.length).toBe(0);
      expect(end.nextOffset).toBe(8);
      await expectCode(() => log.read(9, 1000), ErrorCode.OFFSET_OUT_OF_RANGE);
      await expectCode(() => log.read(-1, 1000), ErrorCode.OFFSET_OUT_OF_RANGE);
    });

    it("starts with the whole batch containing the offset", async () => {
      const log = await fourBatches();
      for (const [offset, first, next] of [
        [0, 0, 8],
        [1, 0, 8],
        [3, 2, 8],
        [4, 2, 8],
        [5, 5, 8],
        [7, 6, 8],
      ] as const) {
        const r = await log.read(offset, 1 << 20);
        expect(bases(r.bytes)[0]).toBe(first);
        expect(r.nextOffset).toBe(next);
      }
      const r = await log.read(3, 1 << 20);
      expect(r.batchCount).toBe(3);
      expect(decodeRecords(r.bytes, 3).map((x) => x.offset)).toEqual([3, 4, 5, 6, 7]);
      for (const b of iterateBatches(r.bytes)) expect(checkBatch(r.bytes, b.pos).ok).toBe(true);
    });

    it("limits by maxBytes in whole batches, at least one unless minOneBatch is false", async () => {
      const log = await h().open();
      const sample = h().batch(["same-size"]);
      for (let i = 0; i < 5; i++) await log.append(h().batch(["same-size"]));
      const s = sample.length;
      const cases: Array<[number, number]> = [
        [5 * s, 5],
        [2 * s, 2],
        [2 * s + 1, 2],
        [2 * s - 1, 1],
        [1, 1],
        [0, 1],
      ];
      for (const [maxBytes, count] of cases) {
        const r = await log.read(0, maxBytes);
        expect(r.batchCount).toBe(count);
        expect(r.bytes.length).toBe(count * s);
        expect(r.nextOffset).toBe(count);
      }
      const none = await log.read(1, s - 1, { minOneBatch: false });
      expect(none).toEqual({ bytes: new Uint8Array(0), nextOffset: 1, batchCount: 0 });
      const one = await log.read(1, s, { minOneBatch: false });
      expect(one.batchCount).toBe(1);
      expect(one.nextOffset).toBe(2);
    });

    it("reads across segment boundaries", async () => {
      const size = h().batch(["same"]).length;
      const log = await h().open("events", 0, { segmentBytes: 2 * size });
      for (let i = 0; i < 6; i++) await log.append(h().batch(["same"]));
      expect(log.segmentCount()).toBe(3);
      const all = await log.read(1, 1 << 20);
      expect(all.batchCount).toBe(5);
      expect(bases(all.bytes)).toEqual([1, 2, 3, 4, 5]);
      const some = await log.read(1, 3 * size);
      expect(bases(some.bytes)).toEqual([1, 2, 3]);
      expect(some.nextOffset).toBe(4);
    });

    it("stops before the batch that reaches maxOffset", async () => {
      const log = await fourBatches();
      const cases: Array<[number, number, number[], number]> = [
        [0, 8, [0, 2, 5, 6], 8],
        [0, 7, [0, 2, 5], 6],
        [0, 5, [0, 2], 5],
        [0, 3, [0], 2],
        [0, 2, [0], 2],
        [0, 1, [], 0],
        [3, 5, [2], 5],
        [3, 4, [], 3],
        [5, 5, [], 5],
        [6, 2, [], 6],
      ];
      for (const [offset, maxOffset, expected, next] of cases) {
        const r = await log.read(offset, 1 << 20, { maxOffset });
        expect(bases(r.bytes)).toEqual(expected);
        expect(r.batchCount).toBe(expected.length);
        expect(r.nextOffset).toBe(next);
      }
    });

    it("starts at the batch holding the log start after delete-records in the middle of a batch", async () => {
      const log = await fourBatches();
      await log.deleteRecordsBefore(3);
      await expectCode(() => log.read(2, 1000), ErrorCode.OFFSET_OUT_OF_RANGE);
      const r = await log.read(3, 1 << 20, { maxOffset: 5 });
      expect(bases(r.bytes)).toEqual([2]);
      expect(r.nextOffset).toBe(5);
      expect(decodeRecords(r.bytes, 3).map((x) => x.offset)).toEqual([3, 4]);
    });

    it("combines maxOffset and maxBytes", async () => {
      const log = await fourBatches();
      const r = await log.read(0, 1, { maxOffset: 5 });
      expect(bases(r.bytes)).toEqual([0]);
      expect(r.nextOffset).toBe(2);
    });
  });

  describe("timestamps", () => {
    it("offsetForTimestamp finds the lowest offset with a timestamp at or after ts", async () => {
      const size = 200;
      const log = await h().open("events", 0, { segmentBytes: size });
      const t = h().clock.now();
      await log.append(
        h().batch([
          { value: "a", ts: t + 1000 },
          { value: "b", ts: t + 2000 },
        ]),
      );
      await log.append(h().batch([{ value: "c", ts: t + 3000 }]));
      await log.append(
        h().batch([
          { value: "d", ts: t + 2500 },
          { value: "e", ts: t + 4000 },
        ]),
      );
      await log.append(h().batch([{ value: "f", ts: t + 3500 }]));
      const cases: Array<[number, { offset: number; timestamp: number } | null]> = [
        [0, { offset: 0, timestamp: t + 1000 }],
        [t + 1000, { offset: 0, timestamp: t + 1000 }],
        [t + 1001, { offset: 1, timestamp: t + 2000 }],
        [t + 2200, { offset: 2, timestamp: t + 3000 }],
        [t + 3001, { offset: 4, timestamp: t + 4000 }],
        [t + 4000, { offset: 4, timestamp: t + 4000 }],
        [t + 4001, null],
      ];
      for (const [ts, expected] of cases) expect(await log.offsetForTimestamp(ts)).toEqual(expected);
      await log.deleteRecordsBefore(1);
      expect(await log.offsetForTimestamp(0)).toEqual({ offset: 1, timestamp: t + 2000 });
      await log.deleteRecordsBefore(3);
      expect(await log.offsetForTimestamp(t + 1000)).toEqual({ offset: 3, timestamp: t + 2500 });
    });

    it("maxTimestamp finds the largest timestamp and its first offset", async () => {
      const log = await h().open();
      const t = h().clock.now();
      await log.append(
        h().batch([
          { value: "a", ts: t + 10 },
          { value: "b", ts: t + 20 },
        ]),
      );
      expect(await log.maxTimestamp()).toEqual({ offset: 1, timestamp: t + 20 });
      await log.append(
        h().batch([
          { value: "c", ts: t + 50 },
          { value: "d", ts: t + 30 },
          { value: "e", ts: t + 40 },
        ]),
      );
      expect(await log.maxTimestamp()).toEqual({ offset: 2, timestamp: t + 50 });
      await log.append(h().batch([{ value: "f", ts: t + 5 }]));
      expect(await log.maxTimestamp()).toEqual({ offset: 2, timestamp: t + 50 });
      await log.append(
        h().batch([
          { value: "g", ts: t + 1 },
          { value: "h", ts: t + 60 },
        ]),
      );
      expect(await log.maxTimestamp()).toEqual({ offset: 7, timestamp: t + 60 });
    });
  });
}
