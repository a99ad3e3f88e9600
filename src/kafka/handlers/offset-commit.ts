/**
 * OffsetCommit (key 8), versions 2-9.
 *
 * Commits consumer positions into the broker's committed offsets (metadata
 * store, durable). While the group has members the commit must come from a
 * member of the current generation: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
 * REBALANCE_IN_PROGRESS (the group waits for its leader's assignment) or
 * FENCED_INSTANCE_ID (v7+) then apply to every partition and nothing is
 * committed. Generation -1 commits ("simple" consumers, admin tools) are
 * accepted for groups without members. Per partition: UNKNOWN_TOPIC_OR_PARTITION,
 * OFFSET_METADATA_TOO_LARGE (over 4096 bytes), INVALID_REQUEST (negative offset).
 * Deviations: v2-4 retention_time_ms is ignored (offsets are kept until the
 * group or topic is deleted); v9's member epoch is the classic generation id
 * (KIP-848 consumer groups are not served). v0-1 (ZooKeeper-era) are not served.
 * Cluster mode: only the group's coordinator (leader of its __consumer_offsets
 * partition) commits, after replicating the commit there: NOT_COORDINATOR,
 * COORDINATOR_LOAD_IN_PROGRESS or COORDINATOR_NOT_AVAILABLE otherwise.
 * Spec: Kafka protocol guide "OffsetCommit API", KIP-211, KIP-345.
 */
import { ERROR_TABLE, type ErrorCode } from "../../broker/index.ts";
import { OffsetCommit } from "../generated/index.ts";
import type { OffsetCommitRequest } from "../generated/offset-commit-request.ts";
import type { OffsetCommitResponse } from "../generated/offset-commit-response.ts";
import type { Handler } from "./context.ts";

const code = (e: ErrorCode | null): number => (e === null ? 0 : ERROR_TABLE[e].kafka);

function allPartitions(body: OffsetCommitRequest, errorCode: number): OffsetCommitResponse {
  return {
    throttleTimeMs: 0,
    topics: body.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
    })),
  };
}

export const handler: Handler<OffsetCommitRequest, OffsetCommitResponse> = {
  api: OffsetCommit,
  minVersion: 2,
  maxVersion: 9,
  async handle(ctx, header, body) {
    const v = header.apiVersion;
    const offsets = body.topics.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        leaderEpoch: v >= 6 ? p.committedLeaderEpoch : -1,
        metadata: p.committedMetadata ?? "",
      })),
    );
    const r = await ctx.broker.groups.commitOffsets({
      groupId: body.groupId,
      generationId: body.generationIdOrMemberEpoch,
      memberId: body.memberId,
      groupInstanceId: v >= 7 ? body.groupInstanceId : null,
      offsets,
    });
    let i = 0;
    return {
      throttleTimeMs: 0,
      topics: body.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: code(r.partitions[i++]?.error ?? r.error),
        })),
      })),
    };
  },
  errorResponse(body, errorCode) {
    return allPartitions(body, errorCode);
  },
};
