/**
 * Cluster mode: the stand-in for a partition this node holds no replica of.
 * The broker keeps a Partition for every partition of a topic (so lookups,
 * describe and metadata work on any node), but only assigned replicas open a
 * real log; this one touches no disk, holds nothing, and refuses reads and
 * writes with NOT_LEADER (the client refreshes metadata and goes to the leader).
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type {
  AppendInfo,
  CompactionResult,
  LogConfig,
  LogOffsets,
  PartitionLog,
  ReadResult,
  RetentionResult,
  TimestampLookup,
} from "../log/types.ts";

export class AbsentLog implements PartitionLog {
  constructor(
    readonly topic: string,
    readonly partition: number,
    private cfg: LogConfig,
  ) {}

  offsets(): LogOffsets {
    return { logStartOffset: 0, logEndOffset: 0, flushedOffset: 0 };
  }

  config(): LogConfig {
    return this.cfg;
  }

  reconfigure(config: LogConfig): void {
    this.cfg = config;
  }

  async append(): Promise<AppendInfo> {
    throw this.notHere();
  }

  async waitDurable(): Promise<void> {}

  async flush(): Promise<void> {}

  async read(): Promise<ReadResult> {
    throw this.notHere();
  }

  async offsetForTimestamp(): Promise<TimestampLookup | null> {
    return null;
  }

  async maxTimestamp(): Promise<TimestampLookup | null> {
    return null;
  }

  async deleteRecordsBefore(): Promise<number> {
    throw this.notHere();
  }

  async truncateTo(): Promise<void> {
    throw this.notHere();
  }

  async truncateFullyAndStartAt(): Promise<void> {
    throw this.notHere();
  }

  async applyRetention(): Promise<RetentionResult> {
    return { deletedSegments: 0, deletedBytes: 0, logStartOffset: 0 };
  }

  async compact(): Promise<CompactionResult> {
    return { removedRecords: 0, bytesBefore: 0, bytesAfter: 0 };
  }

  setRetentionFloor(): void {}

  sizeBytes(): number {
    return 0;
  }

  segmentCount(): number {
    return 0;
  }

  async close(): Promise<void> {}

  async destroy(): Promise<void> {}

  private notHere(): EddyError {
    return new EddyError(
      ErrorCode.NOT_LEADER,
      `this node holds no replica of ${this.topic}-${this.partition}: refresh metadata and use its leader`,
      { topic: this.topic, partition: this.partition },
    );
  }
}

/** A partition log that is only a stand-in (no replica here). */
export function isAbsentLog(log: PartitionLog): boolean {
  return log instanceof AbsentLog;
}
