/**
 * The file log's replicated runs (FileLog.appendReplicated): a follower's
 * batches are checked one by one (replicated-append.ts: CRC, size, offsets
 * at or past the log end, gaps allowed), copied into one run buffer and
 * written with one write per segment (and per RUN_BYTES), stored exactly as
 * the leader stored them. A segment roll writes the run so far first, so
 * segments, indexes and timestamps come out as one-by-one appends make them.
 * A refused batch or a failed write ends the call: what was written before
 * it stays, and the error comes back in the result.
 */
import { toEddyError } from "../errors.ts";
import type { FileLog } from "./file-log.ts";
import type { BatchHeader } from "./record-batch.ts";
import { checkReplicatedBatch, runBuffer } from "./replicated-append.ts";
import type { BatchRef } from "./segment.ts";
import type { ReplicatedAppendResult } from "./types.ts";

/** A run is written in pieces of at most this many bytes (or one larger batch). */
const RUN_BYTES = 1024 * 1024;

export function appendReplicatedRun(log: FileLog, batches: readonly Uint8Array[]): ReplicatedAppendResult {
  let largest = 0;
  for (const b of batches) if (b.length > largest) largest = b.length;
  const buf = runBuffer(Math.max(RUN_BYTES, largest));
  const refs: BatchRef[] = [];
  let seg = log.active;
  let fresh = false; // seg was rolled by this call and nothing is written to it yet
  let end = log.tracker.logEndOffset;
  let fill = 0;
  let firstTs = -1;
  let runRecords = 0;
  let count = 0;
  let size = 0;
  let records = 0;
  let error: Error | null = null;
  const write = (): void => {
    if (fill === 0) return;
    log.ensureUnclean();
    try {
      seg.appendRun(buf, fill, refs, log.cfg.indexIntervalBytes);
    } catch (err) {
      if (fresh) log.unroll();
      throw toEddyError(err);
    }
    fresh = false;
    log.tracker.logEndOffset = refs[refs.length - 1]!.lastOffset + 1;
    log.noteWritten(seg, fill);
    count += refs.length;
    size += fill;
    records += runRecords;
    refs.length = 0;
    fill = 0;
    runRecords = 0;
  };
  try {
    for (const batch of batches) {
      let h: BatchHeader;
      try {
        h = checkReplicatedBatch(batch, end, log.cfg.maxMessageBytes);
      } catch (err) {
        error = err as Error;
        break;
      }
      const len = batch.length;
      const lastOffset = h.baseOffset + h.lastOffsetDelta;
      const maxTs = h.maxTimestamp;
      if (log.shouldRoll(seg, len, lastOffset, maxTs, fill, firstTs)) {
        write();
        seg = log.roll(h.baseOffset);
        fresh = true;
      } else if (fill > 0 && fill + len > RUN_BYTES) {
        write();
      }
      if (fill === 0 && seg.size === 0) firstTs = maxTs;
      buf.set(batch, fill);
      refs.push({ pos: fill, size: len, baseOffset: h.baseOffset, lastOffset, maxTimestamp: maxTs });
      fill += len;
      runRecords += h.recordCount;
      end = lastOffset + 1;
    }
    write();
  } catch (err) {
    error = toEddyError(err);
  }
  if (count > 0) log.noteAppended(records, size);
  return { count, size, error };
}
