/**
 * Leader-epoch checks (KIP-320): a client that names a leader epoch older
 * than ours is fenced; a newer one means we are not (yet) the leader it knows.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { Partition } from "./partition.ts";

/** Cluster mode: NOT_LEADER when another node (or none) leads the partition; null when this node leads. */
export function notLeaderError(partition: Partition): EddyError | null {
  if (partition.leads) return null;
  const leader = partition.assignment?.leader ?? -1;
  const who = leader >= 0 ? `node ${leader} leads it` : "it has no leader right now";
  return new EddyError(
    ErrorCode.NOT_LEADER,
    `this node does not lead ${partition.topic}-${partition.id} (${who}): refresh metadata and retry`,
    { topic: partition.topic, partition: partition.id, leader },
  );
}

export function checkLeader(partition: Partition): void {
  const err = notLeaderError(partition);
  if (err) throw err;
}

/** The error for a mismatching epoch, or null when it matches or is not given (-1 / undefined). */
export function leaderEpochError(partition: Partition, epoch: number | undefined): EddyError | null {
  const notLeader = notLeaderError(partition);
  if (notLeader) return notLeader;
  if (epoch === undefined || epoch < 0 || epoch === partition.leaderEpoch) return null;
  const where = `${partition.topic}-${partition.id}`;
  if (epoch < partition.leaderEpoch) {
    return new EddyError(
      ErrorCode.FENCED_LEADER_EPOCH,
      `leader epoch ${epoch} for ${where} is older than the current ${partition.leaderEpoch}: refresh metadata`,
    );
  }
  return new EddyError(
    ErrorCode.NOT_LEADER,
    `leader epoch ${epoch} for ${where} is newer than this node's ${partition.leaderEpoch}: refresh metadata`,
  );
}

export function checkLeaderEpoch(partition: Partition, epoch: number | undefined): void {
  const err = leaderEpochError(partition, epoch);
  if (err) throw err;
}

/**
 * Kafka's LeaderEpochFileCache.endOffsetFor over a replica's epoch cache
 * (oldest first): the largest epoch <= `requested` and where it ends (the next
 * epoch's start offset, or `logEndOffset` for the latest); -1/-1 when
 * `requested` is -1 or newer than every cached epoch; (`requested`, first
 * start offset) when it is older than all of them.
 */
export function endOffsetForEpoch(
  epochs: readonly { epoch: number; startOffset: number }[],
  requested: number,
  logEndOffset: number,
): { leaderEpoch: number; endOffset: number } {
  const latest = epochs.at(-1);
  if (requested < 0 || latest === undefined) return { leaderEpoch: -1, endOffset: -1 };
  if (requested === latest.epoch) return { leaderEpoch: requested, endOffset: logEndOffset };
  const higher = epochs.findIndex((e) => e.epoch > requested);
  if (higher < 0) return { leaderEpoch: -1, endOffset: -1 };
  const endOffset = epochs[higher]!.startOffset;
  return higher === 0
    ? { leaderEpoch: requested, endOffset }
    : { leaderEpoch: epochs[higher - 1]!.epoch, endOffset };
}
