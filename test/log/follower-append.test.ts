/**
 * Follower-side log semantics, on both PartitionLog implementations:
 * - a replicated batch (assignOffsets: false) is stored exactly as the leader
 *   stored it: offsets, LogAppendTime timestamps and CRC kept;
 * - a compacted leader's batches skip offsets: the follower accepts any base
 *   offset >= its log end, and reads, indexes and timestamp lookups stay right
 *   (also after a clean or an unclean restart);
 * - truncateFullyAndStartAt restarts the log, empty, at any offset (a follower
 *   whose log ends below the leader's log start), durably.
 * Plus the follower entry point of a Partition: an empty log whose start lies
 * inside the leader's first batch (delete-records) restarts at that batch.
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import { Partition } from "../../src/broker/partition.ts";
import { ErrorCode } from "../../src/errors.ts";
import { buildOffsetMap, compactBatch } from "../../src/log/compaction.ts";
import { createFileLogStore } from "../../src/log/file-store.ts";
import { parseSegmentFileName } from "../../src/log/format.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { checkBatch, encodeBatch, iterateBatches, readBatchHeader } from "../../src/log/record-batch.ts";
import type { LogConfig, LogStore, PartitionLog } from "../../src/log/types.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { expectCode, readTriples, shape, testConfig } from "./conformance-helpers.ts";
import { tempDir } from "./log-test-helpers.ts";

const enc = new TextEncoder();

interface Impl {
  store: LogStore;
  /** Close (clean) or drop (crash: no flush, no marker) the store and open the log again. */
  reopen(log: PartitionLog, unclean: boolean): Promise<PartitionLog>;
  /** Base offsets of the segment files (file store only). */
  segmentBases?(topic: string, partition: number): number[];
  cleanup(): void;
}

const impls: Array<[string, (clock: ManualClock) => Impl]> = [
  [
    "file",
    (clock) => {
      const dataDir = tempDir();
      const make = () =>
        createFileLogStore({ dataDir, clock, logger: silentLogger, checkpointIntervalMs: 1e9 });
      const impl: Impl = {
        store: make(),
        async reopen(log, unclean) {
          const cfg = log.config();
          if (unclean) (impl.store as ReturnType<typeof make>).abandon();
          else await impl.store.close();
          impl.store = make();
          return impl.store.open(log.topic, log.partition, cfg);
        },
        segmentBases(topic, partition) {
          return fs
            .readdirSync(`${dataDir}/${topic}-${partition}`)
            .map((n) => parseSegmentFileName(n))
            .filter((b): b is number => b !== null)
            .sort((a, b) => a - b);
        },
        cleanup: () => fs.rmSync(dataDir, { recursive: true, force: true }),
      };
      return impl;
    },
  ],
  [
    "memory",
    (clock) => {
      const impl: Impl = {
        store: createMemoryLogStore({ clock }),
        async reopen(log) {
          const cfg = log.config();
          await log.close();
          return impl.store.open(log.topic, log.partition, cfg);
        },
        cleanup: () => {},
      };
      return impl;
    },
  ],
];

/** Every stored batch from the log start, as raw bytes. */
async function rawBatches(log: PartitionLog): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  let offset = log.offsets().logStartOffset;
  while (offset < log.offsets().logEndOffset) {
    const r = await log.read(offset, 1 << 20);
    if (r.batchCount === 0) break;
    for (const { pos, size } of iterateBatches(r.bytes)) out.push(r.bytes.slice(pos, pos + size));
    offset = r.nextOffset;
  }
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** A batch of keyed records (values padded to `pad` bytes) at `baseOffset`. */
function keyed(baseOffset: number, keys: string[], ts: number, pad = 0): Uint8Array {
  return encodeBatch(
    keys.map((k, i) => ({
      key: enc.encode(k),
      value: enc.encode(`${k}${i}${"x".repeat(pad)}`),
      timestamp: ts,
    })),
    { baseOffset, now: ts, partitionLeaderEpoch: 2 },
  );
}

for (const [name, make] of impls) {
  describe(`follower appends: ${name}`, () => {
    let impl: Impl | null = null;
    const clock = new ManualClock();
    const open = (cfg: Partial<LogConfig> = {}): Promise<PartitionLog> => {
      impl = make(clock);
      return impl.store.open("f", 0, testConfig(cfg));
    };
    afterEach(async () => {
      await impl?.store.close();
      impl?.cleanup();
      impl = null;
    });

    it("keeps a replicated LogAppendTime batch byte for byte (offsets, timestamp, CRC)", async () => {
      const leaderStore = createMemoryLogStore({ clock });
      const leader = await leaderStore.open("f", 0, testConfig({ timestampType: "LogAppendTime" }));
      const stampedAt = clock.now();
      await leader.append(keyed(0, ["a", "b"], 5), { leaderEpoch: 3 });
      const leaderBytes = (await rawBatches(leader))[0]!;
      expect(readBatchHeader(leaderBytes).maxTimestamp).toBe(stampedAt);

      clock.advance(60_000);
      const log = await open({ timestampType: "LogAppendTime" });
      const info = await log.append(leaderBytes, { assignOffsets: false });
      expect(info.maxTimestamp).toBe(stampedAt);
      expect(info.logAppendTime).toBe(stampedAt);
      // A CreateTime batch of the leader stays CreateTime, whatever the follower's config says (for now).
      const createTime = keyed(2, ["c"], 7);
      const info2 = await log.append(createTime, { assignOffsets: false });
      expect([info2.maxTimestamp, info2.logAppendTime]).toEqual([7, -1]);

      const expected = [hex(leaderBytes), hex(createTime)];
      expect((await rawBatches(log)).map(hex)).toEqual(expected);
      for (const b of await rawBatches(log)) expect(checkBatch(b).ok).toBe(true);
      expect(await log.offsetForTimestamp(stampedAt)).toEqual({ offset: 0, timestamp: stampedAt });
      expect(await log.maxTimestamp()).toEqual({ offset: 0, timestamp: stampedAt });

      const again = await impl!.reopen(log, false);
      expect((await rawBatches(again)).map(hex)).toEqual(expected);
      // A leader-style append on the same log still stamps the broker's clock.
      const own = await again.append(keyed(0, ["d"], 1));
      expect([own.baseOffset, own.logAppendTime]).toEqual([3, clock.now()]);
      await leaderStore.close();
    });

    it("accepts offset gaps (a compacted leader), with reads, indexes and lookups right", async () => {
      // Small segments: most batches roll a segment, which must start at the batch's own base offset.
      const log = await open({ cleanupPolicy: "compact", segmentBytes: 300, indexIntervalBytes: 1 });
      const full = keyed(0, ["a", "b", "a"], 1000);
      const compacted = compactBatch(full, buildOffsetMap([full]), { now: 1000, deleteRetentionMs: 0 })!;
      // offsets 1 and 2 kept, 0 compacted away: the batch still spans 0..2
      const batches = [
        compacted,
        keyed(10, ["c", "d"], 2000, 120),
        keyed(30, ["e"], 3000, 120),
        keyed(31, ["f"], 3000),
        keyed(50, ["g", "h", "i"], 4000, 120),
      ];
      const ends = [3, 12, 31, 32, 53];
      for (const [i, b] of batches.entries()) {
        const info = await log.append(b, { assignOffsets: false });
        expect(info.baseOffset).toBe(readBatchHeader(b).baseOffset);
        expect(log.offsets().logEndOffset).toBe(ends[i]!);
      }
      // Below the log end: refused, nothing changes.
      const before = shape(log);
      for (const base of [52, 40, 0]) {
        await expectCode(
          () => log.append(keyed(base, ["x"], 5000), { assignOffsets: false }),
          ErrorCode.INVALID_REQUEST,
        );
        expect(shape(log)).toEqual(before);
      }
      const triples: Array<[number, string, string]> = [
        [1, "b", "b1"],
        [2, "a", "a2"],
        [10, "c", `c0${"x".repeat(120)}`],
        [11, "d", `d1${"x".repeat(120)}`],
        [30, "e", `e0${"x".repeat(120)}`],
        [31, "f", "f0"],
        [50, "g", `g0${"x".repeat(120)}`],
        [51, "h", `h1${"x".repeat(120)}`],
        [52, "i", `i2${"x".repeat(120)}`],
      ];
      const check = async (l: PartitionLog): Promise<void> => {
        expect(await readTriples(l)).toEqual(triples);
        // An offset inside a gap reads from the next batch; the batches are the leader's bytes.
        for (const [at, base] of [
          [0, 0],
          [5, 10],
          [12, 30],
          [32, 50],
          [45, 50],
        ] as const) {
          const r = await l.read(at, 1);
          expect(readBatchHeader(r.bytes).baseOffset).toBe(base);
        }
        expect((await rawBatches(l)).map(hex)).toEqual(batches.map(hex));
        expect(await l.read(53, 1 << 20)).toMatchObject({ batchCount: 0, nextOffset: 53 });
        expect(await l.offsetForTimestamp(1500)).toEqual({ offset: 10, timestamp: 2000 });
        expect(await l.offsetForTimestamp(3500)).toEqual({ offset: 50, timestamp: 4000 });
        expect(await l.maxTimestamp()).toEqual({ offset: 50, timestamp: 4000 });
        expect(l.offsets()).toMatchObject({ logStartOffset: 0, logEndOffset: 53 });
      };
      await check(log);
      if (impl!.segmentBases) expect(impl!.segmentBases("f", 0)).toEqual([0, 10, 30, 50]);
      let again = await impl!.reopen(log, false);
      await check(again);
      // Truncating into a gap keeps what is below it; the leader's next batch fits again
      // (now with a gap inside the active segment, which starts at 40).
      await again.truncateTo(40);
      expect(again.offsets().logEndOffset).toBe(40);
      expect((await readTriples(again)).map((t) => t[0])).toEqual([1, 2, 10, 11, 30, 31]);
      await again.append(batches[4]!, { assignOffsets: false });
      await check(again);
      // A crash: the active segment is verified again on open and must survive with its gap.
      if (name === "file") {
        again = await impl!.reopen(again, true);
        expect(impl!.segmentBases!("f", 0)).toEqual([0, 10, 30, 40]);
        await check(again);
      }
      // As a leader after a failover, the log assigns the next offset after the gap.
      const own = await again.append(keyed(0, ["z"], 5000));
      expect(own.baseOffset).toBe(53);
      expect((await readTriples(again)).map((t) => t[0])).toEqual([...triples.map((t) => t[0]), 53]);
    });

    it("truncateFullyAndStartAt restarts the log empty at any offset, durably", async () => {
      const log = await open({ segmentBytes: 200 });
      for (let i = 0; i < 4; i++) await log.append(keyed(0, ["a", "b"], 1000, 100));
      expect(log.segmentCount()).toBeGreaterThan(1);
      await log.truncateFullyAndStartAt(100);
      const empty = { logStartOffset: 100, logEndOffset: 100, flushedOffset: 100 };
      expect(log.offsets()).toEqual(empty);
      expect([log.segmentCount(), log.sizeBytes()]).toEqual([1, 0]);
      expect(await log.read(100, 1 << 20)).toMatchObject({ batchCount: 0, nextOffset: 100 });
      await expectCode(() => log.read(8, 1 << 20), ErrorCode.OFFSET_OUT_OF_RANGE);
      expect(await log.offsetForTimestamp(0)).toBeNull();
      expect(await log.maxTimestamp()).toBeNull();
      await log.waitDurable(100);
      if (impl!.segmentBases) expect(impl!.segmentBases("f", 0)).toEqual([100]);

      // Unclean restart right after the reset: still empty at 100.
      let again = name === "file" ? await impl!.reopen(log, true) : log;
      expect(again.offsets()).toEqual(empty);
      // The leader's batches follow at 100 (or after a gap), leader-style appends after them.
      await again.append(keyed(100, ["c"], 2000), { assignOffsets: false });
      await again.append(keyed(105, ["d", "e"], 2000), { assignOffsets: false });
      expect((await again.append(keyed(0, ["f"], 2000))).baseOffset).toBe(107);
      again = await impl!.reopen(again, false);
      expect(again.offsets()).toMatchObject({ logStartOffset: 100, logEndOffset: 108 });
      expect((await readTriples(again)).map((t) => t[0])).toEqual([100, 105, 106, 107]);

      // Backwards too (below the log start): the log is empty at the new offset.
      await again.truncateFullyAndStartAt(40);
      expect(again.offsets()).toEqual({ logStartOffset: 40, logEndOffset: 40, flushedOffset: 40 });
      again = await impl!.reopen(again, false);
      expect(again.offsets()).toEqual({ logStartOffset: 40, logEndOffset: 40, flushedOffset: 40 });
      for (const bad of [-1, 1.5, Number.NaN]) {
        await expectCode(() => again.truncateFullyAndStartAt(bad), ErrorCode.INVALID_REQUEST);
      }
      expect(again.offsets().logEndOffset).toBe(40);
    });
  });
}

describe("follower entry point of a partition", () => {
  it("restarts an empty log at the leader's first batch when its start lies inside it", async () => {
    const store = createMemoryLogStore({ clock: new ManualClock() });
    const log = await store.open("f", 0, testConfig());
    const p = new Partition({ log, logger: silentLogger, onAdvance: () => {} });
    p.replicationLimit = 0;
    // The leader deleted records before 5, inside its batch 0..9: the follower restarts at 5.
    await p.truncateFullyAndStartAt(5);
    expect(p.state()).toMatchObject({ logStartOffset: 5, logEndOffset: 5, highWatermark: 5 });
    const batch = keyed(0, ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], 1000);
    const info = await p.appendReplicated(batch);
    expect([info.baseOffset, info.lastOffset]).toEqual([0, 9]);
    expect(p.state()).toMatchObject({ logStartOffset: 5, logEndOffset: 10 });
    expect(log.offsets()).toMatchObject({ logStartOffset: 5, logEndOffset: 10 });
    expect(hex((await log.read(5, 1 << 20)).bytes)).toBe(hex(batch));
    // Otherwise a batch below the log end is refused.
    await expectCode(() => p.appendReplicated(keyed(8, ["x", "y", "z"], 1000)), ErrorCode.INVALID_REQUEST);
    // A gap is fine.
    await p.appendReplicated(keyed(20, ["k"], 1000));
    expect(p.state().logEndOffset).toBe(21);
    await p.close();
    await store.close();
  });
});
