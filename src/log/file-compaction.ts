/**
 * Compaction of a FileLog's sealed segments (cleanup.policy includes compact),
 * using the pure cleaner in compaction.ts. Offsets are preserved; the active
 * segment is never rewritten and does not feed the offset map.
 *
 * Crash safety, per rewritten segment:
 *   1. write <base>.log.cleaned, fdatasync       (crash: .cleaned deleted on open)
 *   2. rename .cleaned -> .log.swap, fsync dir   (commit point: .swap completed on open)
 *   3. delete the old indexes, rename .swap -> .log (atomic replace), fsync dir
 *   4. rebuild and write the indexes             (crash: missing/short indexes rebuilt)
 *
 * Each segment is read into memory whole while it is compacted (segments are
 * bounded by segmentBytes).
 */
import fs from "node:fs";
import { buildOffsetMap, compactBatches } from "./compaction.ts";
import type { FileLog } from "./file-log.ts";
import { CLEANED_SUFFIX, SWAP_SUFFIX, segmentFileName } from "./format.ts";
import { fsyncDir, writeFully } from "./io.ts";
import { iterateBatches } from "./record-batch.ts";
import { Segment } from "./segment.ts";
import { CleanupPolicy, type CompactionResult } from "./types.ts";

function batchesOf(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of iterateBatches(data)) out.push(data.subarray(b.pos, b.pos + b.size));
  return out;
}

export async function compactLog(log: FileLog, now: number): Promise<CompactionResult> {
  const result: CompactionResult = { removedRecords: 0, bytesBefore: 0, bytesAfter: 0 };
  const policy = log.cfg.cleanupPolicy;
  if (policy !== CleanupPolicy.COMPACT && policy !== CleanupPolicy.COMPACT_DELETE) return result;
  const sealed = log.segments.slice(0, -1);
  if (sealed.length === 0) return result;

  const map = new Map<string, number>();
  for (const seg of sealed) buildOffsetMap([seg.readBytes(0, seg.size)], { into: map });

  const opts = {
    now,
    deleteRetentionMs: log.cfg.deleteRetentionMs,
    minCompactionLagMs: log.cfg.minCompactionLagMs,
  };
  for (const seg of sealed) {
    if (log.closed || !log.segments.includes(seg)) break;
    const res = compactBatches(batchesOf(seg.readBytes(0, seg.size)), map, opts);
    result.removedRecords += res.removedRecords;
    result.bytesBefore += res.bytesBefore;
    result.bytesAfter += res.bytesAfter;
    if (res.removedRecords === 0 && res.bytesAfter === res.bytesBefore) continue;
    log.ensureUnclean();
    const next = rewriteSegment(log, seg, res.batches);
    await log.replaceSegment(seg, next);
  }
  return result;
}

/** Steps 1-4 above; returns the reopened segment. */
function rewriteSegment(log: FileLog, seg: Segment, batches: Uint8Array[]): Segment {
  const dir = log.dir;
  const base = seg.baseOffset;
  const cleaned = `${dir}/${segmentFileName(base, CLEANED_SUFFIX)}`;
  const swap = `${dir}/${segmentFileName(base, SWAP_SUFFIX)}`;
  const fd = fs.openSync(cleaned, "w");
  try {
    let pos = 0;
    for (const b of batches) {
      writeFully(log.io, fd, b, 0, b.length, pos);
      pos += b.length;
    }
    fs.fdatasyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(cleaned, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(cleaned, swap);
  fsyncDir(dir);
  seg.offsetIndex.remove();
  seg.timeIndex.remove();
  fs.renameSync(swap, seg.logPath);
  fsyncDir(dir);
  const next = Segment.open(dir, base, log.io);
  next.rebuild(log.cfg.indexIntervalBytes);
  next.persistIndexes(true);
  return next;
}
