/**
 * Delete-records, truncation and retention of a FileLog (run one at a time
 * through FileLog.exclusive). The in-memory segment list changes
 * synchronously first; files are closed and deleted afterwards, so reads and
 * appends running in between never see a half-removed segment.
 */
import { EddyError, ErrorCode, toEddyError } from "../errors.ts";
import type { FileLog } from "./file-log.ts";
import { Segment } from "./segment.ts";
import { CleanupPolicy, type RetentionResult } from "./types.ts";

export async function deleteRecordsBefore(log: FileLog, offset: number): Promise<number> {
  const t = log.tracker;
  if (!Number.isSafeInteger(offset) || offset > t.logEndOffset) {
    throw new EddyError(
      ErrorCode.OFFSET_OUT_OF_RANGE,
      `cannot delete records before ${offset}: the log of ${log.topic}-${log.partition} ends at ${t.logEndOffset}`,
      { offset, logEndOffset: t.logEndOffset },
    );
  }
  if (offset <= t.logStartOffset) return t.logStartOffset;
  try {
    log.ensureUnclean();
    t.advanceLogStart(offset);
    log.saveLogStart();
    await log.dropSegments(spliceBelowStart(log));
  } catch (err) {
    throw toEddyError(err);
  }
  return t.logStartOffset;
}

/** Take sealed segments wholly below the log start out of the list; returns them. */
function spliceBelowStart(log: FileLog): Segment[] {
  const start = log.tracker.logStartOffset;
  let n = 0;
  while (n < log.segments.length - 1 && log.segments[n + 1]!.baseOffset <= start) n++;
  return log.segments.splice(0, n);
}

export async function truncateTo(log: FileLog, offset: number): Promise<void> {
  const t = log.tracker;
  if (offset >= t.logEndOffset) return;
  try {
    log.ensureUnclean();
    log.generation++;
    if (offset <= t.logStartOffset) {
      await restartAt(log, offset);
    } else {
      const keep = log.segmentIndexFor(offset) + 1;
      const dropped = log.segments.splice(keep, log.segments.length - keep);
      const seg = log.active;
      const cut = seg.findBatch(offset);
      if (cut) {
        seg.truncateToPosition(cut.pos);
        seg.rebuild(log.cfg.indexIntervalBytes);
        seg.offsetIndex.rewrite(false);
        seg.timeIndex.rewrite(false);
      }
      if (seg.nextOffset !== offset) {
        // cut inside a batch: start a segment at `offset` so the active segment stays gap-free
        if (seg.size === 0) dropped.push(log.segments.pop()!);
        log.segments.push(Segment.create(log.dir, offset, log.io));
      }
      await log.dropSegments(dropped);
      t.logEndOffset = offset;
    }
    t.clampToLogEnd();
    log.saveLogStart();
    log.releaseAfterTruncate();
  } catch (err) {
    throw toEddyError(err);
  }
}

/** Drop every segment and restart the log, empty, at `offset` (any offset: a follower behind the leader's start). */
export async function truncateFullyAndStartAt(log: FileLog, offset: number): Promise<void> {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `cannot restart the log of ${log.topic}-${log.partition} at ${offset}: give an offset >= 0`,
      { offset },
    );
  }
  try {
    log.ensureUnclean();
    log.generation++;
    await restartAt(log, offset);
    log.tracker.clampToLogEnd();
    log.saveLogStart();
    log.releaseAfterTruncate();
  } catch (err) {
    throw toEddyError(err);
  }
}

/**
 * Delete every segment, then create one empty segment at `offset` (in this
 * order: the new segment may reuse an old one's file name). A crash in
 * between leaves either some old segments (still below the offset: the
 * follower restarts again) or the new empty segment, whose base offset then
 * wins over the old checkpointed log start on recovery.
 */
async function restartAt(log: FileLog, offset: number): Promise<void> {
  const t = log.tracker;
  const dropped = log.segments.splice(0, log.segments.length);
  await log.dropSegments(dropped);
  log.segments.push(Segment.create(log.dir, offset, log.io));
  t.logStartOffset = offset;
  t.logEndOffset = offset;
  t.flushedOffset = offset;
}

export async function applyRetention(log: FileLog, now: number): Promise<RetentionResult> {
  const cfg = log.cfg;
  const t = log.tracker;
  const deletes =
    cfg.cleanupPolicy === CleanupPolicy.DELETE || cfg.cleanupPolicy === CleanupPolicy.COMPACT_DELETE;
  const floor = log.retentionFloor;
  let size = log.sizeBytes();
  let n = 0;
  let forcedPastFloor = false;
  const segs = log.segments;
  for (; n < segs.length - 1; n++) {
    const seg = segs[n]!;
    const wholeBelowStart = segs[n + 1]!.baseOffset <= t.logStartOffset;
    const byTime =
      deletes &&
      cfg.retentionMs >= 0 &&
      now - seg.maxTimestamp > cfg.retentionMs &&
      (floor === null || seg.nextOffset <= floor);
    const bySize = deletes && cfg.retentionBytes >= 0 && size - seg.size >= cfg.retentionBytes;
    if (!wholeBelowStart && !byTime && !bySize) break;
    if (!wholeBelowStart && !byTime && floor !== null && seg.nextOffset > floor) forcedPastFloor = true;
    size -= seg.size;
  }
  if (n === 0) return { deletedSegments: 0, deletedBytes: 0, logStartOffset: t.logStartOffset };
  try {
    log.ensureUnclean();
    const dropped = segs.splice(0, n);
    const deletedBytes = dropped.reduce((sum, s) => sum + s.size, 0);
    const start = log.segments[0]!.baseOffset;
    if (forcedPastFloor) {
      log.logger.warn(
        "size retention deleted records that are still owed (retention floor); raise retention.bytes or free disk",
        {
          topic: log.topic,
          partition: log.partition,
          floor,
          newLogStartOffset: start,
        },
      );
    }
    if (start > t.logStartOffset) t.advanceLogStart(start);
    log.saveLogStart();
    await log.dropSegments(dropped);
    return { deletedSegments: dropped.length, deletedBytes, logStartOffset: t.logStartOffset };
  } catch (err) {
    throw toEddyError(err);
  }
}
