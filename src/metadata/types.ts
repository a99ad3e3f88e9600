/**
 * The metadata store's interface. Only src/metadata imports drizzle or
 * bun:sqlite; everything else sees these plain types.
 */

export interface TopicRecord {
  name: string;
  /** Stable id (UUID), as Kafka's topic id. */
  id: string;
  partitions: number;
  replicationFactor: number;
  /** Per-topic overrides, Kafka-style keys ("retention.ms" -> "3600000"). */
  configs: Record<string, string>;
  createdAt: number;
}

export interface CommittedOffset {
  group: string;
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
}

/** A partition's producer-state snapshot; `producers` and `aborted` are JSON owned by src/txn. */
export interface ProducerStateRecord {
  topic: string;
  partition: number;
  /** Every batch below this offset is reflected in the snapshot. */
  snapshotOffset: number;
  producers: string;
  aborted: string;
  updatedAt: number;
}

/** A transactional.id's coordinator state (src/txn/coordinator.ts). */
export interface TransactionRecord {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  timeoutMs: number;
  /** "Empty" | "Ongoing" | "PrepareCommit" | "PrepareAbort" | "CompleteCommit" | "CompleteAbort". */
  state: string;
  partitions: Array<{ topic: string; partition: number }>;
  groups: string[];
  /** TxnOffsetCommit offsets, applied to the groups on commit. */
  pendingOffsets: Array<Omit<CommittedOffset, "commitTimestamp">>;
  startedAt: number;
  updatedAt: number;
}

/** Cluster mode: who leads a partition, in which epoch, and which replicas are in sync. */
export interface PartitionAssignment {
  topic: string;
  partition: number;
  /** Node id of the leader, -1 when no replica can lead. */
  leader: number;
  leaderEpoch: number;
  /** Replica node ids, preferred leader first. */
  replicas: number[];
  isr: number[];
}

export interface ClusterNodeRecord {
  id: number;
  witness: boolean;
  registeredAt: number;
}

/** The first offset a replica's log holds in a leader epoch. */
export interface LeaderEpochEntry {
  epoch: number;
  startOffset: number;
}

export interface MetadataStore {
  listTopics(): TopicRecord[];
  getTopic(name: string): TopicRecord | null;
  /** Throws EddyError TOPIC_EXISTS if present. */
  createTopic(topic: TopicRecord): void;
  deleteTopic(name: string): void;
  /** Replace the topic's overrides with `configs`. */
  setTopicConfigs(name: string, configs: Record<string, string>): void;
  setPartitionCount(name: string, partitions: number): void;

  commitOffsets(offsets: CommittedOffset[]): void;
  /** All committed offsets of a group, optionally only for one topic. */
  fetchOffsets(group: string, topic?: string): CommittedOffset[];
  listGroups(): string[];
  deleteGroup(group: string): void;
  /** Delete committed offsets of a group for specific partitions. */
  deleteOffsets(group: string, partitions: Array<{ topic: string; partition: number }>): void;
  /** Drop committed offsets for a deleted topic across all groups. */
  deleteOffsetsForTopic(topic: string): void;

  /** Small key/value settings (cluster id, etc.). */
  getSetting(key: string): string | null;
  setSetting(key: string, value: string): void;

  /** Next producer id (persisted counter, never reused). */
  allocateProducerId(): number;
  getProducerState(topic: string, partition: number): ProducerStateRecord | null;
  saveProducerState(state: ProducerStateRecord): void;
  listTransactions(): TransactionRecord[];
  /** Insert or replace; fsynced (coordinator decisions must survive power loss). */
  saveTransaction(txn: TransactionRecord): void;
  deleteTransaction(transactionalId: string): void;

  // Cluster mode (src/cluster): partition assignments on the partition rows, nodes, leader-epoch caches.
  /** Every partition's assignment (of one topic if given), by topic then partition. */
  listPartitionAssignments(topic?: string): PartitionAssignment[];
  /** Update existing partition rows (one transaction; rows that do not exist are ignored). */
  setPartitionAssignments(list: readonly PartitionAssignment[]): void;
  listClusterNodes(): ClusterNodeRecord[];
  /** Insert or update a node. */
  registerClusterNode(node: ClusterNodeRecord): void;
  /** A local replica's leader-epoch cache, by epoch. */
  getLeaderEpochs(topic: string, partition: number): LeaderEpochEntry[];
  /** Replace a local replica's leader-epoch cache. */
  setLeaderEpochs(topic: string, partition: number, entries: readonly LeaderEpochEntry[]): void;
  /** A local replica's last checkpointed high watermark, -1 when none. */
  getHighWatermark(topic: string, partition: number): number;
  /** Checkpoint local replicas' high watermarks (one transaction; missing rows are ignored). */
  setHighWatermarks(list: ReadonlyArray<{ topic: string; partition: number; highWatermark: number }>): void;

  close(): void;
}
