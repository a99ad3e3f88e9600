/**
 * A follower's multi-batch append (PartitionLog.appendReplicated and
 * Partition.appendReplicatedBatches), on both logs: a run of the leader's
 * batches is stored byte for byte and laid out exactly as one-by-one
 * appends would (gaps, leader-epoch changes, LogAppendTime, segment rolls,
 * indexes), and a refused batch in the middle leaves only the valid prefix
 * appended, with its error reported.
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import { Partition } from "../../src/broker/partition.ts";
import { type EddyError, ErrorCode } from "../../src/errors.ts";
import { createFileLogStore } from "../../src/log/file-store.ts";
import { parseSegmentFileName } from "../../src/log/format.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { encodeBatch, iterateBatches, readBatchHeader } from "../../src/log/record-batch.ts";
import type { LogConfig, LogStore, PartitionLog } from "../../src/log/types.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { expectCode, readTriples, shape, testConfig } from "./conformance-helpers.ts";
import { tempDir } from "./log-test-helpers.ts";

const enc = new TextEncoder();
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

interface Impl {
  store: LogStore;
  reopen(log: PartitionLog, unclean: boolean): Promise<PartitionLog>;
  segmentBases(topic: string, partition: number): number[];
  cleanup(): void;
}

function fileImpl(clock: ManualClock): Impl {
  const dataDir = tempDir();
  const make = () => createFileLogStore({ dataDir, clock, logger: silentLogger, checkpointIntervalMs: 1e9 });
  const impl: Impl = {
    store: make(),
    async reopen(log, unclean) {
      const cfg = log.config();
      if (unclean) (impl.store as ReturnType<typeof make>).abandon();
      else await impl.store.close();
      impl.store = make();
      return impl.store.open(log.topic, log.partition, cfg);
    },
    segmentBases: (topic, partition) =>
      fs
        .readdirSync(`${dataDir}/${topic}-${partition}`)
        .map((n) => parseSegmentFileName(n))
        .filter((b): b is number => b !== null)
        .sort((a, b) => a - b),
    cleanup: () => fs.rmSync(dataDir, { recursive: true, force: true }),
  };
  return impl;
}

function memoryImpl(clock: ManualClock): Impl {
  const impl: Impl = {
    store: createMemoryLogStore({ clock }),
    async reopen(log) {
      const cfg = log.config();
      await log.close();
      return impl.store.open(log.topic, log.partition, cfg);
    },
    segmentBases: () => [],
    cleanup: () => {},
  };
  return impl;
}

/** A batch of keyed records at `baseOffset` (values padded to `pad` bytes), stamped with a leader epoch. */
function batch(baseOffset: number, keys: string[], opts: { ts?: number; epoch?: number; pad?: number } = {}) {
  const ts = opts.ts ?? 1000;
  return encodeBatch(
    keys.map((k, i) => ({
      key: enc.encode(k),
      value: enc.encode(`${k}${i}${"x".repeat(opts.pad ?? 0)}`),
      timestamp: ts,
    })),
    { baseOffset, now: ts, partitionLeaderEpoch: opts.epoch ?? 1 },
  );
}

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

/** The leader's run: offset gaps (compaction), an epoch change mid-run, a LogAppendTime batch, a big batch. */
function leaderRun(): Uint8Array[] {
  const lat = encodeBatch([{ key: enc.encode("t"), value: enc.encode("t0"), timestamp: 5 }], {
    baseOffset: 9,
    now: 4242,
    partitionLeaderEpoch: 1,
    logAppendTime: true,
  });
  return [
    batch(0, ["a", "b", "c"], { pad: 40 }),
    batch(3, ["d"]),
    batch(7, ["e", "f"], { pad: 100 }),
    lat,
    batch(20, ["g", "h"], { epoch: 2, pad: 200 }),
    batch(22, ["i"], { epoch: 2 }),
    batch(40, ["j", "k", "l"], { epoch: 4, ts: 2000, pad: 60 }),
    batch(43, ["m"], { epoch: 4, ts: 2000, pad: 500 }),
  ];
}

function corrupt(b: Uint8Array): Uint8Array {
  const c = b.slice();
  c[c.length - 1] = c[c.length - 1]! ^ 0xff;
  return c;
}

for (const [name, make] of [
  ["file", fileImpl],
  ["memory", memoryImpl],
] as const) {
  describe(`replicated runs: ${name}`, () => {
    const impls: Impl[] = [];
    const clock = new ManualClock();
    const open = (cfg: Partial<LogConfig> = {}, topic = "r"): Promise<PartitionLog> => {
      const impl = make(clock);
      impls.push(impl);
      return impl.store.open(topic, 0, testConfig(cfg));
    };
    afterEach(async () => {
      for (const impl of impls.splice(0)) {
        await impl.store.close();
        impl.cleanup();
      }
    });

    it("stores a run exactly as one-by-one appends do (bytes, gaps, epochs, rolls, indexes)", async () => {
      const cfg = { cleanupPolicy: "compact" as const, segmentBytes: 700, indexIntervalBytes: 1 };
      const run = leaderRun();
      const one = await open(cfg);
      for (const b of run) await one.append(b, { assignOffsets: false });
      const log = await open(cfg);
      expect(log.appendReplicated).toBeDefined();
      const r = await log.appendReplicated!(run);
      expect(r.error).toBeNull();
      expect(r.count).toBe(run.length);
      expect(r.size).toBe(run.reduce((n, b) => n + b.length, 0));
      expect(shape(log)).toEqual(shape(one));
      expect(log.offsets().logEndOffset).toBe(44);
      expect((await rawBatches(log)).map(hex)).toEqual(run.map(hex));
      expect((await rawBatches(log)).map((b) => readBatchHeader(b).partitionLeaderEpoch)).toEqual([
        1, 1, 1, 1, 2, 2, 4, 4,
      ]);
      expect(impls[1]!.segmentBases("r", 0)).toEqual(impls[0]!.segmentBases("r", 0));
      if (name === "file") expect(impls[1]!.segmentBases("r", 0).length).toBeGreaterThan(2);
      const triples = await readTriples(one);
      expect(await readTriples(log)).toEqual(triples);
      // Reads inside gaps and lookups by time go through the indexes.
      for (const at of [4, 10, 23, 41]) {
        expect(hex((await log.read(at, 1)).bytes)).toBe(hex((await one.read(at, 1)).bytes));
      }
      expect(await log.offsetForTimestamp(2000)).toEqual(await one.offsetForTimestamp(2000));
      expect(await log.maxTimestamp()).toEqual({ offset: 9, timestamp: 4242 });
      // A second run continues after the first; the data survives clean and unclean restarts.
      const r2 = await log.appendReplicated!([
        batch(44, ["n"], { epoch: 5 }),
        batch(60, ["o"], { epoch: 5 }),
      ]);
      expect([r2.count, r2.error, log.offsets().logEndOffset]).toEqual([2, null, 61]);
      const all = (await rawBatches(log)).map(hex);
      let again = await impls[1]!.reopen(log, false);
      expect((await rawBatches(again)).map(hex)).toEqual(all);
      if (name === "file") {
        again = await impls[1]!.reopen(again, true);
        expect((await rawBatches(again)).map(hex)).toEqual(all);
        expect(again.offsets().logEndOffset).toBe(61);
      }
    });

    it("a corrupt batch mid-run: only the valid prefix is appended and the error is reported", async () => {
      const run = leaderRun();
      const log = await open({ cleanupPolicy: "compact", segmentBytes: 700 });
      const bad = [...run.slice(0, 5), corrupt(run[5]!), ...run.slice(6)];
      const r = await log.appendReplicated!(bad);
      expect(r.count).toBe(5);
      expect(r.size).toBe(run.slice(0, 5).reduce((n, b) => n + b.length, 0));
      expect((r.error as EddyError).code).toBe(ErrorCode.CORRUPT_RECORD);
      expect(log.offsets().logEndOffset).toBe(22);
      expect((await rawBatches(log)).map(hex)).toEqual(run.slice(0, 5).map(hex));
      // The rest follows in a later run; a batch below the log end is refused there too.
      const r2 = await log.appendReplicated!([run[5]!, batch(20, ["z"]), run[6]!]);
      expect(r2.count).toBe(1);
      expect((r2.error as EddyError).code).toBe(ErrorCode.INVALID_REQUEST);
      expect(log.offsets().logEndOffset).toBe(23);
      // A refused first batch writes nothing; an empty run is a no-op.
      const before = shape(log);
      const r3 = await log.appendReplicated!([corrupt(run[6]!), run[6]!]);
      expect([r3.count, r3.size, (r3.error as EddyError).code]).toEqual([0, 0, ErrorCode.CORRUPT_RECORD]);
      expect(await log.appendReplicated!([])).toEqual({ count: 0, size: 0, error: null });
      expect(shape(log)).toEqual(before);
      const again = await impls[0]!.reopen(log, name === "file");
      expect((await rawBatches(again)).map(hex)).toEqual(run.slice(0, 6).map(hex));
    });

    it("a partition appends a run in one step and accounts for the prefix before a refused batch", async () => {
      const log = await open({ cleanupPolicy: "compact" });
      const advances: number[] = [];
      const p = new Partition({
        log,
        logger: silentLogger,
        onAdvance: (q) => advances.push(q.tracker.highWatermark),
      });
      p.replicationLimit = 1000;
      const run = leaderRun();
      const seen: number[] = [];
      const res = await p.appendReplicatedBatches(run.slice(0, 4), { onAppended: (n) => seen.push(n) });
      expect(res.count).toBe(4);
      expect(seen).toEqual([4]);
      expect(p.state()).toMatchObject({ logEndOffset: 10, highWatermark: 10 });
      expect(advances).toEqual([10]);
      const bad = [run[4]!, run[5]!, corrupt(run[6]!), run[7]!];
      await expectCode(
        () => p.appendReplicatedBatches(bad, { onAppended: (n) => seen.push(n) }),
        ErrorCode.CORRUPT_RECORD,
      );
      expect(seen).toEqual([4, 2]);
      expect(p.state()).toMatchObject({ logEndOffset: 23, highWatermark: 23 });
      expect(p.bytesSinceSnapshot).toBe(run.slice(0, 6).reduce((n, b) => n + b.length, 0));
      expect(await p.appendReplicatedBatches([])).toEqual({ count: 0, size: 0 });
      await p.close();
    });

    it("a partition whose empty log starts inside the first batch restarts at that batch", async () => {
      const log = await open();
      const p = new Partition({ log, logger: silentLogger, onAdvance: () => {} });
      p.replicationLimit = 0;
      await p.truncateFullyAndStartAt(2);
      const run = [batch(0, ["a", "b", "c", "d"]), batch(4, ["e"]), batch(9, ["f"])];
      const res = await p.appendReplicatedBatches(run);
      expect(res.count).toBe(3);
      expect(log.offsets()).toMatchObject({ logStartOffset: 2, logEndOffset: 10 });
      expect(p.state()).toMatchObject({ logStartOffset: 2, logEndOffset: 10 });
      expect((await readTriples(log)).map((t) => t[0])).toEqual([2, 3, 4, 9]);
      await p.close();
    });
  });
}

describe("replicated runs: file log, disk full", () => {
  it("keeps the runs written before a failed write, drops the rolled segment, and goes on later", async () => {
    const dataDir = tempDir();
    const clock = new ManualClock();
    let writesLeft = Number.POSITIVE_INFINITY;
    const store = createFileLogStore({
      dataDir,
      clock,
      logger: silentLogger,
      checkpointIntervalMs: 1e9,
      io: {
        write: (fd, buf, off, len, pos) => {
          if (writesLeft-- <= 0) {
            fs.writeSync(fd, buf, off, Math.min(len, 7), pos); // a partial write, then ENOSPC
            throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
          }
          return fs.writeSync(fd, buf, off, len, pos);
        },
      },
    });
    try {
      const run = [0, 1, 2, 3, 4, 5].map((i) => batch(i * 2, ["a", "b"], { pad: 100 }));
      const one = run[0]!.length;
      const log = await store.open("full", 0, testConfig({ segmentBytes: 3 * one }));
      const files = () => fs.readdirSync(`${dataDir}/full-0`).filter((n) => n.endsWith(".log"));
      // Three batches fill the first segment (one write); the roll's write fails.
      writesLeft = 1;
      const r = await log.appendReplicated!(run);
      writesLeft = Number.POSITIVE_INFINITY;
      expect([r.count, r.size, (r.error as EddyError).code]).toEqual([3, 3 * one, ErrorCode.STORAGE_FULL]);
      expect([log.offsets().logEndOffset, log.sizeBytes(), log.segmentCount()]).toEqual([6, 3 * one, 1]);
      expect(files().length).toBe(1);
      const r2 = await log.appendReplicated!(run.slice(3));
      expect([r2.count, r2.error]).toEqual([3, null]);
      expect(log.segmentCount()).toBe(2);
      expect((await rawBatches(log)).map(hex)).toEqual(run.map(hex));
    } finally {
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
