/**
 * The storage engine's narrow interface. Two implementations pass one
 * conformance suite (test/log/conformance.ts): the file log (`file-log.ts`,
 * segments on disk) and its in-memory twin (`memory-log.ts`).
 *
 * Offsets are safe integers (`number`) throughout Eddy; the Kafka codec
 * converts at the wire. A "batch" is Kafka RecordBatch v2 bytes
 * (see record-batch.ts); the log stores them exactly as they travel.
 */

export interface RecordHeader {
  key: string;
  value: Uint8Array | null;
}

/** A record as a producer gives it. */
export interface RecordInput {
  key?: Uint8Array | null;
  value: Uint8Array | null;
  headers?: RecordHeader[];
  /** Milliseconds since epoch; default: the broker's clock. */
  timestamp?: number;
}

/** A record as stored and delivered. */
export interface StoredRecord {
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: RecordHeader[];
}

export const Durability = {
  /** Acknowledge after fdatasync (group commit). The default. */
  FSYNC: "fsync",
  /** Acknowledge after write(2) into the page cache, like Kafka's default. */
  WRITE: "write",
  /** Acknowledge at once; data may be lost on crash (QoS 0 noise). */
  MEMORY: "memory",
} as const;
export type Durability = (typeof Durability)[keyof typeof Durability];

export const CleanupPolicy = {
  DELETE: "delete",
  COMPACT: "compact",
  COMPACT_DELETE: "compact,delete",
} as const;
export type CleanupPolicy = (typeof CleanupPolicy)[keyof typeof CleanupPolicy];

/** Per-partition log settings (a topic's configs, resolved against defaults). */
export interface LogConfig {
  /** Roll the active segment when it would exceed this many bytes. */
  segmentBytes: number;
  /** Roll the active segment when its first batch is older than this (ms). */
  segmentMs: number;
  /** Delete whole segments whose newest record is older than this (ms); -1 = forever. */
  retentionMs: number;
  /** Delete oldest whole segments while the partition is larger than this; -1 = unlimited. */
  retentionBytes: number;
  cleanupPolicy: CleanupPolicy;
  /** How long tombstones survive compaction (ms). */
  deleteRetentionMs: number;
  /** Do not compact records newer than this (ms). */
  minCompactionLagMs: number;
  durability: Durability;
  /** Largest batch accepted, in bytes (Kafka `max.message.bytes`). */
  maxMessageBytes: number;
  /** Add a sparse index entry every this many bytes of log. */
  indexIntervalBytes: number;
  /** "CreateTime" keeps producer timestamps; "LogAppendTime" stamps the broker's clock. */
  timestampType: "CreateTime" | "LogAppendTime";
}

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = {
  segmentBytes: 128 * 1024 * 1024,
  segmentMs: 7 * 24 * 3600 * 1000,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  cleanupPolicy: CleanupPolicy.DELETE,
  deleteRetentionMs: 24 * 3600 * 1000,
  minCompactionLagMs: 0,
  durability: Durability.FSYNC,
  maxMessageBytes: 1024 * 1024 + 12,
  indexIntervalBytes: 4096,
  timestampType: "CreateTime",
};

/** The named offsets of one partition (see offsets.ts for the tracker). */
export interface LogOffsets {
  /** First offset still readable. */
  logStartOffset: number;
  /** Offset the next appended record gets. */
  logEndOffset: number;
  /** Every offset below this is on disk (fdatasync'd). Equals logEndOffset for a memory log. */
  flushedOffset: number;
}

export interface AppendOptions {
  /** Stamp this leader epoch into the batch header (partitionLeaderEpoch). Default: keep 0 / current. */
  leaderEpoch?: number;
  /**
   * true (default): the log assigns offsets (rewrites baseOffset to logEndOffset).
   * false: a replicated batch, stored exactly as the leader stored it
   * (offsets, timestamps, LogAppendTime included, and CRC kept). Its baseOffset
   * must be >= logEndOffset: a compacted leader's batches skip offsets, so
   * gaps are accepted; the log end becomes the batch's lastOffset + 1.
   */
  assignOffsets?: boolean;
  /** The caller has already verified the batch's CRC-32C (the broker checks every produced batch): skip it. */
  crcVerified?: boolean;
}

/** What PartitionLog.appendReplicated wrote: batches[0, count) and their bytes. */
export interface ReplicatedAppendResult {
  count: number;
  size: number;
  /** Why batches[count] was refused (an EddyError); null when every batch was written. */
  error: Error | null;
}

export interface AppendInfo {
  baseOffset: number;
  lastOffset: number;
  /** Max timestamp of the batch as stored (LogAppendTime applied). */
  maxTimestamp: number;
  /** The broker's clock at append (Kafka's logAppendTime, -1 if CreateTime). */
  logAppendTime: number;
  recordCount: number;
  /** Bytes written. */
  size: number;
}

export interface ReadOptions {
  /** Read at most up to (not including) this offset, e.g. the high watermark. */
  maxOffset?: number;
  /**
   * Return at least one batch even if it exceeds maxBytes (Kafka fetch
   * semantics, so a consumer never gets stuck). Default true.
   */
  minOneBatch?: boolean;
}

export interface ReadResult {
  /**
   * Whole RecordBatch v2 batches, concatenated, as stored. The first batch
   * contains the requested offset (it may start before it: consumers skip
   * records below the offset they asked for, as in Kafka).
   */
  bytes: Uint8Array;
  /** Offset after the last record included; equals the requested offset if nothing was read. */
  nextOffset: number;
  /** Number of batches included. */
  batchCount: number;
}

export interface TimestampLookup {
  /** First offset whose timestamp is >= the requested one. */
  offset: number;
  timestamp: number;
}

export interface RetentionResult {
  deletedSegments: number;
  deletedBytes: number;
  logStartOffset: number;
}

export interface CompactionResult {
  /** Records dropped because a later record had the same key (or tombstones expired). */
  removedRecords: number;
  bytesBefore: number;
  bytesAfter: number;
}

/** A partition's append-only log. Writes are serialised by the caller (one writer per partition). */
export interface PartitionLog {
  readonly topic: string;
  readonly partition: number;
  offsets(): LogOffsets;
  config(): LogConfig;
  /** Apply changed topic configs (segment sizes, retention, durability...). */
  reconfigure(config: LogConfig): void;

  /**
   * Validate (magic 2, length, CRC-32C, size <= maxMessageBytes), assign
   * offsets, write. Returns once written to the file (not yet durable).
   * Throws EddyError CORRUPT_RECORD / BATCH_TOO_LARGE / UNSUPPORTED_FORMAT /
   * STORAGE_FULL / STORAGE_ERROR; a failed append leaves the log unchanged.
   */
  append(batch: Uint8Array, opts?: AppendOptions): Promise<AppendInfo>;
  /**
   * A follower's run of the leader's batches, each under the assignOffsets:
   * false rules of `append` (validated with its CRC, baseOffset at or past the
   * log end, gaps allowed, offsets, timestamps and leader epochs kept), written
   * with as few writes as segment rolls allow. A refused batch stops the run:
   * the batches before it stay written and the refusal comes back as `error`.
   * Optional: without it, callers append the batches one by one.
   */
  appendReplicated?(batches: readonly Uint8Array[]): Promise<ReplicatedAppendResult>;
  /**
   * Resolve once every offset below `offset` is durable under the log's
   * durability policy (fsync: fdatasync'd by the group-commit loop; write and
   * memory: at once).
   */
  waitDurable(offset: number): Promise<void>;
  /** Force everything written so far to disk now. */
  flush(): Promise<void>;

  /** Read whole batches starting with the one containing `offset`. Throws OFFSET_OUT_OF_RANGE. */
  read(offset: number, maxBytes: number, opts?: ReadOptions): Promise<ReadResult>;
  /** First offset with timestamp >= ts, or null if none. */
  offsetForTimestamp(ts: number): Promise<TimestampLookup | null>;
  /** Largest timestamp in the log and its offset (Kafka ListOffsets MAX_TIMESTAMP), or null when empty. */
  maxTimestamp(): Promise<TimestampLookup | null>;

  /** Advance the log start offset (delete-records). Never moves backwards. Returns the new start. */
  deleteRecordsBefore(offset: number): Promise<number>;
  /** Drop everything at and above `offset` (follower truncation). */
  truncateTo(offset: number): Promise<void>;
  /**
   * Drop the whole log and restart it, empty, at `offset` (above or below the
   * current offsets): logStart = logEnd = offset, durably. A follower whose
   * log ends below the leader's log start (Kafka's truncateFullyAndStartAt).
   * Throws INVALID_REQUEST for an offset that is not a safe integer >= 0.
   */
  truncateFullyAndStartAt(offset: number): Promise<void>;
  /** Apply time and size retention to sealed segments. */
  applyRetention(now: number): Promise<RetentionResult>;
  /** Compact sealed segments (cleanup.policy includes compact). */
  compact(now: number): Promise<CompactionResult>;
  /**
   * Offsets the caller still needs (e.g. the mirror's progress): retention
   * does not delete segments holding offsets >= this unless forced by size.
   * null = no floor.
   */
  setRetentionFloor(offset: number | null): void;

  /** Bytes on disk (or in memory) for this partition's data. */
  sizeBytes(): number;
  segmentCount(): number;
  /** Write and fsync what is pending, release resources. */
  close(): Promise<void>;
  /** Close and remove all data of this partition. */
  destroy(): Promise<void>;
}

/** Opens or creates partition logs under one data directory (or in memory). */
export interface LogStore {
  open(topic: string, partition: number, config: LogConfig): Promise<PartitionLog>;
  /** Topic-partitions found on disk, e.g. for recovery on start-up. */
  list(): Promise<Array<{ topic: string; partition: number }>>;
  close(): Promise<void>;
}

/** Hooks the storage engine calls so observability can count without being imported here. */
export interface LogObserver {
  onAppend?(topic: string, partition: number, records: number, bytes: number): void;
  onFsync?(durationMs: number, bytes: number): void;
  onRecoveryTruncate?(
    topic: string,
    partition: number,
    file: string,
    droppedBytes: number,
    reason: string,
  ): void;
}
