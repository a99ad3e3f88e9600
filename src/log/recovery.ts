/**
 * Opening a partition directory.
 *
 * - Leftovers of an interrupted compaction: `.log.cleaned` is deleted (the
 *   swap never committed); `.log.swap` is renamed over its `.log` (it did),
 *   and that segment's indexes are rebuilt.
 * - After a clean shutdown (`clean-shutdown` present) files and indexes are
 *   trusted: per segment only the index is read and the few batch headers
 *   after its last entry are walked. No CRC scan.
 * - Otherwise segments wholly below the checkpointed recovery point are
 *   trusted the same way; from the segment holding the recovery point on,
 *   every batch is verified (length, magic, CRC-32C, offsets increasing; in
 *   the last segment, which compaction never rewrites and truncation keeps
 *   gap-free, offsets contiguous from the segment's base, since baseOffset is
 *   not covered by the CRC; only increasing for a compacted topic, whose
 *   followers store the leader's gaps as they are) and the indexes rebuilt.
 *   The first bad batch and everything after it is cut off (reported
 *   through LogObserver.onRecoveryTruncate).
 * - Missing or damaged index files are rebuilt from the log.
 */
import fs from "node:fs";
import type { Logger } from "../observability/logger.ts";
import {
  CHECKPOINT_FILE,
  CHECKPOINT_TMP_FILE,
  CLEAN_SHUTDOWN_FILE,
  CLEANED_SUFFIX,
  type Checkpoint,
  decodeCheckpoint,
  INDEX_SUFFIX,
  LOG_SUFFIX,
  parseSegmentFileName,
  SWAP_SUFFIX,
  segmentFileName,
  TIME_INDEX_SUFFIX,
} from "./format.ts";
import { type LogIo, readFully } from "./io.ts";
import { checkBatch } from "./record-batch.ts";
import { batchRefAt, i32, Segment } from "./segment.ts";
import type { LogObserver } from "./types.ts";

export interface RecoverOptions {
  dir: string;
  topic: string;
  partition: number;
  io: LogIo;
  indexIntervalBytes: number;
  /**
   * The log may hold offset gaps in its last segment too (a follower of a
   * compacted topic stores the leader's batches as they are): verify offsets
   * increasing there, not contiguous.
   */
  allowGaps?: boolean;
  logger: Logger;
  observer?: LogObserver | undefined;
}

export interface Recovered {
  segments: Segment[];
  checkpoint: Checkpoint | null;
  /** The directory had a clean-shutdown marker (still present; removed before the first change). */
  clean: boolean;
}

const SCAN_CHUNK = 1024 * 1024;

export function recoverPartition(opts: RecoverOptions): Recovered {
  const { dir } = opts;
  fs.mkdirSync(dir, { recursive: true });
  const bases = cleanLeftovers(dir);
  const checkpoint = readCheckpoint(dir);
  const clean = checkpoint !== null && fs.existsSync(`${dir}/${CLEAN_SHUTDOWN_FILE}`);
  const recoveryPoint = checkpoint?.recoveryPoint ?? 0;

  // First segment to verify: the last one starting at or below the recovery point.
  let firstScan = 0;
  for (let i = 0; i < bases.length; i++) if (bases[i]! <= recoveryPoint) firstScan = i;
  if (clean) firstScan = bases.length;

  const segments: Segment[] = [];
  let expectNext = -1;
  for (let i = 0; i < bases.length; i++) {
    const seg = Segment.open(dir, bases[i]!, opts.io);
    segments.push(seg);
    const trusted = i < firstScan && openTrusted(seg, opts.indexIntervalBytes);
    if (!trusted) {
      const last = i === bases.length - 1;
      const stop = scanSegment(seg, opts, Math.max(expectNext, seg.baseOffset), last && !opts.allowGaps);
      if (stop) {
        report(opts, seg.logPath, stop.dropped, stop.reason);
        for (const later of bases.slice(i + 1)) {
          const path = `${dir}/${segmentFileName(later)}`;
          report(opts, path, fs.statSync(path).size, "follows a corrupt batch");
          for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
            fs.rmSync(`${dir}/${segmentFileName(later, suffix)}`, { force: true });
          }
        }
        break;
      }
    }
    expectNext = seg.nextOffset;
  }
  const last = segments[segments.length - 1];
  if (last && last.size > 0 && last.firstBatchTimestamp < 0) {
    last.walk(0, (ref) => {
      last.firstBatchTimestamp = ref.maxTimestamp;
      return false;
    });
  }
  return { segments, checkpoint, clean };
}

/** Handle compaction leftovers and stray temp files; return the sorted base offsets of the .log files. */
function cleanLeftovers(dir: string): number[] {
  const names = fs.readdirSync(dir);
  for (const name of names) {
    if (name.endsWith(CLEANED_SUFFIX) || name === CHECKPOINT_TMP_FILE) {
      fs.rmSync(`${dir}/${name}`, { force: true });
    } else if (name.endsWith(SWAP_SUFFIX)) {
      const base = parseSegmentFileName(name, SWAP_SUFFIX);
      if (base === null) continue;
      fs.rmSync(`${dir}/${segmentFileName(base, INDEX_SUFFIX)}`, { force: true });
      fs.rmSync(`${dir}/${segmentFileName(base, TIME_INDEX_SUFFIX)}`, { force: true });
      fs.renameSync(`${dir}/${name}`, `${dir}/${segmentFileName(base)}`);
    }
  }
  const bases: number[] = [];
  for (const name of fs.readdirSync(dir)) {
    const base = parseSegmentFileName(name);
    if (base !== null) bases.push(base);
  }
  return bases.sort((a, b) => a - b);
}

function readCheckpoint(dir: string): Checkpoint | null {
  try {
    return decodeCheckpoint(fs.readFileSync(`${dir}/${CHECKPOINT_FILE}`, "utf8"));
  } catch {
    return null;
  }
}

/**
 * Trust a segment: load its indexes and walk only the headers after the last
 * offset-index entry. Returns false when the file does not end on a batch
 * boundary (the caller then verifies it fully).
 */
function openTrusted(seg: Segment, interval: number): boolean {
  const offsetOk = seg.offsetIndex.load(seg.size);
  if (!offsetOk) {
    seg.rebuild(interval);
    seg.persistIndexes(false);
    return true;
  }
  const last = seg.offsetIndex.last();
  const from = last ? last[1] : 0;
  const end = seg.walk(from, (ref) => {
    seg.noteBatch(ref, interval);
    return true;
  });
  if (end !== seg.size) {
    seg.resetIndexes();
    return false;
  }
  if (!seg.timeIndex.load(seg.nextOffset)) {
    seg.rebuild(interval);
    seg.persistIndexes(false);
    return true;
  }
  const t = seg.timeIndex.last();
  if (t && t[0] >= seg.maxTimestamp) {
    seg.maxTimestamp = t[0];
    seg.offsetOfMaxTimestamp = t[1];
  }
  return true;
}

/**
 * Verify every batch of a segment, rebuilding its indexes. Returns null if
 * the whole file is valid, else what was cut off.
 */
function scanSegment(
  seg: Segment,
  opts: RecoverOptions,
  minBase: number,
  contiguous: boolean,
): { dropped: number; reason: string } | null {
  seg.resetIndexes();
  let buf = Buffer.allocUnsafeSlow(SCAN_CHUNK);
  let cs = 0; // file position of buf[0]
  let ce = 0; // file position after the valid bytes in buf
  let pos = 0;
  let expect = minBase;
  let reason: string | null = null;
  while (pos < seg.size) {
    if (seg.size - pos < 12 || (ce - pos < 12 && !refill(pos, 12))) {
      reason = "torn batch header at the end of the file";
      break;
    }
    const len = i32(buf, pos - cs + 8);
    const size = len + 12;
    if (len < 49) {
      reason = `bad batch length ${len}`;
      break;
    }
    if (pos + size > seg.size) {
      reason = "torn batch at the end of the file";
      break;
    }
    if (pos + size > ce) refill(pos, size);
    const check = checkBatch(buf, pos - cs, pos - cs + size);
    if (!check.ok) {
      reason = `${check.reason}: ${check.message}`;
      break;
    }
    const ref = batchRefAt(buf, pos - cs, ce - cs, pos)!;
    if (
      ref.baseOffset < expect ||
      ref.lastOffset < ref.baseOffset ||
      (contiguous && ref.baseOffset !== expect)
    ) {
      reason = `offsets not increasing (batch ${ref.baseOffset}..${ref.lastOffset}, expected >= ${expect})`;
      break;
    }
    seg.noteBatch(ref, opts.indexIntervalBytes);
    expect = ref.lastOffset + 1;
    pos += size;
  }
  const dropped = seg.size - pos;
  if (dropped > 0) seg.truncateToPosition(pos);
  seg.unsynced = true;
  seg.offsetIndex.rewrite(false);
  seg.timeIndex.rewrite(false);
  return reason === null ? null : { dropped, reason };

  function refill(at: number, need: number): boolean {
    if (need > buf.length) buf = Buffer.allocUnsafeSlow(need);
    const want = Math.min(buf.length, seg.size - at);
    const n = readFully(seg.fd, buf, want, at);
    cs = at;
    ce = at + n;
    return n >= need;
  }
}

function report(opts: RecoverOptions, file: string, droppedBytes: number, reason: string): void {
  opts.logger.warn("log recovery cut off a damaged tail", {
    topic: opts.topic,
    partition: opts.partition,
    file,
    droppedBytes,
    reason,
  });
  opts.observer?.onRecoveryTruncate?.(opts.topic, opts.partition, file, droppedBytes, reason);
}
