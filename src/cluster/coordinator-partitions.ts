/**
 * The partitions of one coordinator topic (`__consumer_offsets` or
 * `__transaction_state`) as this node sees them, Kafka's way: this node
 * coordinates the keys of a partition while it leads it, after it has loaded
 * the partition's state from the log.
 *
 * - `check(key)`: null when this node coordinates `key` now; otherwise
 *   COORDINATOR_NOT_AVAILABLE (topic not created yet, or the partition has no
 *   leader), NOT_COORDINATOR (another node leads it) or
 *   COORDINATOR_LOAD_IN_PROGRESS (this node leads it and is still loading).
 * - Loading (on leadership, seen by `refresh()` after every metadata change,
 *   or lazily by `check()`): wait until the high watermark covers the log end
 *   as it was when the node took over (everything an earlier leader
 *   acknowledged with acks=all is below it), read the partition from its log
 *   start to there, and hand the records to `load`. A partition led in a
 *   newer epoch is loaded again; a partition no longer led is `unload`ed.
 * - `append(partition, records)`: write state changes with acks=all through
 *   the local leader; errors are mapped as Kafka's coordinators map them
 *   (NOT_LEADER → NOT_COORDINATOR; NOT_ENOUGH_REPLICAS and TIMEOUT →
 *   COORDINATOR_NOT_AVAILABLE), so clients find the coordinator again and retry.
 * - `ensureTopic()`: create the topic on first use (RF = min(3, data nodes),
 *   COORDINATOR_PARTITIONS partitions, compacted), as Kafka creates
 *   `__consumer_offsets` on the first FindCoordinator.
 */
import { EddyError, ErrorCode, toEddyError } from "../errors.ts";
import { decodeBatch, encodeBatch, isControl, iterateBatches } from "../log/record-batch.ts";
import type { RecordInput, StoredRecord } from "../log/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import { checkMinInsync, withTimeout } from "../broker/acks.ts";
import type { Partition } from "../broker/partition.ts";
import type { TopicManager } from "../broker/topics.ts";
import { COORDINATOR_MAX_RF, COORDINATOR_PARTITIONS, coordinatorPartition } from "./coordinator-placement.ts";

/** Kafka's offsets.commit.timeout.ms default. */
export const DEFAULT_COORDINATOR_APPEND_TIMEOUT_MS = 5_000;
const READ_CHUNK_BYTES = 1024 * 1024;

export interface CoordinatorPartitionsOptions {
  topic: string;
  topics: TopicManager;
  dataNodes: () => number[];
  clock: Clock;
  logger: Logger;
  /** Rebuild the state of `partition` from its records (in log order, tombstones included). */
  load(partition: number, records: StoredRecord[]): Promise<void>;
  /** Forget the state of `partition` (another node coordinates it now). */
  unload(partition: number): void;
  appendTimeoutMs?: number;
}

interface Loaded {
  epoch: number;
  status: "loading" | "loaded";
}

export class CoordinatorPartitions {
  private readonly states = new Map<number, Loaded>();
  private creating: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly o: CoordinatorPartitionsOptions) {}

  get topic(): string {
    return this.o.topic;
  }

  partitionFor(key: string): number {
    return coordinatorPartition(key, this.partitionCount());
  }

  /** Null when this node coordinates `key` now, else why not (see the module header). */
  check(key: string): ErrorCode | null {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (!this.o.topics.get(this.o.topic)) {
      void this.ensureTopic().catch(() => {});
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    return this.checkPartition(this.partitionFor(key));
  }

  /** check() as a thrown EddyError with a message that says what to do. */
  require(key: string): number {
    const error = this.check(key);
    if (error !== null) throw coordinatorError(error, this.o.topic, key);
    return this.partitionFor(key);
  }

  /** Is this node the loaded coordinator of `partition`? */
  owns(partition: number): boolean {
    return this.checkPartition(partition) === null;
  }

  /** The leader of the coordinator partition of `key` (creating the topic first if needed), or an error. */
  async locate(key: string): Promise<{ error: ErrorCode | null; leader: number }> {
    if (!this.o.topics.get(this.o.topic)) {
      try {
        await this.ensureTopic();
      } catch (err) {
        this.o.logger.debug("coordinator topic not created yet", { topic: this.o.topic, err });
      }
    }
    const state = this.o.topics.get(this.o.topic);
    const p = state?.partitions[this.partitionFor(key)];
    const leader = p?.assignment?.leader ?? -1;
    return leader >= 0 ? { error: null, leader } : { error: ErrorCode.COORDINATOR_NOT_AVAILABLE, leader: -1 };
  }

  /** Create the coordinator topic unless it exists (one attempt at a time). */
  ensureTopic(): Promise<void> {
    if (this.o.topics.get(this.o.topic)) return Promise.resolve();
    this.creating ??= (async () => {
      try {
        await this.o.topics.create({
          name: this.o.topic,
          partitions: COORDINATOR_PARTITIONS,
          replicationFactor: Math.max(1, Math.min(COORDINATOR_MAX_RF, this.o.dataNodes().length)),
          configs: { "cleanup.policy": "compact" },
        });
        this.o.logger.info("coordinator topic created", { topic: this.o.topic });
      } catch (err) {
        if (!(err instanceof EddyError && err.code === ErrorCode.TOPIC_EXISTS)) throw err;
      }
    })().finally(() => {
      this.creating = null;
    });
    return this.creating;
  }

  /** Start loading newly led partitions and unload lost ones (after every metadata change). */
  refresh(): void {
    if (this.closed) return;
    const state = this.o.topics.get(this.o.topic);
    for (const [k, st] of [...this.states]) {
      const p = state?.partitions[k];
      if (!p?.leads || p.leaderEpoch !== st.epoch) this.drop(k);
    }
    for (const p of state?.partitions ?? []) if (p.leads) this.checkPartition(p.id);
  }

  /**
   * Append state records to `partition` with acks=all; resolves once they are
   * committed. Throws NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE /
   * COORDINATOR_LOAD_IN_PROGRESS (retriable: the client finds the coordinator again).
   */
  async append(partition: number, records: RecordInput[]): Promise<void> {
    const error = this.checkPartition(partition);
    if (error !== null) throw coordinatorError(error, this.o.topic, null);
    const state = this.o.topics.require(this.o.topic);
    const p = state.partitions[partition]!;
    const epoch = p.leaderEpoch;
    try {
      checkMinInsync(state, -1, p);
      const info = await p.append(encodeBatch(records, { now: this.o.clock.now() }));
      await withTimeout(
        p.waitCommitted(info.lastOffset + 1),
        this.o.appendTimeoutMs ?? DEFAULT_COORDINATOR_APPEND_TIMEOUT_MS,
        `coordinator state for ${this.o.topic}-${partition}`,
      );
    } catch (err) {
      const e = toEddyError(err);
      const code =
        e.code === ErrorCode.NOT_LEADER || e.code === ErrorCode.FENCED_LEADER_EPOCH
          ? ErrorCode.NOT_COORDINATOR
          : e.code === ErrorCode.NOT_ENOUGH_REPLICAS || e.code === ErrorCode.TIMEOUT
            ? ErrorCode.COORDINATOR_NOT_AVAILABLE
            : e.code;
      throw new EddyError(code, `${e.message} (coordinator state not written: retry)`, {
        topic: this.o.topic,
        partition,
      });
    }
    if (!p.leads || p.leaderEpoch !== epoch) {
      throw coordinatorError(ErrorCode.NOT_COORDINATOR, this.o.topic, null);
    }
  }

  close(): void {
    this.closed = true;
    this.states.clear();
  }

  private partitionCount(): number {
    return this.o.topics.get(this.o.topic)?.partitions.length ?? COORDINATOR_PARTITIONS;
  }

  private checkPartition(k: number): ErrorCode | null {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const p = this.o.topics.get(this.o.topic)?.partitions[k];
    if (!p) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const st = this.states.get(k);
    if (!p.leads) {
      if (st) this.drop(k);
      return (p.assignment?.leader ?? -1) >= 0
        ? ErrorCode.NOT_COORDINATOR
        : ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    if (st && st.epoch === p.leaderEpoch) {
      return st.status === "loaded" ? null : ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    }
    if (st) this.drop(k);
    this.startLoad(p);
    return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
  }

  private drop(k: number): void {
    this.states.delete(k);
    try {
      this.o.unload(k);
    } catch (err) {
      this.o.logger.warn("unloading coordinator state failed", { topic: this.o.topic, partition: k, err });
    }
    this.o.logger.info("no longer coordinator for partition", { topic: this.o.topic, partition: k });
  }

  private startLoad(p: Partition): void {
    const st: Loaded = { epoch: p.leaderEpoch, status: "loading" };
    this.states.set(p.id, st);
    const current = () => this.states.get(p.id) === st && p.leads && p.leaderEpoch === st.epoch;
    this.o.logger.info("loading coordinator state", { topic: p.topic, partition: p.id, epoch: st.epoch });
    void (async () => {
      // The log end once earlier appends (replicated while following) are in.
      const end = await p.enqueue(async () => p.log.offsets().logEndOffset);
      await p.waitCommitted(end);
      if (!current()) return;
      const records = await readTo(p, end);
      if (!current()) return;
      await this.o.load(p.id, records);
      if (!current()) return;
      st.status = "loaded";
      this.o.logger.info("coordinator state loaded", {
        topic: p.topic,
        partition: p.id,
        epoch: st.epoch,
        records: records.length,
      });
    })().catch((err) => {
      if (this.states.get(p.id) === st) this.states.delete(p.id);
      this.o.logger.warn("loading coordinator state failed; retried on the next request", {
        topic: p.topic,
        partition: p.id,
        err,
      });
    });
  }
}

/** Every data record of `p` from its log start up to `end` (control batches skipped). */
async function readTo(p: Partition, end: number): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  let offset = p.tracker.logStartOffset;
  while (offset < end) {
    const read = await p.log.read(offset, READ_CHUNK_BYTES, { maxOffset: end, minOneBatch: true });
    if (read.nextOffset <= offset || read.bytes.length === 0) break;
    for (const b of iterateBatches(read.bytes)) {
      if (isControl(b.header.attributes)) continue;
      for (const r of decodeBatch(read.bytes, b.pos).records) {
        if (r.offset >= offset && r.offset < end) out.push(r);
      }
    }
    offset = read.nextOffset;
  }
  return out;
}

export function coordinatorError(code: ErrorCode, topic: string, key: string | null): EddyError {
  const what = key === null ? `this ${topic} partition` : `'${key}'`;
  const message =
    code === ErrorCode.NOT_COORDINATOR
      ? `this node is not the coordinator of ${what}: find the coordinator again (FindCoordinator) and retry there`
      : code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
        ? `this node is still loading the coordinator state of ${what}: retry shortly`
        : `the coordinator of ${what} is not available right now (no leader for its ${topic} partition yet): retry shortly`;
  return new EddyError(code, message, { topic, ...(key === null ? {} : { key }) });
}
