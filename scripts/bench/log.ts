/**
 * Storage-engine benchmark (issue 2, item 13).
 *
 *   bun scripts/bench/log.ts [--dir DIR] [--mb N] [--quick]
 *
 * Runs, in one invocation:
 *  1. the raw-disk baseline: sequential 64 KiB writes, fdatasync after each
 *     (what `dd oflag=dsync bs=64k` measures);
 *  2. Eddy appends of 100 B and 1 KB records under each durability policy
 *     (fsync, write, memory), 64 producers in flight, each appending a batch
 *     and waiting for its acknowledgement (waitDurable) before the next;
 *  3. reads of the freshly written data as byte ranges (1 MiB fetches);
 *  4. restart: 1 GB (scaled by --mb) over 100 partitions, closed cleanly,
 *     timed until every partition is open again.
 * and prints each figure with its ratio to the baseline.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { encodeBatch } from "../../src/log/record-batch.ts";
import { createFileLogStore } from "../../src/log/file-store.ts";
import {
  DEFAULT_LOG_CONFIG,
  type Durability,
  type LogConfig,
  type PartitionLog,
} from "../../src/log/types.ts";
import { systemClock } from "../../src/util/clock.ts";
import { silentLogger } from "../../src/observability/logger.ts";

const { values: args } = parseArgs({
  options: {
    dir: { type: "string" },
    mb: { type: "string", default: "256" },
    "restart-mb": { type: "string", default: "1024" },
    quick: { type: "boolean", default: false },
  },
});
const quick = args.quick === true;
const totalMb = quick ? 32 : Number(args.mb);
const restartMb = quick ? 64 : Number(args["restart-mb"]);
const root = fs.mkdtempSync(path.join(args.dir ?? os.tmpdir(), "eddy-bench-"));
const MiB = 1024 * 1024;

function rawBaseline(bytes: number, chunkBytes: number): { mbps: number; ms: number } {
  const file = path.join(root, "raw.bin");
  const fd = fs.openSync(file, "w");
  const chunk = Buffer.alloc(chunkBytes, 7);
  const t0 = performance.now();
  for (let written = 0; written < bytes; written += chunk.length) {
    fs.writeSync(fd, chunk, 0, chunk.length);
    fs.fdatasyncSync(fd);
  }
  const ms = performance.now() - t0;
  fs.closeSync(fd);
  fs.rmSync(file);
  return { mbps: bytes / MiB / (ms / 1000), ms };
}

function makeBatches(recordSize: number, perBatch: number, count: number): Uint8Array[] {
  const value = new Uint8Array(recordSize);
  for (let i = 0; i < recordSize; i++) value[i] = (i * 31) & 0xff;
  const out: Uint8Array[] = [];
  for (let b = 0; b < count; b++) {
    const records = Array.from({ length: perBatch }, (_, i) => ({
      key: new TextEncoder().encode(`k${b}-${i}`),
      value,
      timestamp: Date.now(),
    }));
    out.push(encodeBatch(records));
  }
  return out;
}

interface AppendFigures {
  records: number;
  bytes: number;
  ms: number;
}

async function appendRun(
  log: PartitionLog,
  batches: Uint8Array[],
  totalBytes: number,
  inFlight: number,
): Promise<AppendFigures> {
  let bytes = 0;
  let records = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (bytes < totalBytes) {
      const batch = batches[next++ % batches.length]!;
      bytes += batch.length;
      const info = await log.append(batch.slice());
      records += info.recordCount;
      await log.waitDurable(info.lastOffset + 1);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { records, bytes, ms: performance.now() - t0 };
}

async function readRun(log: PartitionLog): Promise<{ bytes: number; ms: number }> {
  const { logStartOffset, logEndOffset } = log.offsets();
  let offset = logStartOffset;
  let bytes = 0;
  const t0 = performance.now();
  while (offset < logEndOffset) {
    const r = await log.read(offset, MiB);
    if (r.batchCount === 0) break;
    bytes += r.bytes.length;
    offset = r.nextOffset;
  }
  return { bytes, ms: performance.now() - t0 };
}

async function main(): Promise<void> {
  console.log(
    `# eddy log benchmark — ${new Date().toISOString()} — ${os.cpus()[0]?.model ?? "cpu"} x${os.cpus().length}, dir ${root}`,
  );
  const baseline = rawBaseline(totalMb * MiB, 64 * 1024);
  const baseline16 = rawBaseline((totalMb * MiB) / 4, 16 * 1024);
  console.log(`raw fdatasync baseline (64 KiB writes): ${baseline.mbps.toFixed(1)} MiB/s`);
  console.log(
    `raw fdatasync baseline (16 KiB writes, one batch's size): ${baseline16.mbps.toFixed(1)} MiB/s`,
  );
  console.log("");
  console.log(
    "| records | policy | producers in flight | appends rec/s | MiB/s | vs raw 64K | vs raw 16K | read MiB/s |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  const runs: Array<[Durability, number]> = [
    ["fsync", 1],
    ["fsync", 64],
    ["write", 64],
    ["memory", 64],
  ];
  for (const recordSize of [100, 1024]) {
    const perBatch = recordSize === 100 ? 160 : 16; // ~16 KiB batches, like a busy producer's linger
    const batches = makeBatches(recordSize, perBatch, 64);
    for (const [durability, inFlight] of runs) {
      const dir = path.join(root, `run-${recordSize}-${durability}`);
      const store = await createFileLogStore({ dataDir: dir, clock: systemClock, logger: silentLogger });
      const config: LogConfig = {
        ...DEFAULT_LOG_CONFIG,
        durability,
        segmentBytes: 256 * MiB,
        retentionMs: -1,
      };
      const log = await store.open("bench", 0, config);
      const a = await appendRun(log, batches, (totalMb * MiB) / (inFlight === 1 ? 4 : 1), inFlight);
      const r = await readRun(log);
      const mbps = a.bytes / MiB / (a.ms / 1000);
      console.log(
        `| ${recordSize} B | ${durability} | ${inFlight} | ${Math.round(a.records / (a.ms / 1000)).toLocaleString("en")} | ${mbps.toFixed(1)} | ${(mbps / baseline.mbps).toFixed(2)}x | ${(mbps / baseline16.mbps).toFixed(2)}x | ${(r.bytes / MiB / (r.ms / 1000)).toFixed(0)} |`,
      );
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log("");
  await restartRun();
  await idleRss();
  fs.rmSync(root, { recursive: true, force: true });
}

async function restartRun(): Promise<void> {
  const dir = path.join(root, "restart");
  const partitions = 100;
  const perPartition = Math.floor((restartMb * MiB) / partitions);
  const batch = makeBatches(1024, 64, 1)[0]!;
  const config: LogConfig = {
    ...DEFAULT_LOG_CONFIG,
    durability: "write",
    segmentBytes: 16 * MiB,
    retentionMs: -1,
  };
  const store = await createFileLogStore({ dataDir: dir, clock: systemClock, logger: silentLogger });
  for (let p = 0; p < partitions; p++) {
    const log = await store.open("restart", p, config);
    for (let written = 0; written < perPartition; written += batch.length) await log.append(batch.slice());
  }
  await store.close();
  const t0 = performance.now();
  const again = await createFileLogStore({ dataDir: dir, clock: systemClock, logger: silentLogger });
  const found = await again.list();
  await Promise.all(found.map((tp) => again.open(tp.topic, tp.partition, config)));
  const ms = performance.now() - t0;
  console.log(
    `restart: ${restartMb} MiB over ${found.length} partitions ready in ${ms.toFixed(0)} ms (target < 1000 ms)`,
  );
  await again.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Idle RSS of the compiled binary (dist/eddy), if it has been built. */
async function idleRss(): Promise<void> {
  const bin = path.join(import.meta.dir, "../../dist/eddy");
  if (!fs.existsSync(bin)) {
    console.log("idle RSS: dist/eddy not built (bun run build), skipped");
    return;
  }
  const dir = path.join(root, "rss");
  const child = Bun.spawn([bin, "serve", "--data-dir", dir, "--http-listen", "127.0.0.1:0"], {
    stdout: "ignore",
    stderr: "ignore",
  });
  const listeners = path.join(dir, "listeners.json");
  for (let i = 0; i < 100 && !fs.existsSync(listeners); i++) await Bun.sleep(50);
  await Bun.sleep(2000);
  const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  console.log(`idle RSS of dist/eddy after start-up: ${(kb / 1024).toFixed(1)} MiB (target <= 60 MB)`);
  child.kill("SIGTERM");
  await child.exited;
}

await main();
