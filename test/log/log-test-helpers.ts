/** Helpers for the file-log tests (not part of the conformance suite). */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FileLogStoreOptions } from "../../src/log/file-store.ts";
import { createFileLogStore } from "../../src/log/file-store.ts";
import { decodeRecords, encodeBatch, iterateBatches } from "../../src/log/record-batch.ts";
import { DEFAULT_LOG_CONFIG, Durability, type LogConfig, type PartitionLog } from "../../src/log/types.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { ManualClock } from "../../src/util/clock.ts";

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "eddy-log-"));
}

export function config(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, durability: Durability.WRITE, ...overrides };
}

export function makeStore(
  dataDir: string,
  clock = new ManualClock(),
  extra: Partial<FileLogStoreOptions> = {},
) {
  return createFileLogStore({ dataDir, clock, logger: silentLogger, checkpointIntervalMs: 1e9, ...extra });
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A batch of `n` records "v<first+i>" with the given timestamp. */
export function batchOf(first: number, n: number, ts: number, pad = 0): Uint8Array {
  const records = [];
  for (let i = 0; i < n; i++) {
    records.push({
      key: enc.encode(`k${(first + i) % 7}`),
      value: enc.encode(`v${first + i}${"x".repeat(pad)}`),
      timestamp: ts,
    });
  }
  return encodeBatch(records, { now: ts });
}

/** Every record of the log, decoded, as [offset, value] pairs; checks each returned batch. */
export async function dump(log: PartitionLog): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  let offset = log.offsets().logStartOffset;
  const end = log.offsets().logEndOffset;
  while (offset < end) {
    const r = await log.read(offset, 256 * 1024);
    if (r.batchCount === 0) break;
    let n = 0;
    for (const _ of iterateBatches(r.bytes)) n++;
    if (n !== r.batchCount) throw new Error(`read returned ${n} batches but said ${r.batchCount}`);
    for (const rec of decodeRecords(r.bytes, offset))
      out.push([rec.offset, dec.decode(rec.value ?? new Uint8Array())]);
    offset = r.nextOffset;
  }
  return out;
}

export function segmentFiles(dir: string, suffix = ".log"): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(suffix))
    .sort();
}
