/**
 * The read path of a FileLog: whole stored batches as byte ranges, one
 * readSync per segment touched (usually one per request), no decoding and no
 * CRC checks (batches were verified on append or on recovery).
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { FileLog } from "./file-log.ts";
import { type BatchRef, batchRefAt, type Segment } from "./segment.ts";
import type { ReadOptions, ReadResult } from "./types.ts";

const EMPTY = new Uint8Array(0);
/** Extra bytes read past an index entry so that one read usually covers the batch sought. */
const READ_SLACK = 16 * 1024;

export function readLog(log: FileLog, offset: number, maxBytes: number, opts: ReadOptions = {}): ReadResult {
  const { logStartOffset, logEndOffset } = log.tracker;
  if (!Number.isSafeInteger(offset) || offset < logStartOffset || offset > logEndOffset) {
    throw new EddyError(
      ErrorCode.OFFSET_OUT_OF_RANGE,
      `offset ${offset} is outside the log [${logStartOffset}, ${logEndOffset}] of ${log.topic}-${log.partition}; fetch from an offset in that range`,
      { offset, logStartOffset, logEndOffset },
    );
  }
  const maxOffset = Math.min(opts.maxOffset ?? logEndOffset, logEndOffset);
  let allowOversize = opts.minOneBatch ?? true;
  const parts: Uint8Array[] = [];
  let total = 0;
  let batchCount = 0;
  let next = offset;
  if (offset < maxOffset) {
    for (let i = log.segmentIndexFor(offset); i < log.segments.length; i++) {
      const seg = log.segments[i]!;
      if (seg.size === 0 || seg.nextOffset <= next) continue;
      const r = readSegment(log, seg, next, maxBytes - total, maxOffset, allowOversize);
      if (r.count > 0) {
        parts.push(r.bytes);
        total += r.bytes.length;
        batchCount += r.count;
        next = r.next;
        allowOversize = false;
      }
      if (!r.atEnd) break;
    }
  }
  if (batchCount === 0) return { bytes: EMPTY, nextOffset: offset, batchCount: 0 };
  return { bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts), nextOffset: next, batchCount };
}

/**
 * Whole batches of one segment, from the first with lastOffset >= offset,
 * while they fit in `budget` and end below maxOffset. Usually one readSync:
 * from the index entry's position, enough to also skip to the batch sought.
 */
function readSegment(
  log: FileLog,
  seg: Segment,
  offset: number,
  budget: number,
  maxOffset: number,
  allowOversize: boolean,
): { bytes: Uint8Array; count: number; next: number; atEnd: boolean } {
  const none = { bytes: EMPTY, count: 0, next: offset, atEnd: false };
  let base = seg.offsetIndex.lookup(offset);
  let buf = seg.readBytes(
    base,
    Math.min(seg.size - base, Math.max(budget, 0) + log.cfg.indexIntervalBytes + READ_SLACK),
  );
  let p = 0;
  let first: BatchRef | null = null;
  while (base + p < seg.size) {
    const ref = batchRefAt(buf, p, buf.length, base + p);
    if (!ref) {
      // header not in the buffer: read on from here (a bad header right at the start ends the segment)
      if (p === 0) return { ...none, atEnd: true };
      base += p;
      p = 0;
      buf = seg.readBytes(base, Math.min(seg.size - base, Math.max(budget, 0) + READ_SLACK));
      if (buf.length < 61) return { ...none, atEnd: true };
      continue;
    }
    if (ref.lastOffset >= offset) {
      first = ref;
      break;
    }
    p += ref.size;
  }
  if (!first) return { ...none, atEnd: true };
  if (first.lastOffset >= maxOffset) return none;
  const limit = first.size > budget ? (allowOversize ? first.size : 0) : budget;
  if (limit === 0) return none;
  const want = Math.min(seg.size - first.pos, limit);
  if (buf.length - p < want) {
    buf = seg.readBytes(first.pos, want);
    p = 0;
  }
  const start = p;
  const stop = p + want;
  let count = 0;
  let next = offset;
  let capped = false;
  while (p < stop) {
    const ref = batchRefAt(buf, p, stop, 0);
    if (!ref || p + ref.size > stop) break;
    if (ref.lastOffset >= maxOffset) {
      capped = true;
      break;
    }
    p += ref.size;
    next = ref.lastOffset + 1;
    count++;
  }
  const atEnd = !capped && first.pos + (p - start) === seg.size;
  return { bytes: new Uint8Array(buf.buffer, buf.byteOffset + start, p - start), count, next, atEnd };
}
