/**
 * Consumer-group committed offsets. `commit` is a hot path: one prepared
 * upsert, all rows of a request in one transaction (one WAL commit).
 */
import type { Database } from "bun:sqlite";
import { and, asc, eq, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import { groupOffsets } from "./schema.ts";
import type { CommittedOffset } from "./types.ts";

export interface OffsetOps {
  commit(offsets: CommittedOffset[]): void;
  fetch(group: string, topic?: string): CommittedOffset[];
  listGroups(): string[];
  deleteGroup(group: string): void;
  deletePartitions(group: string, partitions: Array<{ topic: string; partition: number }>): void;
  deleteForTopic(topic: string): void;
}

export function createOffsetOps(client: Database, db: Db): OffsetOps {
  const p = {
    group: sql.placeholder("group"),
    topic: sql.placeholder("topic"),
    partition: sql.placeholder("partition"),
  };
  const upsert = db
    .insert(groupOffsets)
    .values({
      ...p,
      offset: sql.placeholder("offset"),
      leaderEpoch: sql.placeholder("leaderEpoch"),
      metadata: sql.placeholder("metadata"),
      commitTimestamp: sql.placeholder("commitTimestamp"),
    })
    .onConflictDoUpdate({
      target: [groupOffsets.group, groupOffsets.topic, groupOffsets.partition],
      set: {
        offset: sql`excluded.${sql.identifier("offset")}`,
        leaderEpoch: sql`excluded.${sql.identifier("leader_epoch")}`,
        metadata: sql`excluded.${sql.identifier("metadata")}`,
        commitTimestamp: sql`excluded.${sql.identifier("commit_timestamp")}`,
      },
    })
    .prepare();
  const order = [asc(groupOffsets.topic), asc(groupOffsets.partition)];
  const selectGroup = db
    .select()
    .from(groupOffsets)
    .where(eq(groupOffsets.group, p.group))
    .orderBy(...order)
    .prepare();
  const selectGroupTopic = db
    .select()
    .from(groupOffsets)
    .where(and(eq(groupOffsets.group, p.group), eq(groupOffsets.topic, p.topic)))
    .orderBy(...order)
    .prepare();
  const deleteOne = db
    .delete(groupOffsets)
    .where(
      and(
        eq(groupOffsets.group, p.group),
        eq(groupOffsets.topic, p.topic),
        eq(groupOffsets.partition, p.partition),
      ),
    )
    .prepare();
  const deleteGroup = db.delete(groupOffsets).where(eq(groupOffsets.group, p.group)).prepare();
  const deleteTopic = db.delete(groupOffsets).where(eq(groupOffsets.topic, p.topic)).prepare();
  const selectGroups = db
    .selectDistinct({ group: groupOffsets.group })
    .from(groupOffsets)
    .orderBy(asc(groupOffsets.group))
    .prepare();

  const commit = client.transaction((offsets: CommittedOffset[]): void => {
    for (const o of offsets) {
      upsert.run({
        group: o.group,
        topic: o.topic,
        partition: o.partition,
        offset: o.offset,
        leaderEpoch: o.leaderEpoch,
        metadata: o.metadata,
        commitTimestamp: o.commitTimestamp,
      });
    }
  });
  const deletePartitions = client.transaction(
    (group: string, partitions: Array<{ topic: string; partition: number }>): void => {
      for (const { topic, partition } of partitions) deleteOne.run({ group, topic, partition });
    },
  );

  return {
    commit: (offsets) => {
      if (offsets.length > 0) commit(offsets);
    },
    fetch: (group, topic) =>
      topic === undefined ? selectGroup.all({ group }) : selectGroupTopic.all({ group, topic }),
    listGroups: () => selectGroups.all().map((r) => r.group),
    deleteGroup: (group) => {
      deleteGroup.run({ group });
    },
    deletePartitions: (group, partitions) => {
      if (partitions.length > 0) deletePartitions(group, partitions);
    },
    deleteForTopic: (topic) => {
      deleteTopic.run({ topic });
    },
  };
}
