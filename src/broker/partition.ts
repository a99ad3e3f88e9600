/**
 * One partition as the broker sees it: the PartitionLog, its OffsetTracker,
 * and a queue that serialises every mutation (append, delete-records,
 * retention, compaction), since a log has exactly one writer.
 *
 * High watermark: the offset below which records are committed under the
 * topic's durability policy — the flushed offset for "fsync", the log end
 * offset for "write" and "memory". Consumers never read at or past it.
 * Last stable offset: the first offset of the oldest open transaction on
 * this partition, capped by the high watermark (src/txn/producer-state.ts).
 *
 * Producer batches (producerId >= 0) go through appendProducerBatch: the
 * sequence/epoch check and the append happen in one queue step, so retries
 * racing each other are still deduplicated. Transaction markers go through
 * appendMarker.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import { OffsetTracker } from "../log/offsets.ts";
import { encodeEndTxnMarker, readBatchHeader } from "../log/record-batch.ts";
import { type AppendInfo, Durability, type LogConfig, type PartitionLog } from "../log/types.ts";
import { appendEach } from "../log/replicated-append.ts";
import type { Logger } from "../observability/logger.ts";
import { SNAPSHOT_EVERY_BYTES, SNAPSHOT_EVERY_CHANGES } from "../txn/producer-snapshot.ts";
import { type ProducerBatch, ProducerStateManager } from "../txn/producer-state.ts";
import type { Acks, PartitionState } from "./types.ts";

/** Cluster mode: who leads this partition and which replicas are in sync (src/cluster/replica-manager.ts). */
export interface PartitionAssignmentView {
  leader: number;
  replicas: number[];
  isr: number[];
}

export interface PartitionOptions {
  log: PartitionLog;
  logger: Logger;
  /** Called whenever the high watermark moves forward. */
  onAdvance: (partition: Partition) => void;
}

export class Partition {
  readonly log: PartitionLog;
  readonly topic: string;
  readonly id: number;
  readonly tracker: OffsetTracker;
  /** Bumped by leader elections (cluster mode); 0 on a single node. */
  leaderEpoch = 0;
  /**
   * Cluster mode (set by src/cluster/replica-manager.ts). `leads`: this node
   * leads the partition (always true on a single node). `assignment`: leader,
   * replicas and ISR as the metadata log says (null on a single node).
   * `replicationLimit`: an upper bound on the high watermark from replication
   * — min LEO of the ISR on a leader, the leader's high watermark on a
   * follower (null on a single node: committed = durable here).
   * `onLogEnd`: called after every local append (wakes followers' long-polls).
   */
  leads = true;
  assignment: PartitionAssignmentView | null = null;
  replicationLimit: number | null = null;
  onLogEnd: (() => void) | null = null;
  private hwWaiters: Array<{ end: number; resolve: () => void; reject: (err: Error) => void }> = [];
  /** Idempotent/transactional producer state (loaded by the broker on start). */
  readonly producers: ProducerStateManager;
  /** Bytes appended since the last producer-state snapshot. */
  bytesSinceSnapshot = 0;
  /** A producer-state snapshot is queued. */
  snapshotPending = false;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private destroyed = false;
  private durableTarget = 0;
  private durableWaiting = false;
  private readonly logger: Logger;
  private readonly onAdvance: (partition: Partition) => void;

  constructor(opts: PartitionOptions) {
    this.log = opts.log;
    this.topic = opts.log.topic;
    this.id = opts.log.partition;
    this.logger = opts.logger;
    this.onAdvance = opts.onAdvance;
    this.tracker = new OffsetTracker(this.log.offsets());
    this.producers = new ProducerStateManager(`${this.topic}-${this.id}`);
    // A log that never held a record has no producer state to load.
    this.producers.loaded = this.tracker.logEndOffset === 0;
    this.refresh();
    // After an unclean shutdown the recovered tail is not yet known to be on
    // disk: the log fsyncs it on open, and the high watermark follows.
    if (this.tracker.logEndOffset > this.tracker.highWatermark)
      this.trackDurability(this.tracker.logEndOffset);
  }

  /** Run `fn` after every earlier mutation of this partition has finished. */
  enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(() => {
      if (this.destroyed) {
        throw new EddyError(ErrorCode.TOPIC_NOT_FOUND, `topic '${this.topic}' was deleted`, {
          topic: this.topic,
        });
      }
      if (this.closed) {
        throw new EddyError(ErrorCode.SHUTTING_DOWN, `partition ${this.topic}-${this.id} is closing: retry`);
      }
      return fn();
    });
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Append one batch (offsets assigned by the log) and start tracking its durability. */
  append(batch: Uint8Array): Promise<AppendInfo> {
    return this.enqueue(() => this.appendNow(batch));
  }

  /**
   * Append an idempotent/transactional batch: `verify` (transaction
   * membership) and the producer-state check run in the same queue step as
   * the write. A duplicate of one of the producer's last 5 batches is not
   * written; its original offsets come back with `duplicate: true`.
   */
  appendProducerBatch(
    batch: Uint8Array,
    opts: { producer: ProducerBatch; now: number; verify?: () => void },
  ): Promise<{ info: AppendInfo; duplicate: boolean }> {
    return this.enqueue(async () => {
      const check = this.producers.check(opts.producer);
      if (check.duplicate) {
        const info: AppendInfo = {
          baseOffset: check.baseOffset,
          lastOffset: check.lastOffset,
          maxTimestamp: -1,
          logAppendTime: -1,
          recordCount: check.lastOffset - check.baseOffset + 1,
          size: 0,
        };
        return { info, duplicate: true };
      }
      opts.verify?.();
      const info = await this.appendNow(batch, (info) =>
        this.producers.onData(opts.producer, info.baseOffset, opts.now),
      );
      return { info, duplicate: false };
    });
  }

  /** Append a COMMIT/ABORT marker for a producer's transaction (the coordinator's path). */
  appendMarker(m: {
    producerId: number;
    producerEpoch: number;
    commit: boolean;
    coordinatorEpoch: number;
    now: number;
  }): Promise<AppendInfo> {
    return this.enqueue(async () => {
      const batch = encodeEndTxnMarker({ ...m, timestamp: m.now, partitionLeaderEpoch: this.leaderEpoch });
      return this.appendNow(batch, (info) =>
        this.producers.onMarker({ ...m, offset: info.baseOffset, timestamp: m.now }),
      );
    });
  }

  /** Due for a producer-state snapshot (enough producer batches or bytes since the last)? */
  snapshotDue(): boolean {
    return (
      !this.snapshotPending &&
      (this.producers.changesSinceSnapshot >= SNAPSHOT_EVERY_CHANGES ||
        this.bytesSinceSnapshot >= SNAPSHOT_EVERY_BYTES)
    );
  }

  /** Inside the queue: write, apply producer state (before the LSO is recomputed), track durability. */
  private async appendNow(batch: Uint8Array, apply?: (info: AppendInfo) => void): Promise<AppendInfo> {
    // Cluster mode: leadership may have moved while this append waited in the queue.
    if (!this.leads) {
      throw new EddyError(
        ErrorCode.NOT_LEADER,
        `this node no longer leads ${this.topic}-${this.id}: refresh metadata and retry`,
      );
    }
    // Every batch reaching here had its CRC checked (append-batch.ts) or was encoded by the broker.
    const info = await this.log.append(batch, { leaderEpoch: this.leaderEpoch, crcVerified: true });
    if (apply) {
      try {
        apply(info);
      } catch (err) {
        this.logger.error("producer state update failed after append", { topic: this.topic, err });
      }
    }
    this.bytesSinceSnapshot += info.size;
    this.refresh();
    this.trackDurability(info.lastOffset + 1);
    this.onLogEnd?.();
    return info;
  }

  /** Resolve once every offset below `end` is committed (durable under the policy and visible). */
  async waitCommitted(end: number): Promise<void> {
    if (this.tracker.highWatermark >= end) return;
    if (this.replicationLimit !== null) return this.waitHighWatermark(end);
    await this.log.waitDurable(end);
    this.refresh();
  }

  /**
   * The producer's acknowledgement: committed for acks=all; with replication,
   * acks=1 waits only for the leader's own durability (Kafka's acks=1).
   */
  async waitAcked(end: number, acks: Acks): Promise<void> {
    if (acks === 1 && this.replicationLimit !== null) return this.log.waitDurable(end);
    return this.waitCommitted(end);
  }

  /** Cluster mode: resolve when the high watermark reaches `end`; rejected by failWaiters (lost leadership). */
  private waitHighWatermark(end: number): Promise<void> {
    if (this.tracker.highWatermark >= end) return Promise.resolve();
    this.trackDurability(end);
    return new Promise((resolve, reject) => this.hwWaiters.push({ end, resolve, reject }));
  }

  /** Reject every acks=all wait (this node stopped leading: the records may be truncated). */
  failWaiters(err: Error): void {
    const waiters = this.hwWaiters;
    this.hwWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  /**
   * Cluster mode, follower: append a leader's batch as it is (offsets, leader
   * epoch and timestamps kept); its baseOffset must be at or past the log end
   * offset (a compacted leader's offsets skip). One exception, as in Kafka:
   * an empty log whose start lies inside the batch (the leader's log start
   * was set inside it by delete-records) restarts at the batch's base offset
   * and keeps its log start.
   */
  appendReplicated(batch: Uint8Array): Promise<AppendInfo> {
    return this.enqueue(async () => {
      const start = await this.restartIfStraddled(batch);
      const info = await this.log.append(batch, { assignOffsets: false });
      if (start !== null) await this.log.deleteRecordsBefore(start);
      this.bytesSinceSnapshot += info.size;
      this.refresh();
      this.trackDurability(info.lastOffset + 1);
      return info;
    });
  }

  /**
   * Cluster mode, follower: append a fetch response's batches (ascending, as
   * the leader stored them) in one queue step, under appendReplicated's rules
   * for each (the empty-log exception applies to the first), with one log
   * write per segment, then one offset/high-watermark update. `onAppended(n)`
   * runs inside the step for the first n batches, once they are written and
   * before the LSO is recomputed (the follower's producer state). A refused
   * batch stops the run: the batches before it stay appended and accounted,
   * then its error is thrown.
   */
  appendReplicatedBatches(
    batches: readonly Uint8Array[],
    opts: { onAppended?: (count: number) => void } = {},
  ): Promise<{ count: number; size: number }> {
    return this.enqueue(async () => {
      const first = batches[0];
      if (first === undefined) return { count: 0, size: 0 };
      const start = await this.restartIfStraddled(first);
      const r = this.log.appendReplicated
        ? await this.log.appendReplicated(batches)
        : await appendEach(this.log, batches);
      if (start !== null && r.count > 0) await this.log.deleteRecordsBefore(start);
      if (r.count > 0) {
        try {
          opts.onAppended?.(r.count);
        } catch (err) {
          this.logger.error("producer state update failed after append", { topic: this.topic, err });
        }
        this.bytesSinceSnapshot += r.size;
        this.refresh();
        this.trackDurability(this.tracker.logEndOffset);
      }
      if (r.error) throw r.error;
      return { count: r.count, size: r.size };
    });
  }

  /**
   * The empty-log exception of appendReplicated: when the log is empty and its
   * start lies inside the leader's `batch`, restart the log at the batch's base
   * offset and return the old start (to delete below once the batch is in);
   * otherwise null. Runs inside the partition's queue.
   */
  private async restartIfStraddled(batch: Uint8Array): Promise<number | null> {
    const { logStartOffset: start, logEndOffset: end } = this.log.offsets();
    const h = readBatchHeader(batch, 0);
    const straddles =
      start === end && h.baseOffset < end && h.baseOffset >= 0 && h.baseOffset + h.lastOffsetDelta >= end;
    if (!straddles) return null;
    await this.log.truncateFullyAndStartAt(h.baseOffset);
    this.tracker.resetTo(h.baseOffset);
    this.durableTarget = h.baseOffset;
    return start;
  }

  /** Cluster mode, follower: drop everything at and above `offset` (divergent tail after a failover). */
  truncate(offset: number): Promise<void> {
    return this.enqueue(async () => {
      if (offset >= this.log.offsets().logEndOffset) return;
      await this.log.truncateTo(offset);
      this.durableTarget = Math.min(this.durableTarget, offset);
      this.refresh();
    });
  }

  /**
   * Cluster mode, follower: the log ends below the leader's log start (the
   * leader deleted those records while this replica was away). Drop the
   * whole log and restart it, empty, at `offset`; the producer state goes
   * with it (the caller stores a fresh snapshot).
   */
  truncateFullyAndStartAt(offset: number): Promise<void> {
    return this.enqueue(async () => {
      await this.log.truncateFullyAndStartAt(offset);
      this.tracker.resetTo(offset);
      this.durableTarget = offset;
      this.producers.clear();
      this.producers.loaded = true;
      this.refresh();
    });
  }

  /** Re-read the log's offsets and move the tracker (high watermark, LSO, log start). */
  refresh(): void {
    const o = this.log.offsets();
    const t = this.tracker;
    t.logEndOffset = o.logEndOffset;
    t.flushedOffset = o.flushedOffset;
    t.advanceLogStart(o.logStartOffset);
    t.clampToLogEnd();
    const durable =
      this.log.config().durability === Durability.FSYNC
        ? Math.min(o.flushedOffset, o.logEndOffset)
        : o.logEndOffset;
    const committed = Math.min(durable, this.replicationLimit ?? durable);
    const moved = t.advanceHighWatermark(committed);
    if (moved && this.hwWaiters.length > 0) {
      const hw = t.highWatermark;
      const ready = this.hwWaiters.filter((w) => w.end <= hw);
      this.hwWaiters = this.hwWaiters.filter((w) => w.end > hw);
      for (const w of ready) w.resolve();
    }
    const unstable = this.producers.firstUnstableOffset();
    const lso = Math.max(t.logStartOffset, Math.min(unstable ?? t.highWatermark, t.highWatermark));
    const lsoMoved = lso !== t.lastStableOffset;
    t.lastStableOffset = lso;
    // Wake read_committed long-polls when only the LSO moved (a marker closed a transaction).
    if (moved || lsoMoved) this.onAdvance(this);
  }

  reconfigure(config: LogConfig): void {
    this.log.reconfigure(config);
    this.refresh();
    if (this.tracker.logEndOffset > this.tracker.highWatermark)
      this.trackDurability(this.tracker.logEndOffset);
  }

  state(): PartitionState {
    const t = this.tracker;
    return {
      topic: this.topic,
      partition: this.id,
      leaderEpoch: this.leaderEpoch,
      logStartOffset: t.logStartOffset,
      logEndOffset: t.logEndOffset,
      flushedOffset: t.flushedOffset,
      highWatermark: t.highWatermark,
      lastStableOffset: t.lastStableOffset,
    };
  }

  /** Wait for in-flight mutations, then close the log (fsync). */
  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
    this.failWaiters(
      new EddyError(ErrorCode.SHUTTING_DOWN, `partition ${this.topic}-${this.id} closed: retry`),
    );
    await this.log.close();
  }

  /** Wait for in-flight mutations, then remove the partition's data. */
  async destroy(): Promise<void> {
    await this.drain();
    this.closed = true;
    this.failWaiters(new EddyError(ErrorCode.TOPIC_NOT_FOUND, `topic '${this.topic}' was deleted`));
    this.destroyed = true;
    await this.log.destroy();
  }

  /** Resolve once the mutation queue is empty at the time of the call. */
  async drain(): Promise<void> {
    await this.tail;
  }

  /**
   * The group-commit loop releases durability; keep one waiter per partition
   * that moves the high watermark as flushes land (so acks=0 data becomes
   * visible too).
   */
  private trackDurability(end: number): void {
    this.durableTarget = Math.max(this.durableTarget, end);
    if (this.durableWaiting || this.tracker.highWatermark >= this.durableTarget) return;
    this.durableWaiting = true;
    void this.durabilityLoop();
  }

  private async durabilityLoop(): Promise<void> {
    try {
      while (!this.closed && this.tracker.highWatermark < this.durableTarget) {
        const before = this.tracker.highWatermark;
        await this.log.waitDurable(this.durableTarget);
        this.refresh();
        if (this.tracker.highWatermark === before) break;
      }
    } catch (err) {
      if (!this.closed) {
        this.logger.error("flush failed; high watermark not advanced", {
          topic: this.topic,
          partition: this.id,
          err,
        });
      }
    } finally {
      this.durableWaiting = false;
    }
  }
}
