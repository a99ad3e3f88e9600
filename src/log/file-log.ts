/**
 * PartitionLog on disk: a directory of segments (see format.ts for the
 * layout). Appends are positional writes into the active segment; durability
 * comes from the store's group-commit loop (group-commit.ts); reads return
 * whole stored batches as one byte range per segment, without decoding.
 * Retention, delete-records and truncation live in log-maintenance.ts,
 * timestamp lookups in log-timestamps.ts, compaction in file-compaction.ts.
 */
import fs from "node:fs";
import { EddyError, ErrorCode, toEddyError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import { checkOneBatch } from "./batch-check.ts";
import { compactLog } from "./file-compaction.ts";
import {
  CHECKPOINT_FILE,
  CHECKPOINT_TMP_FILE,
  CLEAN_SHUTDOWN_FILE,
  type Checkpoint,
  encodeCheckpoint,
} from "./format.ts";
import type { FlushWork, GroupCommitter } from "./group-commit.ts";
import { fsyncDir, type LogIo, writeFileAtomic } from "./io.ts";
import {
  applyRetention,
  deleteRecordsBefore,
  truncateFullyAndStartAt,
  truncateTo,
} from "./log-maintenance.ts";
import { readLog } from "./log-read.ts";
import { maxTimestamp, offsetForTimestamp } from "./log-timestamps.ts";
import { OffsetTracker } from "./offsets.ts";
import { isLogAppendTime, setBaseOffset, setLogAppendTime, setPartitionLeaderEpoch } from "./record-batch.ts";
import { recoverPartition } from "./recovery.ts";
import { appendReplicatedRun } from "./file-replicated.ts";
import { type BatchRef, Segment } from "./segment.ts";
import {
  type AppendInfo,
  type AppendOptions,
  CleanupPolicy,
  type CompactionResult,
  Durability,
  type LogConfig,
  type LogObserver,
  type LogOffsets,
  type PartitionLog,
  type ReadOptions,
  type ReadResult,
  type ReplicatedAppendResult,
  type RetentionResult,
  type TimestampLookup,
} from "./types.ts";

export interface FileLogOptions {
  dir: string;
  topic: string;
  partition: number;
  config: LogConfig;
  clock: Clock;
  logger: Logger;
  io: LogIo;
  committer: GroupCommitter;
  observer?: LogObserver | undefined;
  /** Called once the log is closed or destroyed (the store forgets it). */
  onClosed?: (log: FileLog) => void;
}

interface Waiter {
  offset: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class FileLog implements PartitionLog {
  readonly topic: string;
  readonly partition: number;
  readonly dir: string;
  /** Internal state below is shared with log-maintenance / log-timestamps / file-compaction. */
  cfg: LogConfig;
  segments: Segment[];
  readonly tracker: OffsetTracker;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly io: LogIo;
  retentionFloor: number | null = null;
  /** Bumped by truncation so an fsync round in flight does not vouch for rewritten offsets. */
  generation = 0;
  closed = false;
  private readonly committer: GroupCommitter;
  private readonly observer: LogObserver | undefined;
  private readonly onClosed: ((log: FileLog) => void) | undefined;
  private pendingSync: Segment[] = [];
  private unflushed = 0;
  private waiters: Waiter[] = [];
  private scratch = Buffer.allocUnsafeSlow(64 * 1024);
  private markerPresent: boolean;
  private lastRecoveryPoint: number;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(opts: FileLogOptions) {
    this.topic = opts.topic;
    this.partition = opts.partition;
    this.dir = opts.dir;
    this.cfg = { ...opts.config };
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.io = opts.io;
    this.committer = opts.committer;
    this.observer = opts.observer;
    this.onClosed = opts.onClosed;
    const rec = recoverPartition({
      dir: opts.dir,
      topic: opts.topic,
      partition: opts.partition,
      io: opts.io,
      indexIntervalBytes: opts.config.indexIntervalBytes,
      allowGaps: opts.config.cleanupPolicy !== CleanupPolicy.DELETE,
      logger: opts.logger,
      observer: opts.observer,
    });
    this.markerPresent = rec.clean;
    const cp = rec.checkpoint;
    this.segments = rec.segments;
    if (this.segments.length === 0)
      this.segments.push(Segment.create(this.dir, cp?.logStartOffset ?? 0, this.io));
    const logEnd = this.active.nextOffset;
    const logStart = Math.min(Math.max(cp?.logStartOffset ?? 0, this.segments[0]!.baseOffset), logEnd);
    const flushed = rec.clean ? logEnd : Math.max(logStart, Math.min(cp?.recoveryPoint ?? 0, logEnd));
    this.tracker = new OffsetTracker({
      logStartOffset: logStart,
      logEndOffset: logEnd,
      flushedOffset: flushed,
    });
    this.lastRecoveryPoint = rec.clean ? logEnd : -1;
    for (const seg of this.segments) if (seg.unsynced) this.pendingSync.push(seg);
    this.committer.register(this);
    if (this.pendingSync.length > 0 || flushed < logEnd) this.committer.notify(this, true);
  }

  get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  offsets(): LogOffsets {
    const t = this.tracker;
    return { logStartOffset: t.logStartOffset, logEndOffset: t.logEndOffset, flushedOffset: t.flushedOffset };
  }

  config(): LogConfig {
    return { ...this.cfg };
  }

  reconfigure(config: LogConfig): void {
    this.cfg = { ...config };
    if (config.durability !== Durability.FSYNC) this.committer.notify(this);
  }

  // ------------------------------------------------------------------ append

  async append(batch: Uint8Array, opts: AppendOptions = {}): Promise<AppendInfo> {
    this.assertOpen();
    const len = batch.length;
    const h = checkOneBatch(batch, {
      maxMessageBytes: this.cfg.maxMessageBytes,
      verifyCrc: opts.crcVerified !== true,
      tooLargeHint: "send smaller batches or raise max.message.bytes",
    });
    const logEnd = this.tracker.logEndOffset;
    // A replicated batch keeps the leader's offsets (gaps allowed: compaction) and timestamps.
    const replicated = opts.assignOffsets === false;
    if (replicated && h.baseOffset < logEnd) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `the batch starts at offset ${h.baseOffset}, below the log end ${logEnd}; fetch from the log end first`,
        { baseOffset: h.baseOffset, logEndOffset: logEnd },
      );
    }
    const base = replicated ? h.baseOffset : logEnd;
    this.ensureUnclean();
    if (this.scratch.length < len)
      this.scratch = Buffer.allocUnsafeSlow(Math.max(len, this.scratch.length * 2));
    const buf = this.scratch;
    buf.set(batch);
    if (!replicated) setBaseOffset(buf, 0, logEnd);
    if (opts.leaderEpoch !== undefined) setPartitionLeaderEpoch(buf, 0, opts.leaderEpoch);
    let maxTs = h.maxTimestamp;
    let logAppendTime = -1;
    if (replicated) {
      if (isLogAppendTime(h.attributes)) logAppendTime = maxTs;
    } else if (this.cfg.timestampType === "LogAppendTime") {
      logAppendTime = this.clock.now();
      maxTs = logAppendTime;
      setLogAppendTime(buf, 0, logAppendTime);
    }
    const lastOffset = base + h.lastOffsetDelta;
    const ref: BatchRef = { pos: 0, size: len, baseOffset: base, lastOffset, maxTimestamp: maxTs };

    let seg = this.active;
    let rolled = false;
    if (this.shouldRoll(seg, len, lastOffset, maxTs)) {
      seg = this.roll(base);
      rolled = true;
    }
    try {
      seg.append(buf, len, ref, this.cfg.indexIntervalBytes);
    } catch (err) {
      if (rolled) this.unroll();
      throw toEddyError(err);
    }
    this.tracker.logEndOffset = lastOffset + 1;
    this.noteWritten(seg, len);
    this.observer?.onAppend?.(this.topic, this.partition, h.recordCount, len);
    this.committer.notify(this);
    return {
      baseOffset: base,
      lastOffset,
      maxTimestamp: maxTs,
      logAppendTime,
      recordCount: h.recordCount,
      size: len,
    };
  }

  /** Kafka's roll rule for a batch after `pending` bytes (first one's maxTimestamp `pendingFirstTs`) not yet written to `seg`. */
  shouldRoll(
    seg: Segment,
    len: number,
    lastOffset: number,
    maxTs: number,
    pending = 0,
    pendingFirstTs = -1,
  ): boolean {
    const size = seg.size + pending;
    if (size === 0) return false;
    const first = seg.size > 0 ? seg.firstBatchTimestamp : pendingFirstTs;
    return (
      size + len > this.cfg.segmentBytes ||
      maxTs - first > this.cfg.segmentMs ||
      lastOffset - seg.baseOffset > 0xffffffff ||
      size + len > 0xffffffff
    );
  }

  /** PartitionLog.appendReplicated: a follower's run, one write per segment (file-replicated.ts). */
  async appendReplicated(batches: readonly Uint8Array[]): Promise<ReplicatedAppendResult> {
    this.assertOpen();
    return appendReplicatedRun(this, batches);
  }

  /** Account for bytes just written to `seg` (file-replicated.ts): fsync pending, unflushed bytes. */
  noteWritten(seg: Segment, len: number): void {
    this.unflushed += len;
    if (!seg.unsynced) {
      seg.unsynced = true;
      this.pendingSync.push(seg);
    }
  }

  /** After a replicated run (file-replicated.ts): count it and wake the group-commit loop. */
  noteAppended(records: number, bytes: number): void {
    this.observer?.onAppend?.(this.topic, this.partition, records, bytes);
    this.committer.notify(this);
  }

  /** Seal the active segment and start a new one at `baseOffset`. */
  roll(baseOffset: number): Segment {
    const old = this.active;
    let seg: Segment;
    try {
      seg = Segment.create(this.dir, baseOffset, this.io);
    } catch (err) {
      throw toEddyError(err);
    }
    try {
      old.persistIndexes(false);
    } catch (err) {
      this.logger.warn("could not write a segment index; it will be rebuilt", { error: err });
    }
    this.segments.push(seg);
    return seg;
  }

  /** Undo a roll whose first write failed. */
  unroll(): void {
    const seg = this.segments.pop()!;
    fs.closeSync(seg.fd);
    seg.fd = -1;
    fs.rmSync(seg.logPath, { force: true });
  }

  // ------------------------------------------------------------------ durability

  waitDurable(offset: number): Promise<void> {
    if (this.cfg.durability !== Durability.FSYNC) return Promise.resolve();
    return this.waitFlushed(offset);
  }

  async flush(): Promise<void> {
    const target = this.tracker.logEndOffset;
    if (this.tracker.flushedOffset >= target && this.pendingSync.length === 0) return;
    const p = this.waitFlushed(target);
    this.committer.notify(this, true);
    await p;
  }

  private waitFlushed(offset: number): Promise<void> {
    const target = Math.min(offset, this.tracker.logEndOffset);
    if (target <= this.tracker.flushedOffset) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w = { offset: target, resolve, reject };
      const n = this.waiters.length;
      this.waiters.push(w);
      if (n > 0 && this.waiters[n - 1]!.offset > target) this.waiters.sort((a, b) => a.offset - b.offset);
    });
  }

  private releaseWaiters(): void {
    const flushed = this.tracker.flushedOffset;
    let i = 0;
    while (i < this.waiters.length && this.waiters[i]!.offset <= flushed) this.waiters[i++]!.resolve();
    if (i > 0) this.waiters.splice(0, i);
  }

  /** Settle waiters beyond the log end after truncation (nothing there to wait for any more). */
  releaseAfterTruncate(): void {
    const end = this.tracker.logEndOffset;
    for (const w of this.waiters) if (w.offset > end) w.offset = end;
    this.releaseWaiters();
  }

  durability(): Durability {
    return this.cfg.durability;
  }

  unflushedBytes(): number {
    return this.unflushed;
  }

  beginFlush(): FlushWork | null {
    const target = this.tracker.logEndOffset;
    if (this.pendingSync.length === 0) {
      if (this.tracker.flushedOffset < target) {
        this.tracker.flushedOffset = target;
        this.releaseWaiters();
      }
      return null;
    }
    const segments = this.pendingSync;
    this.pendingSync = [];
    for (const s of segments) s.unsynced = false;
    const work = { target, segments, bytes: this.unflushed, generation: this.generation };
    this.unflushed = 0;
    return work;
  }

  endFlush(work: FlushWork, err: unknown): void {
    if (err) {
      for (const s of work.segments) {
        if (s.fd >= 0 && !s.unsynced) {
          s.unsynced = true;
          this.pendingSync.push(s);
        }
      }
      const failure = toEddyError(err);
      const failed = this.waiters.filter((w) => w.offset <= work.target);
      this.waiters = this.waiters.filter((w) => w.offset > work.target);
      for (const w of failed) w.reject(failure);
      this.committer.retryLater(this);
      return;
    }
    if (work.generation !== this.generation) return;
    const next = Math.min(work.target, this.tracker.logEndOffset);
    if (next > this.tracker.flushedOffset) this.tracker.flushedOffset = next;
    this.releaseWaiters();
  }

  /** Persist sealed segments' indexes (fsynced) and the recovery point. */
  checkpoint(): void {
    if (this.closed) return;
    this.persistSealedIndexes();
    const rp = this.tracker.flushedOffset;
    if (rp === this.lastRecoveryPoint) return;
    this.writeCheckpoint({ logStartOffset: this.tracker.logStartOffset, recoveryPoint: rp }, false);
  }

  private persistSealedIndexes(): void {
    for (let i = 0; i < this.segments.length - 1; i++) {
      const s = this.segments[i]!;
      if (s.offsetIndex.dirty || s.timeIndex.dirty) s.persistIndexes(true);
    }
  }

  /** Write the checkpoint file; `durable` also fsyncs the directory (the rename). */
  writeCheckpoint(cp: Checkpoint, durable: boolean): void {
    const data = encodeCheckpoint(cp);
    const tmp = `${this.dir}/${CHECKPOINT_TMP_FILE}`;
    if (durable) writeFileAtomic(this.dir, CHECKPOINT_FILE, CHECKPOINT_TMP_FILE, data);
    else {
      fs.writeFileSync(tmp, data);
      const fd = fs.openSync(tmp, "r+");
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, `${this.dir}/${CHECKPOINT_FILE}`);
    }
    this.lastRecoveryPoint = cp.recoveryPoint;
  }

  /** Persist the log start offset now, durably (delete-records, retention, truncation). */
  saveLogStart(): void {
    this.persistSealedIndexes();
    const cp = { logStartOffset: this.tracker.logStartOffset, recoveryPoint: this.tracker.flushedOffset };
    this.writeCheckpoint(cp, true);
  }

  /** Before the first change after a clean open: remove the clean-shutdown marker, durably. */
  ensureUnclean(): void {
    if (!this.markerPresent) return;
    fs.rmSync(`${this.dir}/${CLEAN_SHUTDOWN_FILE}`, { force: true });
    fsyncDir(this.dir);
    this.markerPresent = false;
  }

  // ------------------------------------------------------------------ read

  async read(offset: number, maxBytes: number, opts: ReadOptions = {}): Promise<ReadResult> {
    this.assertOpen();
    return readLog(this, offset, maxBytes, opts);
  }

  /** Index of the last segment whose base offset is <= offset (0 if none). */
  segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  async offsetForTimestamp(ts: number): Promise<TimestampLookup | null> {
    this.assertOpen();
    return offsetForTimestamp(this, ts);
  }

  async maxTimestamp(): Promise<TimestampLookup | null> {
    this.assertOpen();
    return maxTimestamp(this);
  }

  // ------------------------------------------------------------------ maintenance

  /** Run maintenance operations one at a time. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  deleteRecordsBefore(offset: number): Promise<number> {
    this.assertOpen();
    return this.exclusive(() => deleteRecordsBefore(this, offset));
  }

  truncateTo(offset: number): Promise<void> {
    this.assertOpen();
    return this.exclusive(() => truncateTo(this, offset));
  }

  truncateFullyAndStartAt(offset: number): Promise<void> {
    this.assertOpen();
    return this.exclusive(() => truncateFullyAndStartAt(this, offset));
  }

  applyRetention(now: number): Promise<RetentionResult> {
    this.assertOpen();
    return this.exclusive(() => applyRetention(this, now));
  }

  compact(now: number): Promise<CompactionResult> {
    this.assertOpen();
    return this.exclusive(() => compactLog(this, now));
  }

  setRetentionFloor(offset: number | null): void {
    this.retentionFloor = offset;
  }

  /** Remove segments from the log (already spliced out of `segments`): close and delete files. */
  async dropSegments(dropped: Segment[]): Promise<void> {
    if (dropped.length === 0) return;
    this.pendingSync = this.pendingSync.filter((s) => !dropped.includes(s));
    for (const s of dropped) await s.delete();
  }

  /** Swap in a rewritten segment (compaction) and close the old one's fd. */
  async replaceSegment(old: Segment, next: Segment): Promise<void> {
    const i = this.segments.indexOf(old);
    if (i >= 0) this.segments[i] = next;
    this.pendingSync = this.pendingSync.filter((s) => s !== old);
    await old.close();
  }

  sizeBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  segmentCount(): number {
    return this.segments.length;
  }

  // ------------------------------------------------------------------ lifecycle

  async close(): Promise<void> {
    if (this.closed) return;
    await this.exclusive(async () => {});
    await this.flush();
    this.closed = true;
    this.committer.unregister(this);
    try {
      for (const s of this.segments) s.persistIndexes(true);
      const end = this.tracker.logEndOffset;
      this.writeCheckpoint({ logStartOffset: this.tracker.logStartOffset, recoveryPoint: end }, false);
      fs.writeFileSync(`${this.dir}/${CLEAN_SHUTDOWN_FILE}`, "");
      fsyncDir(this.dir);
    } finally {
      for (const s of this.segments) await s.close();
      this.onClosed?.(this);
    }
  }

  async destroy(): Promise<void> {
    if (!this.closed) {
      await this.exclusive(async () => {});
      this.closed = true;
      this.committer.unregister(this);
      for (const s of this.segments) await s.close();
      for (const w of this.waiters) w.resolve();
      this.waiters = [];
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.onClosed?.(this);
  }

  /** Crash tests: let go of everything as a killed process would (no flush, no marker, no checkpoint). */
  abandon(): void {
    this.closed = true;
    this.committer.unregister(this);
    for (const s of this.segments) {
      if (s.fd >= 0) fs.closeSync(s.fd);
      s.fd = -1;
    }
    this.onClosed?.(this);
  }

  assertOpen(): void {
    if (this.closed) {
      throw new EddyError(
        ErrorCode.SHUTTING_DOWN,
        `the log ${this.topic}-${this.partition} is closed; reopen it`,
      );
    }
  }
}
