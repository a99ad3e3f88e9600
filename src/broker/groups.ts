/**
 * Wires the group coordinator (src/groups) to the broker: committed offsets
 * live in the metadata store (group-offsets.ts), and a member-checked commit
 * validates each partition on its own, committing the valid ones (Kafka
 * answers OffsetCommit per partition).
 *
 * Cluster mode: the coordinator serves only the groups whose
 * __consumer_offsets partition this node leads and has loaded (`owner`), and
 * commits are replicated there before they count (src/cluster/coordinator-offsets.ts).
 */
import { EddyError, ErrorCode, toEddyError } from "../errors.ts";
import { GroupCoordinator, type GroupOffsetStore, systemTimers } from "../groups/index.ts";
import type { GroupCommitRequest } from "../groups/types.ts";
import type { CommittedOffset } from "../metadata/types.ts";
import type { BrokerContext } from "./context.ts";
import { MAX_COMMIT_METADATA_BYTES } from "./group-offsets.ts";
import type { BrokerOptions } from "./options.ts";

export function createGroupCoordinator(
  ctx: BrokerContext,
  options: BrokerOptions["groups"],
): GroupCoordinator {
  return new GroupCoordinator({
    timers: options?.timers ?? systemTimers,
    logger: ctx.logger,
    store: offsetStore(ctx),
    options,
    ...(ctx.coordinators
      ? { owner: (groupId: string) => ctx.coordinators!.offsets.partitions.check(groupId) }
      : {}),
  });
}

function offsetStore(ctx: BrokerContext): GroupOffsetStore {
  const cluster = ctx.coordinators?.offsets;
  if (cluster) {
    return {
      groups: () => cluster.groups(),
      delete: (groupId) => cluster.deleteGroup(groupId),
      commit: async (groupId, offsets) => {
        const { errors, rows } = validateEach(ctx, groupId, offsets);
        try {
          await cluster.commit(groupId, rows);
        } catch (err) {
          const code = toEddyError(err).code;
          return errors.map((e) => e ?? code);
        }
        return errors;
      },
    };
  }
  return {
    groups: () => ctx.metadata.listGroups(),
    delete: (groupId) => ctx.metadata.deleteGroup(groupId),
    commit: (groupId, offsets) => commitEach(ctx, groupId, offsets),
  };
}

const encoder = new TextEncoder();

/** Validate each offset; commit the valid ones in one transaction; one error (or null) per offset. */
export function commitEach(
  ctx: BrokerContext,
  groupId: string,
  offsets: GroupCommitRequest["offsets"],
): Array<ErrorCode | null> {
  const { errors, rows } = validateEach(ctx, groupId, offsets);
  if (rows.length > 0) ctx.metadata.commitOffsets(rows);
  return errors;
}

/** One error (or null) per offset, and the rows of the valid ones. */
function validateEach(
  ctx: BrokerContext,
  groupId: string,
  offsets: GroupCommitRequest["offsets"],
): { errors: Array<ErrorCode | null>; rows: CommittedOffset[] } {
  const now = ctx.clock.now();
  const rows: CommittedOffset[] = [];
  const errors = offsets.map((o): ErrorCode | null => {
    try {
      ctx.topics.partition(o.topic, o.partition);
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
        throw new EddyError(ErrorCode.INVALID_REQUEST, `offset ${o.offset} is not a committable offset`);
      }
      const metadata = o.metadata ?? "";
      if (encoder.encode(metadata).length > MAX_COMMIT_METADATA_BYTES)
        return ErrorCode.OFFSET_METADATA_TOO_LARGE;
      rows.push({
        group: groupId,
        topic: o.topic,
        partition: o.partition,
        offset: o.offset,
        leaderEpoch: o.leaderEpoch ?? -1,
        metadata,
        commitTimestamp: now,
      });
      return null;
    } catch (err) {
      return toEddyError(err).code;
    }
  });
  return { errors, rows };
}
