/**
 * The in-memory twin of the file log: the same PartitionLog semantics (it
 * passes the same conformance suite, test/log/conformance.ts), with segments
 * as arrays of batches instead of files. Used by tests and by `memory`
 * deployments; nothing survives the process.
 *
 * A partition's data belongs to the store: closing a log and opening it again
 * through the same store finds the data again; `destroy` removes it.
 * Everything is durable at once (flushedOffset = logEndOffset).
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import { compactBatch, buildOffsetMap } from "./compaction.ts";
import {
  batchesFrom,
  emptyPartition,
  emptySegment,
  findMaxTimestamp,
  findOffsetForTimestamp,
  type MemBatch,
  memBatch,
  type PartitionData,
  segmentMaxTimestamp,
  shouldRoll,
  validateBatch,
} from "./memory-segments.ts";
import { appendEach } from "./replicated-append.ts";
import { isLogAppendTime, setBaseOffset, setLogAppendTime, setPartitionLeaderEpoch } from "./record-batch.ts";
import type {
  AppendInfo,
  AppendOptions,
  CompactionResult,
  LogConfig,
  LogObserver,
  LogOffsets,
  LogStore,
  PartitionLog,
  ReadOptions,
  ReadResult,
  ReplicatedAppendResult,
  RetentionResult,
  TimestampLookup,
} from "./types.ts";

export interface MemoryLogOptions {
  topic: string;
  partition: number;
  config: LogConfig;
  clock: Clock;
  data: PartitionData;
  logger?: Logger;
  observer?: LogObserver;
  /** Called by destroy() so the store forgets the partition. */
  onDestroy?: () => void;
  /** Called by close() so the store forgets the open log (the data stays). */
  onClose?: () => void;
}

const outOfRange = (offset: number, start: number, end: number): EddyError =>
  new EddyError(
    ErrorCode.OFFSET_OUT_OF_RANGE,
    `offset ${offset} is outside the log [${start}, ${end}]; reset the consumer to the earliest or latest offset`,
    { offset, logStartOffset: start, logEndOffset: end },
  );

export class MemoryPartitionLog implements PartitionLog {
  readonly topic: string;
  readonly partition: number;
  private cfg: LogConfig;
  private readonly clock: Clock;
  private readonly data: PartitionData;
  private readonly logger: Logger | undefined;
  private readonly observer: LogObserver | undefined;
  private readonly onDestroy: (() => void) | undefined;
  private readonly onClose: (() => void) | undefined;
  private floor: number | null = null;
  private closed = false;

  constructor(opts: MemoryLogOptions) {
    this.topic = opts.topic;
    this.partition = opts.partition;
    this.cfg = { ...opts.config };
    this.clock = opts.clock;
    this.data = opts.data;
    this.logger = opts.logger;
    this.observer = opts.observer;
    this.onDestroy = opts.onDestroy;
    this.onClose = opts.onClose;
  }

  offsets(): LogOffsets {
    const { logStartOffset, logEndOffset } = this.data;
    return { logStartOffset, logEndOffset, flushedOffset: logEndOffset };
  }

  config(): LogConfig {
    return { ...this.cfg };
  }

  reconfigure(config: LogConfig): void {
    this.cfg = { ...config };
  }

  async append(batch: Uint8Array, opts: AppendOptions = {}): Promise<AppendInfo> {
    this.ensureOpen();
    const header = validateBatch(batch, this.cfg.maxMessageBytes);
    const end = this.data.logEndOffset;
    // A replicated batch keeps the leader's offsets (gaps allowed: compaction) and timestamps.
    const replicated = opts.assignOffsets === false;
    if (replicated && header.baseOffset < end) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `batch starts at offset ${header.baseOffset}, below the log end ${end}; truncate or fetch from ${end}`,
        { baseOffset: header.baseOffset, logEndOffset: end },
      );
    }
    const base = replicated ? header.baseOffset : end;
    const bytes = batch.slice();
    if (!replicated) setBaseOffset(bytes, 0, end);
    if (opts.leaderEpoch !== undefined) setPartitionLeaderEpoch(bytes, 0, opts.leaderEpoch);
    let logAppendTime = -1;
    if (replicated) {
      if (isLogAppendTime(header.attributes)) logAppendTime = header.maxTimestamp;
    } else if (this.cfg.timestampType === "LogAppendTime") {
      logAppendTime = this.clock.now();
      setLogAppendTime(bytes, 0, logAppendTime);
    }
    const stored = memBatch(bytes);
    const segments = this.data.segments;
    let active = segments[segments.length - 1]!;
    if (shouldRoll(active, bytes.length, stored.maxTimestamp, this.cfg)) {
      active = emptySegment(base);
      segments.push(active);
      const at = { topic: this.topic, partition: this.partition, baseOffset: base };
      this.logger?.debug("rolled segment", at);
    }
    active.batches.push(stored);
    active.size += bytes.length;
    this.data.logEndOffset = stored.lastOffset + 1;
    this.observer?.onAppend?.(this.topic, this.partition, stored.recordCount, bytes.length);
    return {
      baseOffset: stored.baseOffset,
      lastOffset: stored.lastOffset,
      maxTimestamp: stored.maxTimestamp,
      logAppendTime,
      recordCount: stored.recordCount,
      size: bytes.length,
    };
  }

  /** PartitionLog.appendReplicated: each batch as append(assignOffsets: false); a refused one ends the run. */
  appendReplicated(batches: readonly Uint8Array[]): Promise<ReplicatedAppendResult> {
    return appendEach(this, batches);
  }

  async waitDurable(_offset: number): Promise<void> {}

  async flush(): Promise<void> {}

  async read(offset: number, maxBytes: number, opts: ReadOptions = {}): Promise<ReadResult> {
    const { logStartOffset: start, logEndOffset: end } = this.data;
    if (!Number.isSafeInteger(offset) || offset < start || offset > end) throw outOfRange(offset, start, end);
    const maxOffset = opts.maxOffset ?? Number.POSITIVE_INFINITY;
    const minOne = opts.minOneBatch ?? true;
    const picked: MemBatch[] = [];
    let total = 0;
    for (const b of batchesFrom(this.data.segments, offset)) {
      if (b.lastOffset >= maxOffset) break;
      if (total + b.bytes.length > maxBytes && !(minOne && picked.length === 0)) break;
      picked.push(b);
      total += b.bytes.length;
    }
    const bytes = new Uint8Array(total);
    let p = 0;
    for (const b of picked) {
      bytes.set(b.bytes, p);
      p += b.bytes.length;
    }
    const last = picked[picked.length - 1];
    return { bytes, nextOffset: last ? last.lastOffset + 1 : offset, batchCount: picked.length };
  }

  async offsetForTimestamp(ts: number): Promise<TimestampLookup | null> {
    return findOffsetForTimestamp(this.data.segments, this.data.logStartOffset, ts);
  }

  async maxTimestamp(): Promise<TimestampLookup | null> {
    return findMaxTimestamp(this.data.segments, this.data.logStartOffset);
  }

  async deleteRecordsBefore(offset: number): Promise<number> {
    const { logStartOffset: start, logEndOffset: end } = this.data;
    if (!Number.isSafeInteger(offset) || offset > end) throw outOfRange(offset, start, end);
    if (offset > start) {
      this.data.logStartOffset = offset;
      this.deleteBelowStart();
    }
    return this.data.logStartOffset;
  }

  async truncateTo(offset: number): Promise<void> {
    const data = this.data;
    if (offset >= data.logEndOffset) return;
    if (offset <= data.logStartOffset) {
      Object.assign(data, emptyPartition(Math.max(0, offset)));
      return;
    }
    const segments = data.segments;
    while (segments.length > 1 && segments[segments.length - 1]!.baseOffset > offset) segments.pop();
    const active = segments[segments.length - 1]!;
    while (active.batches.length > 0 && active.batches[active.batches.length - 1]!.lastOffset >= offset) {
      active.size -= active.batches.pop()!.bytes.length;
    }
    data.logEndOffset = offset;
  }

  async truncateFullyAndStartAt(offset: number): Promise<void> {
    this.ensureOpen();
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `cannot restart the log of ${this.topic}-${this.partition} at ${offset}: give an offset >= 0`,
        { offset },
      );
    }
    Object.assign(this.data, emptyPartition(offset));
  }

  async applyRetention(now: number): Promise<RetentionResult> {
    const segments = this.data.segments;
    let { deletedSegments, deletedBytes } = this.deleteBelowStart();
    const drop = (): void => {
      const seg = segments.shift()!;
      deletedSegments++;
      deletedBytes += seg.size;
    };
    if (this.cfg.cleanupPolicy.includes("delete")) {
      const { retentionMs, retentionBytes } = this.cfg;
      if (retentionMs >= 0) {
        while (segments.length > 1) {
          const next = segments[1]!.baseOffset;
          const expired = now - segmentMaxTimestamp(segments[0]!) > retentionMs;
          if (!expired || (this.floor !== null && next > this.floor)) break;
          drop();
        }
      }
      if (retentionBytes >= 0) {
        let size = this.sizeBytes();
        while (segments.length > 1 && size - segments[0]!.size >= retentionBytes) {
          size -= segments[0]!.size;
          drop();
        }
      }
    }
    const first = segments[0]!.baseOffset;
    if (first > this.data.logStartOffset) this.data.logStartOffset = first;
    if (deletedSegments > 0) {
      this.logger?.info("retention deleted segments", {
        topic: this.topic,
        partition: this.partition,
        deletedSegments,
        deletedBytes,
        logStartOffset: this.data.logStartOffset,
      });
    }
    return { deletedSegments, deletedBytes, logStartOffset: this.data.logStartOffset };
  }

  async compact(now: number): Promise<CompactionResult> {
    const none = { removedRecords: 0, bytesBefore: 0, bytesAfter: 0 };
    if (!this.cfg.cleanupPolicy.includes("compact")) return none;
    const sealed = this.data.segments.slice(0, -1);
    if (sealed.length === 0) return none;
    const map = buildOffsetMap(sealed.flatMap((s) => s.batches.map((b) => b.bytes)));
    const opts = {
      now,
      deleteRetentionMs: this.cfg.deleteRetentionMs,
      minCompactionLagMs: this.cfg.minCompactionLagMs,
    };
    const result = { ...none };
    for (const seg of sealed) {
      const kept: MemBatch[] = [];
      result.bytesBefore += seg.size;
      for (const b of seg.batches) {
        const out = compactBatch(b.bytes, map, opts);
        if (out === b.bytes) kept.push(b);
        else if (out === null) result.removedRecords += b.recordCount;
        else {
          const nb = memBatch(out);
          result.removedRecords += b.recordCount - nb.recordCount;
          kept.push(nb);
        }
      }
      seg.batches = kept;
      seg.size = kept.reduce((n, b) => n + b.bytes.length, 0);
      result.bytesAfter += seg.size;
    }
    if (result.removedRecords > 0) {
      this.logger?.info("compacted", { topic: this.topic, partition: this.partition, ...result });
    }
    return result;
  }

  setRetentionFloor(offset: number | null): void {
    this.floor = offset;
  }

  sizeBytes(): number {
    let n = 0;
    for (const s of this.data.segments) n += s.size;
    return n;
  }

  segmentCount(): number {
    return this.data.segments.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose?.();
  }

  async destroy(): Promise<void> {
    await this.close();
    Object.assign(this.data, emptyPartition());
    this.onDestroy?.();
  }

  /** Sealed segments wholly below the log start go (the active one always stays). */
  private deleteBelowStart(): { deletedSegments: number; deletedBytes: number } {
    const segments = this.data.segments;
    let deletedSegments = 0;
    let deletedBytes = 0;
    while (segments.length > 1 && segments[1]!.baseOffset <= this.data.logStartOffset) {
      deletedBytes += segments.shift()!.size;
      deletedSegments++;
    }
    return { deletedSegments, deletedBytes };
  }

  private ensureOpen(): void {
    if (this.closed) {
      throw new EddyError(
        ErrorCode.STORAGE_ERROR,
        `log ${this.topic}-${this.partition} is closed; open it again through the log store`,
      );
    }
  }
}

export interface MemoryLogStoreOptions {
  clock: Clock;
  logger?: Logger;
  observer?: LogObserver;
}

/** A LogStore whose partitions live in memory for as long as the store object does. */
export function createMemoryLogStore(opts: MemoryLogStoreOptions): LogStore {
  const data = new Map<string, { topic: string; partition: number; data: PartitionData }>();
  const open = new Map<string, MemoryPartitionLog>();
  let closed = false;
  const keyOf = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

  return {
    async open(topic: string, partition: number, config: LogConfig): Promise<PartitionLog> {
      if (closed) throw new EddyError(ErrorCode.SHUTTING_DOWN, "the log store is closed");
      if (topic.length === 0 || !Number.isSafeInteger(partition) || partition < 0) {
        throw new EddyError(
          ErrorCode.INVALID_REQUEST,
          `invalid topic-partition ${JSON.stringify(topic)}-${partition}`,
        );
      }
      const key = keyOf(topic, partition);
      const existing = open.get(key);
      if (existing) {
        existing.reconfigure(config);
        return existing;
      }
      let entry = data.get(key);
      if (!entry) {
        entry = { topic, partition, data: emptyPartition() };
        data.set(key, entry);
      }
      const log = new MemoryPartitionLog({
        topic,
        partition,
        config,
        clock: opts.clock,
        data: entry.data,
        logger: opts.logger?.child({ topic, partition }),
        observer: opts.observer,
        onClose: () => {
          if (open.get(key) === log) open.delete(key);
        },
        onDestroy: () => {
          data.delete(key);
        },
      });
      open.set(key, log);
      return log;
    },

    async list() {
      return [...data.values()].map(({ topic, partition }) => ({ topic, partition }));
    },

    async close() {
      closed = true;
      for (const log of [...open.values()]) await log.close();
    },
  };
}
