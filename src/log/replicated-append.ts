/**
 * A follower's replicated appends (PartitionLog.appendReplicated): the
 * per-batch rules both logs apply to a leader's batch stored as it is, and
 * the file log's shared run buffer (one per process: runs are built and
 * written synchronously, so logs never share it at the same time).
 */
import { EddyError, ErrorCode } from "../errors.ts";
import { checkOneBatch } from "./batch-check.ts";
import type { BatchHeader } from "./record-batch.ts";
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
  const h = checkOneBatch(batch, {
    maxMessageBytes,
    tooLargeHint: "raise max.message.bytes to match the leader's",
  });
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
