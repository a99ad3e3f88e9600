/**
 * A follower's replicated appends (PartitionLog.appendReplicated): the
 * per-batch rules both logs apply to a leader's batch stored as it is, and
 * the file log's shared run buffer (one per process: runs are built and
 * written synchronously, so logs never share it at the same time).
 */
import { EddyError, ErrorCode } from "../errors.ts";
import { type BatchHeader, checkBatch } from "./record-batch.ts";
import type { PartitionLog, ReplicatedAppendResult } from "./types.ts";

/**
 * Check one replicated batch against the log end it would follow: exactly one
 * v2 batch with a good CRC-32C, within max.message.bytes, starting at or past
 * `logEnd` (a compacted leader's offsets skip). Throws BATCH_TOO_LARGE /
 * UNSUPPORTED_FORMAT / CORRUPT_RECORD / INVALID_REQUEST.
 */
export function checkReplicatedBatch(
  batch: Uint8Array,
  logEnd: number,
  maxMessageBytes: number,
): BatchHeader {
  const len = batch.length;
  if (len > maxMessageBytes) {
    throw new EddyError(
      ErrorCode.BATCH_TOO_LARGE,
      `the batch has ${len} bytes, more than the topic's max.message.bytes (${maxMessageBytes}); raise max.message.bytes to match the leader's`,
      { size: len, max: maxMessageBytes },
    );
  }
  const check = checkBatch(batch, 0, len);
  if (!check.ok) {
    const code = check.reason === "magic" ? ErrorCode.UNSUPPORTED_FORMAT : ErrorCode.CORRUPT_RECORD;
    throw new EddyError(code, `rejected record batch: ${check.message}`, { reason: check.reason });
  }
  if (check.size !== len) {
    throw new EddyError(
      ErrorCode.CORRUPT_RECORD,
      `rejected record batch: ${len - check.size} bytes follow the batch; append exactly one batch`,
    );
  }
  const h = check.header;
  if (h.baseOffset < logEnd) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `the batch starts at offset ${h.baseOffset}, below the log end ${logEnd}; fetch from the log end first`,
      { baseOffset: h.baseOffset, logEndOffset: logEnd },
    );
  }
  return h;
}

let runBuf = Buffer.allocUnsafeSlow(0);

/** The shared buffer a file log copies a run of batches into before its one write (at least `n` bytes). */
export function runBuffer(n: number): Buffer {
  if (runBuf.length < n) runBuf = Buffer.allocUnsafeSlow(Math.max(n, runBuf.length * 2, 64 * 1024));
  return runBuf;
}

/** appendReplicated batch by batch (the memory log; a log without the method): append(assignOffsets: false) each. */
export async function appendEach(
  log: PartitionLog,
  batches: readonly Uint8Array[],
): Promise<ReplicatedAppendResult> {
  let count = 0;
  let size = 0;
  for (const batch of batches) {
    try {
      size += (await log.append(batch, { assignOffsets: false })).size;
    } catch (err) {
      return { count, size, error: err as Error };
    }
    count++;
  }
  return { count, size, error: null };
}
