/**
 * The transport-neutral view of a broker that the client commands use.
 * Two implementations: `Api` (api.ts, Eddy's REST API over HTTP, the default)
 * and `KafkaBackend` (kafka-backend.ts, the Kafka protocol, chosen with
 * `--bootstrap-server`). Errors: ApiError (a broker-side error code) or
 * NoBrokerError-style errors when nothing answers.
 */

export interface TopicSummary {
  name: string;
  partitions: number;
  replicationFactor: number;
}

export interface PartitionInfo {
  partition: number;
  leader: number;
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  /** Bytes on disk; null when the transport cannot tell. */
  sizeBytes: number | null;
}

export interface TopicDescription {
  name: string;
  id?: string | undefined;
  replicationFactor: number;
  partitions: PartitionInfo[];
  /** Topic-level overrides (non-default configs). */
  overrides: Record<string, string>;
}

export interface ConfigEntry {
  name: string;
  value: string | number | null;
  isDefault: boolean;
}

export interface CreateTopicSpec {
  name: string;
  partitions?: number;
  replicationFactor?: number;
  configs?: Record<string, string>;
}

/** A record to produce; key, value and header values are text (null = absent). */
export interface ProduceRecord {
  key?: string | null;
  value: string | null;
  headers?: Array<{ key: string; value: string | null }>;
  partition?: number;
}

export type Acks = 0 | 1 | -1;

/** Where each produced record landed, in input order (offset -1 with acks=0). */
export interface ProducedOffset {
  partition: number;
  offset: number;
}

export interface ConsumedRecord {
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Array<{ key: string; value: Uint8Array | null }>;
}

export interface GroupPartition {
  topic: string;
  partition: number;
  committedOffset: number;
  logEndOffset: number;
  highWatermark: number;
  lag: number;
}

export type ResetTo =
  | "earliest"
  | "latest"
  | { offset: number }
  | { timestamp: number }
  | { shiftBy: number };

export interface ResetRequest {
  topic: string;
  partitions?: number[];
  to: ResetTo;
  dryRun: boolean;
}

export interface ResetResult {
  group: string;
  topic: string;
  dryRun: boolean;
  partitions: Array<{ partition: number; previousOffset: number | null; newOffset: number }>;
}

/** Records of one partition, in offset order. */
export interface ReadBatch {
  partition: number;
  records: ConsumedRecord[];
}

export interface ReaderOptions {
  topic: string;
  /**
   * Assigned partitions with their start offsets; or "subscribe" to join
   * `group` as a member and read what the coordinator assigns (from the
   * committed offsets, else earliest/latest per `fromBeginning`).
   */
  assignment: Map<number, number> | "subscribe";
  group?: string | undefined;
  fromBeginning?: boolean;
  /** Upper bound of records wanted from the next read (a hint). */
  maxRecords: () => number;
  /** Longest single long poll. */
  pollMs: number;
  /** Tell the user something (e.g. an offset was out of range). */
  warn: (message: string) => void;
  /** Stops the reader: `batches()` ends. */
  signal: AbortSignal;
}

export interface RecordReader {
  /** Batches as they arrive; ends when the signal aborts. Throws on the first failure. */
  batches(): AsyncIterable<ReadBatch>;
  /** Commit `offset` (the next offset to read) for the group; a no-op without one. */
  commit(partition: number, offset: number): Promise<void>;
  close(): Promise<void>;
}

export interface CliBackend {
  /** Where the broker is, for messages ("http://…" or "host:port"). */
  readonly target: string;
  /** True when `openReader` can join a group as a member ("subscribe"); HTTP only commits. */
  readonly groupMembership: boolean;
  /** Fails with a "no broker answers" error when nothing answers. */
  ping(): Promise<void>;
  listTopics(): Promise<TopicSummary[]>;
  describeTopic(topic: string): Promise<TopicDescription>;
  /** Partition numbers of a topic, ascending (fails when it does not exist). */
  partitionsOf(topic: string): Promise<number[]>;
  createTopic(spec: CreateTopicSpec): Promise<void>;
  deleteTopic(topic: string): Promise<void>;
  /** Grow a topic to `count` partitions; resolves to the new count. */
  createPartitions(topic: string, count: number): Promise<number>;
  getConfigs(topic: string): Promise<ConfigEntry[]>;
  alterConfigs(topic: string, set: Record<string, string>, reset: string[]): Promise<void>;
  produce(topic: string, records: ProduceRecord[], acks: Acks): Promise<ProducedOffset[]>;
  listOffset(topic: string, partition: number, at: "earliest" | "latest" | number): Promise<number>;
  /** Advance the log start offset; resolves to the new low watermark. */
  deleteRecords(topic: string, partition: number, beforeOffset: number): Promise<number>;
  listGroups(): Promise<string[]>;
  /** Committed offsets and lag; [] when the group has none. */
  describeGroup(group: string): Promise<GroupPartition[]>;
  resetOffsets(group: string, req: ResetRequest): Promise<ResetResult>;
  deleteGroup(group: string): Promise<void>;
  openReader(opts: ReaderOptions): Promise<RecordReader>;
  /** Release connections. */
  close(): Promise<void>;
}
