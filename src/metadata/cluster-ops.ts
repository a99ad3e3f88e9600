/**
 * Cluster-mode state: partition assignments (leader, leader epoch, replicas,
 * ISR) on the `partitions` rows, registered nodes, and each local replica's
 * leader-epoch cache. Written by the metadata state machine
 * (src/cluster/metadata-machine.ts) and the replica manager; a single node
 * never touches these.
 */
import type { Database } from "bun:sqlite";
import { and, asc, eq } from "drizzle-orm";
import type { Db } from "./db.ts";
import { clusterNodes, leaderEpochs, partitions } from "./schema.ts";
import type { ClusterNodeRecord, LeaderEpochEntry, PartitionAssignment } from "./types.ts";

export interface ClusterOps {
  listAssignments(topic?: string): PartitionAssignment[];
  setAssignments(list: readonly PartitionAssignment[]): void;
  listNodes(): ClusterNodeRecord[];
  registerNode(node: ClusterNodeRecord): void;
  getLeaderEpochs(topic: string, partition: number): LeaderEpochEntry[];
  setLeaderEpochs(topic: string, partition: number, entries: readonly LeaderEpochEntry[]): void;
  getHighWatermark(topic: string, partition: number): number;
  setHighWatermarks(list: ReadonlyArray<{ topic: string; partition: number; highWatermark: number }>): void;
}

type PartitionRow = typeof partitions.$inferSelect;

export function createClusterOps(client: Database, db: Db): ClusterOps {
  const setAssignments = client.transaction((list: readonly PartitionAssignment[]): void => {
    for (const a of list) {
      db.update(partitions)
        .set({
          leader: a.leader,
          leaderEpoch: a.leaderEpoch,
          replicas: JSON.stringify(a.replicas),
          isr: JSON.stringify(a.isr),
        })
        .where(and(eq(partitions.topic, a.topic), eq(partitions.partition, a.partition)))
        .run();
    }
  });
  const setLeaderEpochs = client.transaction(
    (topic: string, partition: number, entries: readonly LeaderEpochEntry[]): void => {
      db.delete(leaderEpochs)
        .where(and(eq(leaderEpochs.topic, topic), eq(leaderEpochs.partition, partition)))
        .run();
      for (const e of entries) {
        db.insert(leaderEpochs)
          .values({ topic, partition, epoch: e.epoch, startOffset: e.startOffset })
          .run();
      }
    },
  );
  const setHighWatermarks = client.transaction(
    (list: ReadonlyArray<{ topic: string; partition: number; highWatermark: number }>): void => {
      for (const h of list) {
        db.update(partitions)
          .set({ highWatermark: h.highWatermark })
          .where(and(eq(partitions.topic, h.topic), eq(partitions.partition, h.partition)))
          .run();
      }
    },
  );
  return {
    getHighWatermark: (topic, partition) =>
      db
        .select({ hw: partitions.highWatermark })
        .from(partitions)
        .where(and(eq(partitions.topic, topic), eq(partitions.partition, partition)))
        .get()?.hw ?? -1,
    setHighWatermarks: (list) => setHighWatermarks(list),
    listAssignments: (topic) => {
      const q = db.select().from(partitions);
      const rows = topic === undefined ? q.all() : q.where(eq(partitions.topic, topic)).all();
      return rows
        .map(toAssignment)
        .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
    },
    setAssignments: (list) => setAssignments(list),
    listNodes: () =>
      db
        .select()
        .from(clusterNodes)
        .orderBy(asc(clusterNodes.id))
        .all()
        .map((r) => ({ id: r.id, witness: r.witness === 1, registeredAt: r.registeredAt })),
    registerNode: (node) => {
      db.insert(clusterNodes)
        .values({ id: node.id, witness: node.witness ? 1 : 0, registeredAt: node.registeredAt })
        .onConflictDoUpdate({ target: clusterNodes.id, set: { witness: node.witness ? 1 : 0 } })
        .run();
    },
    getLeaderEpochs: (topic, partition) =>
      db
        .select({ epoch: leaderEpochs.epoch, startOffset: leaderEpochs.startOffset })
        .from(leaderEpochs)
        .where(and(eq(leaderEpochs.topic, topic), eq(leaderEpochs.partition, partition)))
        .orderBy(asc(leaderEpochs.epoch))
        .all(),
    setLeaderEpochs: (topic, partition, entries) => setLeaderEpochs(topic, partition, entries),
  };
}

function toAssignment(row: PartitionRow): PartitionAssignment {
  return {
    topic: row.topic,
    partition: row.partition,
    leader: row.leader,
    leaderEpoch: row.leaderEpoch,
    replicas: parseIds(row.replicas),
    isr: parseIds(row.isr),
  };
}

function parseIds(json: string): number[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((x): x is number => Number.isSafeInteger(x)) : [];
  } catch {
    return [];
  }
}
