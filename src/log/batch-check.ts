/**
 * The checks every append applies to an incoming batch before it touches the
 * log: within max.message.bytes, a v2 batch with a good CRC-32C (unless the
 * caller built it), and exactly one batch.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import { type BatchHeader, checkBatch } from "./record-batch.ts";

export function checkOneBatch(
  batch: Uint8Array,
  opts: { maxMessageBytes: number; verifyCrc?: boolean; tooLargeHint: string },
): BatchHeader {
  const len = batch.length;
  if (len > opts.maxMessageBytes) {
    throw new EddyError(
      ErrorCode.BATCH_TOO_LARGE,
      `the batch has ${len} bytes, more than the topic's max.message.bytes (${opts.maxMessageBytes}); ${opts.tooLargeHint}`,
      { size: len, max: opts.maxMessageBytes },
    );
  }
  const check = checkBatch(batch, 0, len, opts.verifyCrc ?? true);
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
  return check.header;
}
