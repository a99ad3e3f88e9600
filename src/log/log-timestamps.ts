/**
 * Timestamp lookups of a FileLog (Kafka ListOffsets by time and
 * MAX_TIMESTAMP). The time index narrows the search to a few batches, which
 * are then decoded; only records at or above the log start count.
 */
import type { FileLog } from "./file-log.ts";
import { decodeBatch } from "./record-batch.ts";
import type { BatchRef, Segment } from "./segment.ts";
import type { StoredRecord, TimestampLookup } from "./types.ts";

/** First record at offset >= logStart in batches accepted by `batchOk`, from `fromOffset`'s index entry on. */
function findRecord(
  seg: Segment,
  fromOffset: number,
  logStart: number,
  batchOk: (ref: BatchRef) => boolean,
  recOk: (r: StoredRecord) => boolean,
): TimestampLookup | null {
  let found: TimestampLookup | null = null;
  seg.walk(seg.offsetIndex.lookup(fromOffset), (ref) => {
    if (ref.lastOffset < logStart || !batchOk(ref)) return true;
    for (const r of decodeBatch(seg.readBytes(ref.pos, ref.size)).records) {
      if (r.offset >= logStart && recOk(r)) {
        found = { offset: r.offset, timestamp: r.timestamp };
        return false;
      }
    }
    return true;
  });
  return found;
}

export function offsetForTimestamp(log: FileLog, ts: number): TimestampLookup | null {
  const start = log.tracker.logStartOffset;
  if (start >= log.tracker.logEndOffset) return null;
  for (let i = log.segmentIndexFor(start); i < log.segments.length; i++) {
    const seg = log.segments[i]!;
    if (seg.size === 0 || seg.maxTimestamp < ts || seg.nextOffset <= start) continue;
    const from = Math.max(seg.timeIndex.lookup(ts), start);
    const hit = findRecord(
      seg,
      from,
      start,
      (ref) => ref.maxTimestamp >= ts,
      (r) => r.timestamp >= ts,
    );
    if (hit) return hit;
  }
  return null;
}

/** Largest timestamp among records at or above `start` in a segment that begins below it. */
function visibleMax(seg: Segment, start: number): number {
  let max = -1;
  seg.walk(seg.offsetIndex.lookup(start), (ref) => {
    if (ref.lastOffset < start) return true;
    if (ref.baseOffset >= start) {
      if (ref.maxTimestamp > max) max = ref.maxTimestamp;
      return true;
    }
    if (ref.maxTimestamp <= max) return true;
    for (const r of decodeBatch(seg.readBytes(ref.pos, ref.size)).records) {
      if (r.offset >= start && r.timestamp > max) max = r.timestamp;
    }
    return true;
  });
  return max;
}

export function maxTimestamp(log: FileLog): TimestampLookup | null {
  const start = log.tracker.logStartOffset;
  if (start >= log.tracker.logEndOffset) return null;
  let best: Segment | null = null;
  let bestTs = Number.NEGATIVE_INFINITY;
  let bestPartial = false;
  for (let i = log.segmentIndexFor(start); i < log.segments.length; i++) {
    const seg = log.segments[i]!;
    if (seg.size === 0 || seg.nextOffset <= start) continue;
    const partial = seg.baseOffset < start;
    const ts = partial ? visibleMax(seg, start) : seg.maxTimestamp;
    if (ts > bestTs) {
      best = seg;
      bestTs = ts;
      bestPartial = partial;
    }
  }
  if (!best) return null;
  const from = bestPartial ? start : Math.max(best.offsetOfMaxTimestamp, best.baseOffset);
  const ts = bestTs;
  return (
    findRecord(
      best,
      from,
      start,
      (ref) => ref.maxTimestamp >= ts,
      (r) => r.timestamp === ts,
    ) ??
    findRecord(
      best,
      start,
      start,
      () => true,
      (r) => r.timestamp >= ts,
    )
  );
}
