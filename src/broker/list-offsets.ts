/**
 * ListOffsets (Kafka semantics): earliest = log start offset, latest = high
 * watermark, max-timestamp = the record with the largest timestamp, and by
 * timestamp = the first offset whose timestamp is >= the given one. Only
 * committed records (below the high watermark) are ever answered; when no
 * record qualifies the answer is offset -1, timestamp -1, as Kafka returns.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { TimestampLookup } from "../log/types.ts";
import { isAbsentLog } from "./absent-log.ts";
import { checkLeader } from "./epochs.ts";
import type { Partition } from "./partition.ts";
import type { ListOffsetsResult, OffsetSpec } from "./types.ts";

/**
 * `requireLeader` (the Kafka frontend) refuses on followers as Kafka does;
 * other frontends (HTTP, CLI) are answered from a local replica up to the
 * high watermark it knows. A node without a replica always refuses.
 */
export async function listOffsets(
  p: Partition,
  spec: OffsetSpec,
  opts: { requireLeader?: boolean } = {},
): Promise<ListOffsetsResult> {
  if (opts.requireLeader || isAbsentLog(p.log)) checkLeader(p);
  const t = p.tracker;
  const leaderEpoch = p.leaderEpoch;
  if (spec === "earliest") return { offset: t.logStartOffset, timestamp: -1, leaderEpoch };
  if (spec === "latest") return { offset: t.highWatermark, timestamp: -1, leaderEpoch };
  let found: TimestampLookup | null;
  if (spec === "max-timestamp") {
    found = await p.log.maxTimestamp();
  } else if (
    typeof spec === "object" &&
    spec !== null &&
    Number.isSafeInteger(spec.timestamp) &&
    spec.timestamp >= 0
  ) {
    found = await p.log.offsetForTimestamp(spec.timestamp);
  } else {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `offset spec must be 'earliest', 'latest', 'max-timestamp' or { timestamp: ms >= 0 }, got ${JSON.stringify(spec)}`,
    );
  }
  if (!found || found.offset >= t.highWatermark) return { offset: -1, timestamp: -1, leaderEpoch };
  return { offset: Math.max(found.offset, t.logStartOffset), timestamp: found.timestamp, leaderEpoch };
}
