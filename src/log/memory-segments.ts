/**
 * The in-memory twin's data model: a partition is a list of segments, a
 * segment a list of stored batches, laid out exactly as the file log lays out
 * its segment files (same roll rule, same sizes), so retention, segmentCount
 * and sizeBytes agree with it. Pure helpers, no I/O.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import { checkBatch, decodeBatch, isControl, lastOffsetOf, readBatchHeader } from "./record-batch.ts";
import type { LogConfig, TimestampLookup } from "./types.ts";

export interface MemBatch {
  bytes: Uint8Array;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  recordCount: number;
  control: boolean;
}

export interface MemSegment {
  baseOffset: number;
  batches: MemBatch[];
  size: number;
}

/** What a store keeps per partition; survives closing and reopening the log. */
export interface PartitionData {
  segments: MemSegment[];
  logStartOffset: number;
  logEndOffset: number;
}

export function emptyPartition(startOffset = 0): PartitionData {
  return { segments: [emptySegment(startOffset)], logStartOffset: startOffset, logEndOffset: startOffset };
}

export function emptySegment(baseOffset: number): MemSegment {
  return { baseOffset, batches: [], size: 0 };
}

export function memBatch(bytes: Uint8Array): MemBatch {
  const h = readBatchHeader(bytes, 0);
  return {
    bytes,
    baseOffset: h.baseOffset,
    lastOffset: lastOffsetOf(h),
    maxTimestamp: h.maxTimestamp,
    recordCount: h.recordCount,
    control: isControl(h.attributes),
  };
}

/** Newest timestamp in a segment (-1 when it holds no batch). */
export function segmentMaxTimestamp(seg: MemSegment): number {
  let max = -1;
  for (const b of seg.batches) if (b.maxTimestamp > max) max = b.maxTimestamp;
  return max;
}

/** Kafka's roll rule, checked before appending a batch of `size` bytes with `maxTimestamp`. */
export function shouldRoll(
  active: MemSegment,
  size: number,
  maxTimestamp: number,
  config: LogConfig,
): boolean {
  const first = active.batches[0];
  if (!first) return false;
  if (active.size + size > config.segmentBytes) return true;
  return first.maxTimestamp >= 0 && maxTimestamp - first.maxTimestamp > config.segmentMs;
}

/**
 * Validate an appended buffer: exactly one v2 batch with a good CRC, within
 * maxMessageBytes. Throws CORRUPT_RECORD / UNSUPPORTED_FORMAT / BATCH_TOO_LARGE.
 */
export function validateBatch(batch: Uint8Array, maxMessageBytes: number) {
  const check = checkBatch(batch, 0, batch.length);
  if (!check.ok) {
    if (check.reason === "magic") {
      throw new EddyError(
        ErrorCode.UNSUPPORTED_FORMAT,
        `${check.message}; upgrade the client to send RecordBatch v2`,
      );
    }
    throw new EddyError(ErrorCode.CORRUPT_RECORD, `${check.message}; the producer should resend the batch`, {
      reason: check.reason,
    });
  }
  if (check.size !== batch.length) {
    throw new EddyError(
      ErrorCode.CORRUPT_RECORD,
      `expected one record batch of ${check.size} bytes but got ${batch.length} bytes; send one batch per append`,
    );
  }
  const h = check.header;
  if (h.recordCount < 1 || h.lastOffsetDelta < 0 || h.lastOffsetDelta < h.recordCount - 1) {
    throw new EddyError(
      ErrorCode.CORRUPT_RECORD,
      `batch declares ${h.recordCount} records and lastOffsetDelta ${h.lastOffsetDelta}; the producer should resend it`,
    );
  }
  if (check.size > maxMessageBytes) {
    throw new EddyError(
      ErrorCode.BATCH_TOO_LARGE,
      `batch of ${check.size} bytes exceeds max.message.bytes (${maxMessageBytes}); send smaller batches or raise the topic's max.message.bytes`,
      { size: check.size, maxMessageBytes },
    );
  }
  return h;
}

/** Index of the segment that holds `offset` (the last with baseOffset <= offset; 0 if none). */
export function segmentIndexFor(segments: MemSegment[], offset: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (segments[mid]!.baseOffset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Every batch from the one containing `offset` (first with lastOffset >= offset) onwards. */
export function* batchesFrom(segments: MemSegment[], offset: number): Generator<MemBatch> {
  for (let s = segmentIndexFor(segments, offset); s < segments.length; s++) {
    const batches = segments[s]!.batches;
    let lo = 0;
    let hi = batches.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (batches[mid]!.lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < batches.length; i++) yield batches[i]!;
  }
}

/** First record (offset >= from) with timestamp >= ts, scanning batches in offset order. */
export function findOffsetForTimestamp(
  segments: MemSegment[],
  from: number,
  ts: number,
): TimestampLookup | null {
  for (const b of batchesFrom(segments, from)) {
    if (b.control || b.maxTimestamp < ts) continue;
    for (const r of decodeBatch(b.bytes).records) {
      if (r.offset >= from && r.timestamp >= ts) return { offset: r.offset, timestamp: r.timestamp };
    }
  }
  return null;
}

/** Largest record timestamp at or after `from`, with the first offset carrying it. */
export function findMaxTimestamp(segments: MemSegment[], from: number): TimestampLookup | null {
  let best: TimestampLookup | null = null;
  for (const b of batchesFrom(segments, from)) {
    if (b.control || (best !== null && b.maxTimestamp <= best.timestamp)) continue;
    for (const r of decodeBatch(b.bytes).records) {
      if (r.offset >= from && (best === null || r.timestamp > best.timestamp)) {
        best = { offset: r.offset, timestamp: r.timestamp };
      }
    }
  }
  return best;
}
