/**
 * Consumer-group committed offsets, stored in the MetadataStore: commit
 * (topic and partition must exist), fetch, list groups, lag (committed
 * offset versus high watermark) and delete.
 *
 * EXTENSION POINT (group coordinator): once src/groups tracks members,
 * deleteGroup must refuse a group with live members (GROUP_NOT_EMPTY) and
 * commits must check the generation and member id.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { CommittedOffset } from "../metadata/types.ts";
import type { BrokerContext } from "./context.ts";
import type { GroupLag, GroupOffset, OffsetCommit } from "./types.ts";

/** Kafka's offset.metadata.max.bytes default. */
export const MAX_COMMIT_METADATA_BYTES = 4096;
const MAX_GROUP_ID_LENGTH = 255;

function validateGroupId(group: unknown): asserts group is string {
  if (typeof group !== "string" || group.length === 0 || group.length > MAX_GROUP_ID_LENGTH) {
    throw new EddyError(
      ErrorCode.INVALID_GROUP_ID,
      `group id must be a non-empty string of at most ${MAX_GROUP_ID_LENGTH} characters`,
    );
  }
}

export function commitOffsets(ctx: BrokerContext, group: string, offsets: OffsetCommit[]): void {
  validateGroupId(group);
  if (!Array.isArray(offsets)) throw new EddyError(ErrorCode.INVALID_REQUEST, "offsets must be an array");
  const now = ctx.clock.now();
  const rows: CommittedOffset[] = offsets.map((o) => {
    ctx.topics.partition(o.topic, o.partition);
    if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `committed offset for ${o.topic}-${o.partition} must be a non-negative integer, got ${o.offset}`,
      );
    }
    const metadata = o.metadata ?? "";
    if (new TextEncoder().encode(metadata).length > MAX_COMMIT_METADATA_BYTES) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `commit metadata for ${o.topic}-${o.partition} is over ${MAX_COMMIT_METADATA_BYTES} bytes: shorten it`,
      );
    }
    return {
      group,
      topic: o.topic,
      partition: o.partition,
      offset: o.offset,
      leaderEpoch: o.leaderEpoch ?? -1,
      metadata,
      commitTimestamp: now,
    };
  });
  if (rows.length > 0) ctx.metadata.commitOffsets(rows);
}

export function fetchOffsets(ctx: BrokerContext, group: string, topic?: string): GroupOffset[] {
  validateGroupId(group);
  return ctx.metadata.fetchOffsets(group, topic).map((c) => ({
    topic: c.topic,
    partition: c.partition,
    offset: c.offset,
    leaderEpoch: c.leaderEpoch,
    metadata: c.metadata,
    commitTimestamp: c.commitTimestamp,
  }));
}

export function listGroups(ctx: BrokerContext): string[] {
  return ctx.metadata.listGroups();
}

/** Lag per committed partition that still exists: high watermark minus committed offset, as kafka-consumer-groups shows it (never negative). */
export function groupLag(ctx: BrokerContext, group: string): GroupLag[] {
  validateGroupId(group);
  const lags: GroupLag[] = [];
  for (const c of ctx.metadata.fetchOffsets(group)) {
    const p = ctx.topics.get(c.topic)?.partitions[c.partition];
    if (!p) continue;
    const t = p.tracker;
    lags.push({
      topic: c.topic,
      partition: c.partition,
      committedOffset: c.offset,
      logEndOffset: t.logEndOffset,
      highWatermark: t.highWatermark,
      lag: Math.max(0, t.highWatermark - c.offset),
    });
  }
  return lags.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

export function deleteGroup(ctx: BrokerContext, group: string): void {
  validateGroupId(group);
  if (!ctx.metadata.listGroups().includes(group)) {
    throw new EddyError(ErrorCode.GROUP_NOT_FOUND, `group '${group}' has no committed offsets`, { group });
  }
  ctx.metadata.deleteGroup(group);
}
