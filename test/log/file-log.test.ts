/** File log specifics: files on disk, indexes on big logs, persistence, a full disk, group commit. */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import { EddyError, ErrorCode } from "../../src/errors.ts";
import {
  parsePartitionDirName,
  parseSegmentFileName,
  partitionDirName,
  segmentFileName,
} from "../../src/log/format.ts";
import { decodeRecords } from "../../src/log/record-batch.ts";
import { Durability, type PartitionLog } from "../../src/log/types.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { batchOf, config, dump, makeStore, segmentFiles, tempDir } from "./log-test-helpers.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function dataDir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

describe("format", () => {
  it("names and parses partition directories and segment files", () => {
    expect(partitionDirName("sensor-data.v1", 12)).toBe("sensor-data.v1-12");
    expect(parsePartitionDirName("sensor-data.v1-12")).toEqual({ topic: "sensor-data.v1", partition: 12 });
    expect(parsePartitionDirName("a-b-0")).toEqual({ topic: "a-b", partition: 0 });
    for (const bad of ["noparts", "-3", "topic-", "topic-x1", "topic-1.5"])
      expect(parsePartitionDirName(bad)).toBeNull();
    expect(segmentFileName(42)).toBe("00000000000000000042.log");
    expect(segmentFileName(42, ".index")).toBe("00000000000000000042.index");
    expect(parseSegmentFileName("00000000000000000042.log")).toBe(42);
    expect(parseSegmentFileName("42.log")).toBeNull();
    expect(parseSegmentFileName("00000000000000000042.index")).toBeNull();
  });
});

describe("file log", () => {
  it("writes Kafka-style segment files and rolls by size and by age", async () => {
    const dir = dataDir();
    const clock = new ManualClock();
    const store = makeStore(dir, clock);
    const one = batchOf(0, 1, clock.now()).length;
    const log = await store.open("t", 0, config({ segmentBytes: 3 * one, segmentMs: 10_000 }));
    for (let i = 0; i < 4; i++) await log.append(batchOf(i, 1, clock.now()));
    expect(log.segmentCount()).toBe(2);
    clock.advance(10_001);
    await log.append(batchOf(4, 1, clock.now()));
    expect(log.segmentCount()).toBe(3);
    await store.close();
    const pdir = `${dir}/t-0`;
    expect(segmentFiles(pdir)).toEqual([segmentFileName(0), segmentFileName(3), segmentFileName(4)]);
    expect(segmentFiles(pdir, ".timeindex").length).toBe(3);
    expect(fs.existsSync(`${pdir}/clean-shutdown`)).toBe(true);
    expect(fs.readFileSync(`${pdir}/checkpoint`, "utf8")).toBe("1 0 5\n");
    expect(fs.statSync(`${pdir}/${segmentFileName(0)}`).size).toBe(3 * one);
  });

  it("finds every offset through the sparse index of a big log, before and after reopening", async () => {
    const dir = dataDir();
    const clock = new ManualClock();
    let store = makeStore(dir, clock);
    const cfg = config({ segmentBytes: 64 * 1024, indexIntervalBytes: 512 });
    let log: PartitionLog = await store.open("big", 0, cfg);
    let offset = 0;
    for (let i = 0; i < 1500; i++) {
      const n = 1 + (i % 4);
      await log.append(batchOf(offset, n, clock.now() + i, i % 50));
      offset += n;
    }
    expect(log.segmentCount()).toBeGreaterThan(3);
    const check = async (l: PartitionLog) => {
      for (let o = 0; o < offset; o += 37) {
        const r = await l.read(o, 1);
        const recs = decodeRecords(r.bytes);
        expect(recs[0]!.offset).toBeLessThanOrEqual(o);
        expect(recs[recs.length - 1]!.offset).toBeGreaterThanOrEqual(o);
        expect(recs.find((x) => x.offset === o)?.value).toBeDefined();
      }
    };
    await check(log);
    await store.close();
    store = makeStore(dir, clock);
    log = await store.open("big", 0, cfg);
    expect(log.offsets().logEndOffset).toBe(offset);
    await check(log);
    await store.close();
    // lose one index, damage another: both are rebuilt on open
    const pdir = `${dir}/big-0`;
    const indexes = segmentFiles(pdir, ".index");
    fs.rmSync(`${pdir}/${indexes[0]}`);
    fs.writeFileSync(`${pdir}/${indexes[1]}`, Buffer.alloc(40, 0xff));
    fs.rmSync(`${pdir}/${segmentFiles(pdir, ".timeindex")[1]}`);
    store = makeStore(dir, clock);
    log = await store.open("big", 0, cfg);
    await check(log);
    expect(fs.statSync(`${pdir}/${indexes[0]}`).size).toBeGreaterThan(0);
    await store.close();
  });

  it("finds offsets by timestamp across segments like a linear scan", async () => {
    const dir = dataDir();
    const clock = new ManualClock();
    let store = makeStore(dir, clock);
    const cfg = config({ segmentBytes: 8 * 1024, indexIntervalBytes: 256 });
    let log: PartitionLog = await store.open("ts", 0, cfg);
    const t0 = clock.now();
    const stamps: number[] = [];
    let seed = 7;
    for (let i = 0; i < 400; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const ts = t0 + i * 10 + (seed % 50) - 25; // mostly increasing, with jitter
      stamps.push(ts);
      await log.append(batchOf(i, 1, ts));
    }
    const expected = (ts: number) => {
      const i = stamps.findIndex((s) => s >= ts);
      return i < 0 ? null : { offset: i, timestamp: stamps[i]! };
    };
    const probe = async (l: PartitionLog) => {
      for (let ts = t0 - 100; ts < t0 + 4100; ts += 97)
        expect(await l.offsetForTimestamp(ts)).toEqual(expected(ts));
      const max = Math.max(...stamps);
      expect(await l.maxTimestamp()).toEqual({ offset: stamps.indexOf(max), timestamp: max });
    };
    await probe(log);
    await store.close();
    store = makeStore(dir, clock);
    log = await store.open("ts", 0, cfg);
    await probe(log);
    await store.close();
  });

  it("keeps the log start from delete-records and retention across clean and unclean restarts", async () => {
    const dir = dataDir();
    const clock = new ManualClock();
    let store = makeStore(dir, clock);
    const one = batchOf(0, 1, clock.now()).length;
    const cfg = config({ segmentBytes: 2 * one, retentionMs: 1000 });
    let log = await store.open("r", 0, cfg);
    for (let i = 0; i < 10; i++) await log.append(batchOf(i, 1, clock.now()));
    await log.deleteRecordsBefore(3);
    await store.close();
    store = makeStore(dir, clock);
    log = await store.open("r", 0, cfg);
    expect(log.offsets().logStartOffset).toBe(3);
    expect((await dump(log))[0]).toEqual([3, "v3"]);
    await log.deleteRecordsBefore(5);
    store.abandon();
    store = makeStore(dir, clock);
    log = await store.open("r", 0, cfg);
    expect(log.offsets()).toMatchObject({ logStartOffset: 5, logEndOffset: 10 });
    const res = await log.applyRetention(clock.now() + 5000);
    expect(res.logStartOffset).toBe(8);
    store.abandon();
    store = makeStore(dir, clock);
    log = await store.open("r", 0, cfg);
    expect(log.offsets()).toMatchObject({ logStartOffset: 8, logEndOffset: 10 });
    expect(await dump(log)).toEqual([
      [8, "v8"],
      [9, "v9"],
    ]);
    await store.close();
  });

  it("leaves the log unchanged when the disk is full, and goes on once space is back", async () => {
    const dir = dataDir();
    const clock = new ManualClock();
    let full = false;
    const store = makeStore(dir, clock, {
      io: {
        write: (fd, buf, off, len, pos) => {
          if (full) {
            // a partial write, then ENOSPC, as a real full disk does
            fs.writeSync(fd, buf, off, Math.min(len, 7), pos);
            throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
          }
          return fs.writeSync(fd, buf, off, len, pos);
        },
      },
    });
    const one = batchOf(0, 1, clock.now()).length;
    const log = await store.open("full", 0, config({ segmentBytes: 3 * one }));
    const shape = () => [log.offsets().logEndOffset, log.sizeBytes(), log.segmentCount()];
    const fileSize = () => fs.statSync(`${dir}/full-0/${segmentFileName(0)}`).size;
    const appendFull = async (i: number) => {
      const before = shape();
      full = true;
      let err: unknown;
      try {
        await log.append(batchOf(i, 1, clock.now()));
      } catch (e) {
        err = e;
      }
      full = false;
      expect(err).toBeInstanceOf(EddyError);
      expect((err as EddyError).code).toBe(ErrorCode.STORAGE_FULL);
      expect(shape()).toEqual(before);
    };
    await log.append(batchOf(0, 1, clock.now()));
    await log.append(batchOf(1, 1, clock.now()));
    await appendFull(2);
    expect(fileSize()).toBe(2 * one);
    expect((await log.append(batchOf(2, 1, clock.now()))).baseOffset).toBe(2);
    // the segment is full: the roll's first write fails, and the new segment is dropped again
    await appendFull(3);
    expect(segmentFiles(`${dir}/full-0`)).toEqual([segmentFileName(0)]);
    expect((await log.append(batchOf(3, 1, clock.now()))).baseOffset).toBe(3);
    expect(log.segmentCount()).toBe(2);
    expect((await dump(log)).map(([o, v]) => `${o}:${v}`)).toEqual(["0:v0", "1:v1", "2:v2", "3:v3"]);
    await store.close();
  });

  it("rejects waiters when fdatasync fails and acknowledges once it works again", async () => {
    const dir = dataDir();
    let failing = true;
    const store = makeStore(dir, new ManualClock(), {
      io: {
        fdatasync: (fd) =>
          failing
            ? Promise.reject(Object.assign(new Error("EIO"), { code: "EIO" }))
            : new Promise<void>((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res()))),
      },
    });
    const log = await store.open("io", 0, config({ durability: Durability.FSYNC }));
    const info = await log.append(batchOf(0, 2, 1));
    let err: unknown;
    await log.waitDurable(info.lastOffset + 1).catch((e) => {
      err = e;
    });
    expect((err as EddyError).code).toBe(ErrorCode.STORAGE_ERROR);
    expect(log.offsets().flushedOffset).toBe(0);
    failing = false;
    await log.waitDurable(info.lastOffset + 1);
    expect(log.offsets().flushedOffset).toBe(2);
    await store.close();
  });

  it("shares fdatasyncs between concurrent fsync-policy appends (group commit)", async () => {
    const dir = dataDir();
    let syncs = 0;
    const fsyncs: Array<[number, number]> = [];
    const store = makeStore(dir, new ManualClock(), {
      io: {
        fdatasync: (fd) => {
          syncs++;
          return new Promise<void>((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res())));
        },
      },
      observer: { onFsync: (ms, bytes) => fsyncs.push([ms, bytes]) },
    });
    const logs = await Promise.all(
      [0, 1, 2, 3].map((p) => store.open("gc", p, config({ durability: Durability.FSYNC }))),
    );
    const acks: Array<Promise<void>> = [];
    let bytes = 0;
    for (let i = 0; i < 200; i++) {
      const log = logs[i % 4]!;
      const info = await log.append(batchOf(i, 1, 1, 1000));
      bytes += info.size;
      acks.push(log.waitDurable(info.lastOffset + 1));
    }
    await Promise.all(acks);
    for (const log of logs) expect(log.offsets().flushedOffset).toBe(50);
    expect(syncs).toBeGreaterThan(0);
    expect(syncs).toBeLessThan(50);
    expect(fsyncs.reduce((n, [, b]) => n + b, 0)).toBe(bytes);
    await store.close();
  });

  it("returns the same log for a partition opened twice and rejects bad names", async () => {
    const store = makeStore(dataDir());
    const a = await store.open("same", 0, config());
    expect(await store.open("same", 0, config())).toBe(a);
    for (const [topic, partition] of [
      ["a/b", 0],
      ["..", 0],
      ["", 0],
      ["ok", -1],
    ] as const) {
      let code: unknown;
      await store.open(topic, partition, config()).catch((e) => {
        code = (e as EddyError).code;
      });
      expect(code === ErrorCode.INVALID_TOPIC || code === ErrorCode.INVALID_PARTITIONS).toBe(true);
    }
    await store.close();
  });
});
