/**
 * BrokerApi: the one door. Every frontend (Kafka, HTTP, CLI) and bridge
 * (MQTT, CoAP, mirror, replication) talks to the broker only through this
 * interface, exported from src/broker/index.ts.
 *
 * Offsets are safe integers. Records carry key, value, headers, timestamp.
 * Raw batches are Kafka RecordBatch v2 bytes (src/log/record-batch.ts).
 */
import type { CleanupPolicy, Durability, RecordHeader, RecordInput, StoredRecord } from "../log/types.ts";
import type { GroupCoordinatorApi } from "../groups/types.ts";
import type {
  AddOffsetsToTxnOptions,
  AddPartitionsToTxnOptions,
  AddPartitionsToTxnResult,
  EndTxnOptions,
  InitProducerIdOptions,
  InitProducerIdResult,
  TransactionDescription,
  TxnError,
  TxnOffsetCommitOptions,
  TxnOffsetCommitResult,
} from "../txn/types.ts";

export type * from "../groups/types.ts";
export type * from "../txn/types.ts";

export type { RecordHeader, RecordInput, StoredRecord };

export type Acks = 0 | 1 | -1;

/** Topic settings exposed to users; Kafka-style names are the keys of `configs`. */
export interface TopicConfigs {
  "retention.ms": number;
  "retention.bytes": number;
  "segment.bytes": number;
  "segment.ms": number;
  "cleanup.policy": CleanupPolicy;
  "delete.retention.ms": number;
  "min.compaction.lag.ms": number;
  "max.message.bytes": number;
  "message.timestamp.type": "CreateTime" | "LogAppendTime";
  /** Eddy's per-topic durability policy. */
  durability: Durability;
  "min.insync.replicas": number;
}
export type TopicConfigKey = keyof TopicConfigs;

export interface CreateTopicRequest {
  name: string;
  /** Default: broker's num.partitions. */
  partitions?: number;
  replicationFactor?: number;
  /** Overrides, as strings or numbers, Kafka-style keys. Unknown keys are rejected. */
  configs?: Record<string, string | number>;
  /** Validate only; create nothing (Kafka validateOnly). */
  validateOnly?: boolean;
}

export interface PartitionInfo {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  lastStableOffset: number;
  sizeBytes: number;
  segments: number;
}

export interface TopicDescription {
  name: string;
  id: string;
  partitions: PartitionInfo[];
  replicationFactor: number;
  /** Effective configs (defaults resolved). */
  configs: TopicConfigs;
  /** Keys explicitly set on the topic. */
  overrides: Record<string, string>;
  internal: boolean;
}

export interface TopicSummary {
  name: string;
  id: string;
  partitions: number;
  replicationFactor: number;
}

/** Produce structured records to one topic; the broker builds the batch. */
export interface ProduceRequest {
  topic: string;
  /** Explicit partition; otherwise chosen per record by key (murmur2) or sticky round-robin. */
  partition?: number;
  records: RecordInput[];
  acks?: Acks;
  /** Max time to wait for durability/replication before TIMEOUT. */
  timeoutMs?: number;
  /**
   * Cluster mode: refuse with NOT_LEADER when this node does not lead the
   * partition. By default (false) such a request is forwarded to the
   * partition's leader over the peer transport (acks waited for there;
   * retried across leader changes within timeoutMs, without duplicates:
   * src/cluster/produce-forwarder.ts), so MQTT, CoAP, HTTP and the mirror
   * work on any node. The Kafka frontend sets it: Kafka clients route
   * themselves by Metadata. No effect on a single node.
   */
  requireLeader?: boolean;
}

export interface ProducedPartition {
  partition: number;
  baseOffset: number;
  lastOffset: number;
  /** Index of each input record -> its offset, in input order. */
  recordCount: number;
  logAppendTime: number;
}

export interface ProduceResult {
  topic: string;
  /** One entry per partition written; -1 offsets when acks=0. */
  partitions: ProducedPartition[];
  /** Per input record: partition and offset (offset -1 when acks=0). */
  records: Array<{ partition: number; offset: number }>;
}

/** Append a raw RecordBatch v2 (Kafka produce, mirror downlink, replication). */
export interface AppendBatchRequest {
  topic: string;
  partition: number;
  /** Not referenced once appendBatch settles: the Kafka frontend reuses the request's memory (the log copies). */
  batch: Uint8Array;
  acks?: Acks;
  timeoutMs?: number;
  /** Producer-supplied leader epoch check (optional). */
  expectedLeaderEpoch?: number;
  /**
   * In-process callers that just encoded the batch themselves (the MQTT
   * bridge): skip re-computing its CRC-32C. The framing is still checked.
   */
  trusted?: boolean;
  /** See ProduceRequest.requireLeader (a forwarded batch's expectedLeaderEpoch is not sent on). */
  requireLeader?: boolean;
  /**
   * Called once the batch is in the log (or recognised as a duplicate), before
   * the acknowledgement wait: a later batch appended after this call lands
   * after this one (the Kafka frontend starts a connection's next Produce then).
   */
  onAppended?: () => void;
}

export interface AppendBatchResult {
  baseOffset: number;
  lastOffset: number;
  logAppendTime: number;
  logStartOffset: number;
  /** Set when an idempotent duplicate was recognised: the original offsets are returned. */
  duplicate?: boolean;
}

export type IsolationLevel = "read_uncommitted" | "read_committed";

export interface FetchPartitionRequest {
  topic: string;
  partition: number;
  offset: number;
  /** Per-partition byte limit. */
  maxBytes?: number;
  currentLeaderEpoch?: number;
}

export interface FetchRequest {
  partitions: FetchPartitionRequest[];
  /** Long-poll: wait up to this long for minBytes. Default 0. */
  maxWaitMs?: number;
  /** Default 1. */
  minBytes?: number;
  /** Response-wide byte limit. */
  maxBytes?: number;
  isolation?: IsolationLevel;
  /** Abort the wait early (client disconnected). */
  signal?: AbortSignal;
}

export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
}

export interface FetchPartitionResult {
  topic: string;
  partition: number;
  /** Error for this partition only (e.g. OFFSET_OUT_OF_RANGE), else null. */
  error: import("../errors.ts").ErrorCode | null;
  errorMessage?: string;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  /** Concatenated RecordBatch v2 bytes (may start before the requested offset). */
  records: Uint8Array;
  abortedTransactions: AbortedTransaction[];
}

export interface FetchResult {
  partitions: FetchPartitionResult[];
}

export type OffsetSpec = "earliest" | "latest" | "max-timestamp" | { timestamp: number };

export interface ListOffsetsResult {
  offset: number;
  timestamp: number;
  leaderEpoch: number;
}

export interface PartitionState {
  topic: string;
  partition: number;
  leaderEpoch: number;
  logStartOffset: number;
  logEndOffset: number;
  flushedOffset: number;
  highWatermark: number;
  lastStableOffset: number;
  /**
   * This node leads the partition (always true on a single node; in a cluster,
   * false on a follower replica). Optional: absent means true.
   */
  leads?: boolean;
  /**
   * Cluster mode: this node holds no replica of the partition and the
   * offsets are the leader's, as last heard (src/cluster/remote-watch.ts).
   * Absent means false.
   */
  remote?: boolean;
}

/** One producer's state on a partition (BrokerApi.describeProducers). */
export interface ActiveProducer {
  producerId: number;
  producerEpoch: number;
  /** Sequence number of the producer's last batch's last record; -1 when none is kept. */
  lastSequence: number;
  /** Max timestamp of its last batch. */
  lastTimestamp: number;
  /** First offset of its open transaction on this partition, or -1. */
  currentTxnStartOffset: number;
  /** Coordinator epoch of the last transaction marker written for it here, or -1 when none is known. */
  coordinatorEpoch: number;
}

/** BrokerApi.endOffsetForLeaderEpoch's answer. */
export interface EpochEndOffset {
  leaderEpoch: number;
  endOffset: number;
}

export interface OffsetCommit {
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch?: number;
  metadata?: string;
}

export interface GroupOffset extends Required<OffsetCommit> {
  commitTimestamp: number;
}

/**
 * Cluster mode: the group calls of BrokerApi (commitOffsets, fetchOffsets,
 * groupLag, deleteGroup) on a node that is not the group's coordinator are
 * carried to the coordinator over the peer transport (retried while it moves,
 * src/broker/group-offsets.ts), and listGroups asks every coordinator, so
 * HTTP and the CLI work on any node. `requireCoordinator` (the Kafka
 * frontend sets it: Kafka clients find the coordinator themselves) refuses
 * with NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS /
 * COORDINATOR_NOT_AVAILABLE instead, and listGroups lists only the groups
 * this node coordinates. No effect on a single node.
 */
export interface GroupCallOptions {
  requireCoordinator?: boolean;
}

export interface GroupLag {
  topic: string;
  partition: number;
  committedOffset: number;
  logEndOffset: number;
  highWatermark: number;
  lag: number;
}

/** Fired after records become visible (high watermark moved). */
export interface AppendEvent {
  topic: string;
  partition: number;
  /** New high watermark. */
  highWatermark: number;
}

/** Cluster mode: a node as Kafka clients reach it (address null when not configured). */
export interface ClusterNodeInfo {
  id: number;
  kafkaHost: string | null;
  kafkaPort: number | null;
}

/** Cluster mode: the nodes and the current controller (the metadata leader), for Kafka Metadata. */
export interface ClusterView {
  controllerId: number | null;
  nodes: ClusterNodeInfo[];
}

/** Cluster mode: one partition's reassignment request (KIP-455). */
export interface PartitionReassignmentRequest {
  topic: string;
  partition: number;
  /** Target replicas, preferred leader first; null cancels the reassignment in progress. */
  replicas: number[] | null;
}

/** Cluster mode: a partition reassignment in progress, as the metadata log holds it. */
export interface PartitionReassignment {
  topic: string;
  partition: number;
  /** The replicas before it began (a cancel returns to them). */
  originalReplicas: number[];
  targetReplicas: number[];
  /** The replicas now: the target, then the ones still being removed. */
  replicas: number[];
  addingReplicas: number[];
  removingReplicas: number[];
  leader: number;
  leaderEpoch: number;
  isr: number[];
}

/** Cluster mode: where a group's or transactional id's coordinator is (Kafka FindCoordinator). */
export interface CoordinatorLocation {
  /** COORDINATOR_NOT_AVAILABLE while the coordinator partition has no leader; null when found. */
  error: import("../errors.ts").ErrorCode | null;
  nodeId: number;
  /** The node's Kafka address (null when not configured). */
  host: string | null;
  port: number | null;
}

export interface BrokerStats {
  appendedRecords: number;
  appendedBytes: number;
  fetchedBytes: number;
}

export interface BrokerApi {
  readonly nodeId: number;
  readonly clusterId: string;

  // Topics
  createTopic(req: CreateTopicRequest): Promise<TopicDescription>;
  deleteTopic(name: string): Promise<void>;
  describeTopic(name: string): Promise<TopicDescription>;
  listTopics(): Promise<TopicSummary[]>;
  /** Set (string/number) or reset (null) configs. Unknown keys or bad values throw INVALID_CONFIG. */
  alterTopicConfigs(name: string, changes: Record<string, string | number | null>): Promise<TopicDescription>;
  /** Grow a topic to `count` partitions (never shrinks). */
  createPartitions(name: string, count: number): Promise<TopicDescription>;
  /** Does the topic exist; if auto-create is on, create it with defaults. */
  ensureTopic(name: string): Promise<TopicSummary>;

  // Produce
  produce(req: ProduceRequest): Promise<ProduceResult>;
  appendBatch(req: AppendBatchRequest): Promise<AppendBatchResult>;
  /** The partition a key maps to (Kafka murmur2), for frontends that partition themselves. */
  partitionForKey(topic: string, key: Uint8Array): Promise<number>;

  // Fetch
  fetch(req: FetchRequest): Promise<FetchResult>;
  /** Decoded records from one partition (HTTP, CLI, bridges). Waits up to maxWaitMs if none. */
  readRecords(req: {
    topic: string;
    partition: number;
    offset: number;
    maxRecords?: number;
    maxBytes?: number;
    maxWaitMs?: number;
    isolation?: IsolationLevel;
    signal?: AbortSignal;
  }): Promise<{ records: StoredRecord[]; nextOffset: number; highWatermark: number; logStartOffset: number }>;
  /**
   * Offsets by spec. Cluster mode: `requireLeader` (Kafka) refuses with
   * NOT_LEADER on followers; otherwise a follower answers from its replica
   * (never beyond the high watermark it knows).
   */
  listOffsets(
    topic: string,
    partition: number,
    spec: OffsetSpec,
    opts?: { requireLeader?: boolean },
  ): Promise<ListOffsetsResult>;
  partitionState(topic: string, partition: number): PartitionState;
  /** Advance the log start offset; returns the new low watermark. */
  deleteRecords(topic: string, partition: number, beforeOffset: number): Promise<number>;
  /** Wait until the high watermark of a partition exceeds `offset` (or the signal/timeout ends it). */
  waitForData(
    topic: string,
    partition: number,
    offset: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean>;
  /** Subscribe to visibility events; returns an unsubscribe function. */
  onAppend(listener: (event: AppendEvent) => void): () => void;
  /**
   * Hold back retention for `owner` (e.g. a mirror link): time retention
   * never deletes offsets >= `offset` while any owner's floor is set (the
   * lowest floor of all owners wins); size retention may still force it and
   * then logs it. null clears the owner's floor. Floors live in memory:
   * owners set them again after a restart. Throws TOPIC_NOT_FOUND /
   * PARTITION_NOT_FOUND.
   */
  setRetentionFloor(topic: string, partition: number, owner: string, offset: number | null): void;

  // Consumer-group offsets (cluster mode: run on the group's coordinator, see GroupCallOptions)
  commitOffsets(group: string, offsets: OffsetCommit[], opts?: GroupCallOptions): Promise<void>;
  fetchOffsets(group: string, topic?: string, opts?: GroupCallOptions): Promise<GroupOffset[]>;
  /** Groups with committed offsets (cluster mode: of every coordinator, unless requireCoordinator). */
  listGroups(opts?: GroupCallOptions): Promise<string[]>;
  groupLag(group: string, opts?: GroupCallOptions): Promise<GroupLag[]>;
  deleteGroup(group: string, opts?: GroupCallOptions): Promise<void>;
  /**
   * Classic consumer-group membership (JoinGroup, SyncGroup, Heartbeat,
   * LeaveGroup, describe/list/delete) and member-checked offset commits.
   * Protocol-neutral: results carry ErrorCode values, never throw for group errors.
   */
  readonly groups: GroupCoordinatorApi;

  // Idempotent producers and transactions (src/txn; results carry ErrorCode, never throw for txn errors)
  /** A producer id and epoch: fresh for idempotent producers; bumped (fencing older instances) per transactional.id. */
  initProducerId(req: InitProducerIdOptions): Promise<InitProducerIdResult>;
  addPartitionsToTxn(req: AddPartitionsToTxnOptions): Promise<AddPartitionsToTxnResult>;
  /** Add a consumer group to the transaction (before txnOffsetCommit). */
  addOffsetsToTxn(req: AddOffsetsToTxnOptions): Promise<TxnError>;
  /** Commit or abort: markers on every partition of the transaction, then (commit) its offsets. */
  endTxn(req: EndTxnOptions): Promise<TxnError>;
  /** Offsets committed to the group only if the transaction commits. */
  txnOffsetCommit(req: TxnOffsetCommitOptions): Promise<TxnOffsetCommitResult>;
  /** The transaction coordinator's state, per transactional.id (DescribeTransactions, ListTransactions). */
  describeTransactions(): TransactionDescription[];
  /** Producers with idempotence/transaction state on a partition (DescribeProducers, KIP-664). */
  describeProducers(topic: string, partition: number): ActiveProducer[];
  /**
   * KIP-320 (OffsetForLeaderEpoch): the largest leader epoch <= `leaderEpoch`
   * that this partition's log knows and the offset where it ends (the next
   * epoch's start offset, or the log end offset for the current epoch);
   * -1/-1 when `leaderEpoch` is newer than every known epoch. Throws
   * NOT_LEADER when another node leads the partition.
   */
  endOffsetForLeaderEpoch(topic: string, partition: number, leaderEpoch: number): EpochEndOffset;

  /** Cluster mode: data nodes with their Kafka addresses and the controller; null (or absent) on a single node. */
  clusterView?(): ClusterView | null;
  /**
   * Cluster mode: the coordinator of a consumer group or transactional id (the
   * leader of its __consumer_offsets / __transaction_state partition); null
   * (or absent) on a single node, which coordinates everything itself.
   */
  findCoordinator?(keyType: "group" | "transaction", key: string): Promise<CoordinatorLocation | null>;
  /**
   * Cluster mode: start, replace or cancel (replicas null) partition
   * reassignments; resolves once the controller accepted them all (they
   * complete in the background). Throws INVALID_REQUEST, TOPIC_NOT_FOUND,
   * PARTITION_NOT_FOUND (INVALID_REQUEST also for a cancel with none in progress).
   */
  alterPartitionReassignments?(list: PartitionReassignmentRequest[]): Promise<void>;
  /** Cluster mode: the reassignments in progress. */
  listPartitionReassignments?(): PartitionReassignment[];

  // Housekeeping
  stats(): BrokerStats;
  /** Flush and fsync everything, stop background loops, close logs and metadata. */
  close(): Promise<void>;
}
