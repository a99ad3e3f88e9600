/**
 * Crash tests: abandon the store without closing it (or SIGKILL a process
 * writing to it) and reopen the same directory; then again with a torn tail
 * and with flipped bytes. Nothing corrupt is ever returned, acknowledged
 * records survive, and appends continue at the right offsets.
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { segmentFileName } from "../../src/log/format.ts";
import { iterateBatches } from "../../src/log/record-batch.ts";
import { Durability, type LogObserver } from "../../src/log/types.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { batchOf, config, dump, makeStore, segmentFiles, tempDir } from "./log-test-helpers.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

interface Cut {
  file: string;
  dropped: number;
  reason: string;
}

function recorder(): { observer: LogObserver; cuts: Cut[] } {
  const cuts: Cut[] = [];
  return {
    cuts,
    observer: {
      onRecoveryTruncate: (_t, _p, file, dropped, reason) =>
        cuts.push({ file: path.basename(file), dropped, reason }),
    },
  };
}

/** Append `n` batches of 1-3 records; returns the store dir, the expected [offset, value] list and batch boundaries. */
async function written(n: number, segmentBytes = 1 << 20) {
  const dir = tempDir();
  dirs.push(dir);
  const clock = new ManualClock();
  const store = makeStore(dir, clock);
  const log = await store.open("c", 0, config({ segmentBytes }));
  const expected: Array<[number, string]> = [];
  const batches: Array<{ base: number; last: number }> = [];
  let next = 0;
  for (let i = 0; i < n; i++) {
    const count = 1 + (i % 3);
    const info = await log.append(batchOf(next, count, clock.now() + i, 20));
    batches.push({ base: info.baseOffset, last: info.lastOffset });
    for (let k = 0; k < count; k++) expected.push([next + k, `v${next + k}${"x".repeat(20)}`]);
    next += count;
  }
  store.abandon();
  const pdir = `${dir}/c-0`;
  const active = `${pdir}/${segmentFiles(pdir).at(-1)}`;
  return { dir, pdir, active, expected, batches, clock, cfg: config({ segmentBytes }) };
}

/** File positions of the batches in a segment file. */
function positions(file: string): Array<{ pos: number; size: number; base: number }> {
  const data = fs.readFileSync(file);
  return [...iterateBatches(data)].map((b) => ({ pos: b.pos, size: b.size, base: b.header.baseOffset }));
}

describe("crash recovery", () => {
  it("keeps every acknowledged record when the writing process is killed", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const src = path.resolve(import.meta.dir, "../../src");
    const script = path.join(dir, "writer.ts");
    fs.writeFileSync(
      script,
      `
      import { createFileLogStore } from ${JSON.stringify(`${src}/log/file-store.ts`)};
      import { encodeBatch } from ${JSON.stringify(`${src}/log/record-batch.ts`)};
      import { silentLogger } from ${JSON.stringify(`${src}/observability/logger.ts`)};
      import { systemClock } from ${JSON.stringify(`${src}/util/clock.ts`)};
      import { DEFAULT_LOG_CONFIG } from ${JSON.stringify(`${src}/log/types.ts`)};
      const store = createFileLogStore({ dataDir: ${JSON.stringify(`${dir}/data`)}, clock: systemClock, logger: silentLogger });
      const log = await store.open("k", 0, { ...DEFAULT_LOG_CONFIG, durability: "fsync", segmentBytes: 16384 });
      const enc = new TextEncoder();
      for (let i = 0; ; i++) {
        const info = await log.append(encodeBatch([{ value: enc.encode("r" + i + "-" + "y".repeat(200)) }], { now: 1 }));
        log.waitDurable(info.lastOffset + 1).then(() => process.stdout.write("ack " + info.lastOffset + "\\n"));
        if (i % 8 === 7) await new Promise((r) => setImmediate(r));
      }
      `,
    );
    const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "inherit" });
    let acked = -1;
    let text = "";
    const reader = child.stdout.getReader();
    while (acked < 300) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      for (const m of text.matchAll(/ack (\d+)\n/g)) acked = Math.max(acked, Number(m[1]));
    }
    child.kill("SIGKILL");
    await child.exited;
    expect(acked).toBeGreaterThanOrEqual(300);
    const store = makeStore(`${dir}/data`);
    const log = await store.open("k", 0, config({ durability: Durability.FSYNC, segmentBytes: 16384 }));
    expect(log.offsets().logEndOffset).toBeGreaterThan(acked);
    const recs = await dump(log);
    expect(recs.length).toBe(log.offsets().logEndOffset);
    recs.forEach(([offset, value], i) => {
      expect(offset).toBe(i);
      expect(value).toBe(`r${i}-${"y".repeat(200)}`);
    });
    const end = log.offsets().logEndOffset;
    expect((await log.append(batchOf(0, 1, 1))).baseOffset).toBe(end);
    await store.close();
  });

  it("recovers everything written when abandoned without closing", async () => {
    const w = await written(40, 2048);
    const rec = recorder();
    const store = makeStore(w.dir, w.clock, { observer: rec.observer });
    const log = await store.open("c", 0, w.cfg);
    expect(rec.cuts).toEqual([]);
    expect(log.segmentCount()).toBeGreaterThan(1);
    expect(await dump(log)).toEqual(w.expected);
    await store.close();
  });

  it("cuts a torn tail back to the last whole batch and appends after it", async () => {
    const w = await written(30, 2048);
    const pos = positions(w.active);
    const last = pos.at(-1)!;
    fs.truncateSync(w.active, last.pos + Math.floor(last.size / 2));
    const rec = recorder();
    let store = makeStore(w.dir, w.clock, { observer: rec.observer });
    let log = await store.open("c", 0, w.cfg);
    expect(rec.cuts.length).toBe(1);
    expect(rec.cuts[0]!.dropped).toBe(Math.floor(last.size / 2));
    const keep = w.expected.filter(([o]) => o < last.base);
    expect(log.offsets().logEndOffset).toBe(last.base);
    expect(await dump(log)).toEqual(keep);
    expect((await log.append(batchOf(last.base, 2, 5))).baseOffset).toBe(last.base);
    await store.close();
    store = makeStore(w.dir, w.clock);
    log = await store.open("c", 0, w.cfg);
    expect(log.offsets().logEndOffset).toBe(last.base + 2);
    expect((await dump(log)).slice(0, keep.length)).toEqual(keep);
    await store.close();
  });

  it("cuts a torn batch header and a file of zeros at the end", async () => {
    const w = await written(10);
    const pos = positions(w.active);
    fs.appendFileSync(w.active, Buffer.alloc(5000));
    fs.truncateSync(w.active, pos.at(-1)!.pos + pos.at(-1)!.size + 30);
    const rec = recorder();
    const store = makeStore(w.dir, w.clock, { observer: rec.observer });
    const log = await store.open("c", 0, w.cfg);
    expect(rec.cuts.map((c) => c.dropped)).toEqual([30]);
    expect(await dump(log)).toEqual(w.expected);
    await store.close();
  });

  it("drops the batch with a flipped byte and everything after it", async () => {
    for (const [back, at] of [
      [1, 70],
      [3, 40],
      [2, 20], // inside the header (attributes / lastOffsetDelta), covered by the CRC
      [2, 3], // baseOffset: not covered by the CRC, caught by the offset check
      [1, -1], // last byte of the file
    ] as const) {
      const w = await written(20);
      const pos = positions(w.active);
      const victim = pos[pos.length - back]!;
      const fd = fs.openSync(w.active, "r+");
      const where = at < 0 ? victim.pos + victim.size + at : victim.pos + at;
      const b = Buffer.alloc(1);
      fs.readSync(fd, b, 0, 1, where);
      b[0] = b[0]! ^ 0x5a;
      fs.writeSync(fd, b, 0, 1, where);
      fs.closeSync(fd);
      const rec = recorder();
      const store = makeStore(w.dir, w.clock, { observer: rec.observer });
      const log = await store.open("c", 0, w.cfg);
      expect(rec.cuts.length).toBe(1);
      expect(log.offsets().logEndOffset).toBe(victim.base);
      expect(await dump(log)).toEqual(w.expected.filter(([o]) => o < victim.base));
      expect((await log.append(batchOf(0, 1, 1))).baseOffset).toBe(victim.base);
      await store.close();
    }
  });

  it("deletes segments after a corrupt one", async () => {
    const w = await written(60, 1024);
    const files = segmentFiles(w.pdir);
    expect(files.length).toBeGreaterThan(3);
    const victimFile = `${w.pdir}/${files[1]}`;
    const victim = positions(victimFile)[1]!;
    fs.truncateSync(victimFile, victim.pos + 10);
    const rec = recorder();
    const store = makeStore(w.dir, w.clock, { observer: rec.observer });
    const log = await store.open("c", 0, w.cfg);
    expect(rec.cuts.length).toBe(files.length - 1);
    expect(log.segmentCount()).toBe(2);
    expect(log.offsets().logEndOffset).toBe(victim.base);
    expect(await dump(log)).toEqual(w.expected.filter(([o]) => o < victim.base));
    await store.close();
  });

  it("scans again after a clean open followed by new appends and a crash", async () => {
    const w = await written(10);
    let store = makeStore(w.dir, w.clock);
    let log = await store.open("c", 0, w.cfg);
    await store.close();
    expect(fs.existsSync(`${w.pdir}/clean-shutdown`)).toBe(true);
    store = makeStore(w.dir, w.clock);
    log = await store.open("c", 0, w.cfg);
    const info = await log.append(batchOf(100, 3, 1));
    expect(fs.existsSync(`${w.pdir}/clean-shutdown`)).toBe(false);
    store.abandon();
    fs.truncateSync(w.active, fs.statSync(w.active).size - 5);
    const rec = recorder();
    store = makeStore(w.dir, w.clock, { observer: rec.observer });
    log = await store.open("c", 0, w.cfg);
    expect(rec.cuts.length).toBe(1);
    expect(log.offsets().logEndOffset).toBe(info.baseOffset);
    await store.close();
  });

  it("scans from the recovery point and still catches a torn tail", async () => {
    const w = await written(0);
    let store = makeStore(w.dir, w.clock);
    const one = batchOf(0, 1, 1, 20).length;
    let log = await store.open("c", 0, config({ segmentBytes: 4 * one }));
    for (let i = 0; i < 10; i++) await log.append(batchOf(i, 1, 1, 20));
    await log.flush();
    (log as unknown as { checkpoint(): void }).checkpoint();
    expect(fs.readFileSync(`${w.pdir}/checkpoint`, "utf8")).toBe("1 0 10\n");
    for (let i = 10; i < 14; i++) await log.append(batchOf(i, 1, 1, 20));
    store.abandon();
    const active = `${w.pdir}/${segmentFiles(w.pdir).at(-1)}`;
    fs.truncateSync(active, fs.statSync(active).size - 1);
    const rec = recorder();
    store = makeStore(w.dir, w.clock, { observer: rec.observer });
    log = await store.open("c", 0, config({ segmentBytes: 4 * one }));
    expect(rec.cuts.length).toBe(1);
    expect(log.offsets().logEndOffset).toBe(13);
    expect((await dump(log)).map(([o]) => o)).toEqual([...Array(13).keys()]);
    await store.close();
  });

  it("finishes or discards an interrupted compaction swap on open", async () => {
    const w = await written(30, 1024);
    const files = segmentFiles(w.pdir);
    const first = `${w.pdir}/${files[0]}`;
    const pos = positions(first);
    const data = fs.readFileSync(first);
    // a committed swap holding only the first batch of segment 0, and an uncommitted .cleaned for segment 1
    fs.writeFileSync(`${w.pdir}/${segmentFileName(0, ".log.swap")}`, data.subarray(0, pos[0]!.size));
    fs.writeFileSync(`${w.pdir}/${files[1]}.cleaned`, Buffer.alloc(100, 1));
    const store = makeStore(w.dir, w.clock);
    const log = await store.open("c", 0, w.cfg);
    const leftovers = fs.readdirSync(w.pdir).filter((n) => n.endsWith(".swap") || n.endsWith(".cleaned"));
    expect(leftovers).toEqual([]);
    const secondBase = positions(`${w.pdir}/${files[1]}`)[0]!.base;
    const recs = await dump(log);
    const firstBatch = w.expected.filter(([o]) => o <= w.batches[0]!.last);
    expect(recs).toEqual([...firstBatch, ...w.expected.filter(([o]) => o >= secondBase)]);
    await store.close();
  });
});
