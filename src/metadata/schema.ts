/**
 * The metadata database's tables (drizzle sqlite-core). This file is the
 * source of truth for `bun run db:generate`: change a table here, run the
 * script, and commit the new SQL in ./migrations plus the regenerated
 * ./generated/migrations.ts that embeds it in the binary.
 *
 * Conventions, so later tables (producer state, transactions, MQTT sessions,
 * mirror progress, users/ACLs) fit in without reshaping these:
 * - snake_case table and column names; times are integer milliseconds since
 *   the epoch; offsets and epochs are integers (safe JS numbers);
 * - rows that belong to a topic reference `topics.name` with ON DELETE
 *   CASCADE, except state that must outlive a topic's deletion or be removed
 *   explicitly (group offsets, see below);
 * - never edit a migration that has shipped: add a new one.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Small key/value settings: cluster id, node id, format markers. */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

export const topics = sqliteTable("topics", {
  name: text("name").primaryKey(),
  /** UUID, Kafka's topic id; stable for the topic's lifetime. */
  id: text("id").notNull().unique(),
  partitions: integer("partitions").notNull(),
  replicationFactor: integer("replication_factor").notNull(),
  createdAt: integer("created_at").notNull(),
});

/** Per-topic config overrides with Kafka-style keys ("retention.ms"). */
export const topicConfigs = sqliteTable(
  "topic_configs",
  {
    topic: text("topic")
      .notNull()
      .references(() => topics.name, { onDelete: "cascade" }),
    key: text("key").notNull(),
    value: text("value").notNull(),
  },
  (t) => [primaryKey({ columns: [t.topic, t.key] })],
);

/**
 * One row per partition of a topic. Holds per-partition cluster state
 * (leader epoch now; leader, replicas and ISR when replication arrives).
 */
export const partitions = sqliteTable(
  "partitions",
  {
    topic: text("topic")
      .notNull()
      .references(() => topics.name, { onDelete: "cascade" }),
    partition: integer("partition").notNull(),
    leaderEpoch: integer("leader_epoch").notNull().default(0),
    /** Cluster mode: the leader's node id (-1: none). Unused on a single node. */
    leader: integer("leader").notNull().default(-1),
    /** Cluster mode: JSON array of replica node ids, preferred leader first. */
    replicas: text("replicas").notNull().default(sql`'[]'`),
    /** Cluster mode: JSON array of in-sync replica node ids. */
    isr: text("isr").notNull().default(sql`'[]'`),
    /**
     * Cluster mode: this node's last checkpoint of the partition's high
     * watermark (-1: none). Local, not part of the metadata log: a restarted
     * replica never exposes more than was committed (Kafka's
     * replication-offset-checkpoint).
     */
    highWatermark: integer("high_watermark").notNull().default(-1),
  },
  (t) => [primaryKey({ columns: [t.topic, t.partition] })],
);

/** Cluster mode: the nodes registered through the metadata log (src/cluster/metadata-machine.ts). */
export const clusterNodes = sqliteTable("cluster_nodes", {
  id: integer("id").primaryKey(),
  /** 1: a witness (votes in Raft, holds no partition data). */
  witness: integer("witness").notNull().default(0),
  registeredAt: integer("registered_at").notNull(),
});

/**
 * Leader-epoch cache of a partition replica (Kafka's leader-epoch-checkpoint):
 * the first offset written in each leader epoch, for truncation on failover.
 */
export const leaderEpochs = sqliteTable(
  "leader_epochs",
  {
    topic: text("topic")
      .notNull()
      .references(() => topics.name, { onDelete: "cascade" }),
    partition: integer("partition").notNull(),
    epoch: integer("epoch").notNull(),
    startOffset: integer("start_offset").notNull(),
  },
  (t) => [primaryKey({ columns: [t.topic, t.partition, t.epoch] })],
);

/**
 * Consumer-group committed offsets. No foreign key to `topics`: Kafka keeps
 * a group's offsets independent of topic lifecycle, and the broker deletes
 * them explicitly (deleteOffsetsForTopic) when a topic goes away.
 */
export const groupOffsets = sqliteTable(
  "group_offsets",
  {
    group: text("group").notNull(),
    topic: text("topic").notNull(),
    partition: integer("partition").notNull(),
    offset: integer("offset").notNull(),
    leaderEpoch: integer("leader_epoch").notNull().default(-1),
    metadata: text("metadata").notNull().default(sql`''`),
    commitTimestamp: integer("commit_timestamp").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.group, t.topic, t.partition] }),
    index("group_offsets_topic_idx").on(t.topic),
  ],
);

/**
 * Idempotent/transactional producer state of one partition, as of
 * `snapshot_offset` (every batch below it is reflected). On open the broker
 * loads the snapshot and replays the log from that offset. `producers` and
 * `aborted` are JSON (see src/txn/producer-state.ts for their shape).
 */
export const producerState = sqliteTable(
  "producer_state",
  {
    topic: text("topic")
      .notNull()
      .references(() => topics.name, { onDelete: "cascade" }),
    partition: integer("partition").notNull(),
    snapshotOffset: integer("snapshot_offset").notNull(),
    producers: text("producers").notNull(),
    aborted: text("aborted").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.topic, t.partition] })],
);

/**
 * The transaction coordinator's state per transactional.id. `partitions`,
 * `groups` and `pending_offsets` are JSON (src/txn/coordinator.ts). A row in
 * PrepareCommit/PrepareAbort at start-up is completed by writing its markers.
 */
export const transactions = sqliteTable("transactions", {
  transactionalId: text("transactional_id").primaryKey(),
  producerId: integer("producer_id").notNull(),
  producerEpoch: integer("producer_epoch").notNull(),
  timeoutMs: integer("timeout_ms").notNull(),
  state: text("state").notNull(),
  partitions: text("partitions").notNull(),
  groups: text("groups").notNull(),
  pendingOffsets: text("pending_offsets").notNull(),
  startedAt: integer("started_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});
