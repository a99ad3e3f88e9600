/**
 * The topic registry: create, delete, describe, alter and grow topics; open
 * every topic's partition logs on start-up (in parallel) and close them on
 * shutdown. Topic metadata lives in the MetadataStore; data lives in the
 * LogStore. Admin operations are serialised by one lock so that concurrent
 * auto-creates and deletes cannot interleave.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { LogConfig, LogStore, PartitionLog } from "../log/types.ts";
import type { MetadataStore, TopicRecord } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import type { AdminRequest } from "../cluster/controller.ts";
import { AbsentLog, isAbsentLog } from "./absent-log.ts";
import type { SafeObserver } from "./observer.ts";
import { Partition } from "./partition.ts";
import {
  normaliseOverrides,
  parseTopicConfig,
  resolveTopicConfigs,
  TOPIC_CONFIG_SCHEMAS,
  toLogConfig,
} from "./topic-configs.ts";
import { collisionKey, isInternalTopic, validateTopicName } from "./topic-names.ts";
import type {
  CreateTopicRequest,
  PartitionInfo,
  TopicConfigs,
  TopicDescription,
  TopicSummary,
} from "./types.ts";

export const MAX_PARTITIONS = 100_000;

/**
 * Cluster mode: topic admin goes through the controller (the metadata log)
 * and this node's open topics follow the metadata store (`reconcile`).
 */
export interface TopicCluster {
  /** Resolves once the change is applied and reconciled on this node. */
  admin(req: AdminRequest): Promise<void>;
  dataNodes(): number[];
  /** A topic is going away here: stop replicating it. */
  forget(topic: string): void;
  /** This node stops replicating one partition (reassigned away): stop its fetcher or leadership. */
  forgetPartition?(topic: string, partition: number): void;
}

export interface TopicState {
  record: TopicRecord;
  configs: TopicConfigs;
  partitions: Partition[];
  /** Sticky partitioner cursor for keyless records. */
  keylessCursor: number;
}

export interface TopicManagerOptions {
  logStore: LogStore;
  metadata: MetadataStore;
  logger: Logger;
  clock: Clock;
  nodeId: number;
  numPartitions: number;
  /** Default for topics created without one; undefined = min(3, data nodes). */
  replicationFactor: number | undefined;
  autoCreateTopics: boolean;
  defaultConfigs: TopicConfigs;
  observer: SafeObserver;
  onAdvance: (partition: Partition) => void;
  /** A topic disappeared (deleted): wake its long-polls. */
  onTopicGone: (topic: string) => void;
  cluster?: TopicCluster;
}

export class TopicManager {
  private readonly topics = new Map<string, TopicState>();
  private adminTail: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: TopicManagerOptions) {}

  get(name: string): TopicState | undefined {
    return this.topics.get(name);
  }

  require(name: string): TopicState {
    const topic = this.topics.get(name);
    if (!topic) {
      throw new EddyError(ErrorCode.TOPIC_NOT_FOUND, `topic '${name}' does not exist: create it first`, {
        topic: name,
      });
    }
    return topic;
  }

  partition(topic: string, partition: number): Partition {
    const state = this.require(topic);
    const p = Number.isInteger(partition) ? state.partitions[partition] : undefined;
    if (!p) {
      throw new EddyError(
        ErrorCode.PARTITION_NOT_FOUND,
        `topic '${topic}' has no partition ${partition}: it has partitions 0..${state.partitions.length - 1}`,
        { topic, partition },
      );
    }
    return p;
  }

  all(): TopicState[] {
    return [...this.topics.values()];
  }

  allPartitions(): Partition[] {
    return this.all().flatMap((t) => t.partitions);
  }

  summary(state: TopicState): TopicSummary {
    const r = state.record;
    return { name: r.name, id: r.id, partitions: r.partitions, replicationFactor: r.replicationFactor };
  }

  describe(state: TopicState): TopicDescription {
    // Cluster mode: leader, replicas and ISR as the metadata log says (also before this node took its roles).
    const assigned = this.o.cluster ? this.o.metadata.listPartitionAssignments(state.record.name) : [];
    const partitions: PartitionInfo[] = state.partitions.map((p) => {
      const t = p.tracker;
      const a = assigned[p.id] ?? p.assignment;
      return {
        partition: p.id,
        leader: a ? a.leader : this.o.nodeId,
        leaderEpoch: assigned[p.id]?.leaderEpoch ?? p.leaderEpoch,
        replicas: a ? [...a.replicas] : [this.o.nodeId],
        isr: a ? [...a.isr] : [this.o.nodeId],
        logStartOffset: t.logStartOffset,
        logEndOffset: t.logEndOffset,
        highWatermark: t.highWatermark,
        lastStableOffset: t.lastStableOffset,
        sizeBytes: p.log.sizeBytes(),
        segments: p.log.segmentCount(),
      };
    });
    return {
      name: state.record.name,
      id: state.record.id,
      partitions,
      replicationFactor: state.record.replicationFactor,
      configs: { ...state.configs },
      overrides: { ...state.record.configs },
      internal: isInternalTopic(state.record.name),
    };
  }

  /** What a topic would look like once created (validateOnly). */
  private describePlanned(record: TopicRecord, configs: TopicConfigs): TopicDescription {
    const d = this.describe({ record, configs, partitions: [], keylessCursor: 0 });
    d.partitions = Array.from({ length: record.partitions }, (_, partition) => ({
      partition,
      leader: this.o.nodeId,
      leaderEpoch: 0,
      replicas: [this.o.nodeId],
      isr: [this.o.nodeId],
      logStartOffset: 0,
      logEndOffset: 0,
      highWatermark: 0,
      lastStableOffset: 0,
      sizeBytes: 0,
      segments: 0,
    }));
    return d;
  }

  /** Open every topic recorded in the metadata store, all partitions in parallel. */
  async openAll(): Promise<void> {
    const records = this.o.metadata.listTopics();
    const opened = await Promise.allSettled(records.map((r) => this.openTopic(r, this.lenientConfigs(r))));
    const failed = opened.find((r) => r.status === "rejected");
    if (failed) {
      await this.closeAll();
      throw failed.reason;
    }
    const known = new Set(records.map((r) => r.name));
    const onDisk = await this.o.logStore.list();
    if (this.o.cluster) {
      // Cluster mode: data of partitions this node no longer replicates (reassigned away while down).
      const stale = onDisk.filter((tp) => known.has(tp.topic) && !this.hostsReplica(tp.topic, tp.partition));
      for (const tp of stale) await this.removePartitionData(tp.topic, tp.partition);
    }
    const orphans = onDisk.filter((tp) => !known.has(tp.topic));
    if (orphans.length > 0) {
      this.o.logger.warn("partition data found for topics not in the metadata store; left untouched", {
        partitions: orphans.slice(0, 20).map((tp) => `${tp.topic}-${tp.partition}`),
      });
    }
  }

  async create(req: CreateTopicRequest): Promise<TopicDescription> {
    const name = req.name;
    validateTopicName(name);
    const partitions = req.partitions ?? this.o.numPartitions;
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      throw new EddyError(
        ErrorCode.INVALID_PARTITIONS,
        `topic '${name}': partition count must be an integer from 1 to ${MAX_PARTITIONS}, got ${partitions}`,
      );
    }
    const nodes = this.o.cluster?.dataNodes().length ?? 1;
    const replicationFactor = req.replicationFactor ?? this.o.replicationFactor ?? Math.min(3, nodes);
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > nodes) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `topic '${name}': replication factor ${replicationFactor} is not possible with ${nodes} data node(s): use 1 to ${nodes}`,
      );
    }
    const overrides = normaliseOverrides(req.configs ?? {});
    const configs = resolveTopicConfigs(this.o.defaultConfigs, overrides);
    const newRecord = (): TopicRecord => ({
      name,
      id: crypto.randomUUID(),
      partitions,
      replicationFactor,
      configs: overrides,
      createdAt: this.o.clock.now(),
    });
    const cluster = this.o.cluster;
    if (cluster) {
      this.checkNameFree(name);
      const record = newRecord();
      if (req.validateOnly) return this.describePlanned(record, configs);
      await cluster.admin({ op: "create-topic", topic: record });
      return this.describe(this.require(name));
    }
    return this.withAdminLock(async () => {
      this.checkNameFree(name);
      const record = newRecord();
      if (req.validateOnly) return this.describePlanned(record, configs);
      await this.removeLeftoverData(name);
      this.o.metadata.createTopic(record);
      try {
        const state = await this.openTopic(record, configs);
        this.o.observer.onTopicCreated(name, partitions);
        this.o.logger.info("topic created", { topic: name, partitions });
        return this.describe(state);
      } catch (err) {
        this.o.metadata.deleteTopic(name);
        throw err;
      }
    });
  }

  /** The topic's summary; creates it with defaults when auto-create is on. */
  async ensure(name: string): Promise<TopicState> {
    const existing = this.topics.get(name);
    if (existing) return existing;
    validateTopicName(name);
    if (!this.o.autoCreateTopics) this.require(name);
    try {
      await this.create({ name });
    } catch (err) {
      if (!(err instanceof EddyError && err.code === ErrorCode.TOPIC_EXISTS)) throw err;
      // Cluster mode: the controller knows the topic; catch up with it before looking again.
      if (!this.topics.has(name)) await this.o.cluster?.admin({ op: "barrier" });
    }
    return this.require(name);
  }

  async delete(name: string): Promise<void> {
    if (this.o.cluster) {
      this.require(name);
      await this.o.cluster.admin({ op: "delete-topic", name });
      return;
    }
    await this.withAdminLock(async () => {
      const state = this.require(name);
      this.topics.delete(name);
      this.o.onTopicGone(name);
      const results = await Promise.allSettled(state.partitions.map((p) => p.destroy()));
      this.o.metadata.deleteTopic(name);
      this.o.metadata.deleteOffsetsForTopic(name);
      this.o.observer.onTopicDeleted(name);
      this.o.logger.info("topic deleted", { topic: name });
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    });
  }

  async alterConfigs(
    name: string,
    changes: Record<string, string | number | null>,
  ): Promise<TopicDescription> {
    if (this.o.cluster) {
      const overrides = this.applyConfigChanges(this.require(name).record.configs, changes);
      await this.o.cluster.admin({ op: "alter-configs", name, configs: overrides });
      return this.describe(this.require(name));
    }
    return this.withAdminLock(async () => {
      const state = this.require(name);
      const overrides = { ...state.record.configs };
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) {
          if (!Object.hasOwn(TOPIC_CONFIG_SCHEMAS, key)) parseTopicConfig(key, value);
          delete overrides[key];
        } else {
          overrides[key] = String(parseTopicConfig(key, value));
        }
      }
      const configs = resolveTopicConfigs(this.o.defaultConfigs, overrides);
      this.o.metadata.setTopicConfigs(name, overrides);
      state.record = { ...state.record, configs: overrides };
      state.configs = configs;
      const logConfig = toLogConfig(configs);
      for (const p of state.partitions) p.reconfigure(logConfig);
      this.o.logger.info("topic configs altered", { topic: name, overrides });
      return this.describe(state);
    });
  }

  async createPartitions(name: string, count: number): Promise<TopicDescription> {
    if (this.o.cluster) {
      const current = this.require(name).partitions.length;
      if (!Number.isInteger(count) || count <= current || count > MAX_PARTITIONS) {
        throw new EddyError(
          ErrorCode.INVALID_PARTITIONS,
          `topic '${name}' has ${current} partitions: the new count must be an integer above ${current} (at most ${MAX_PARTITIONS})`,
        );
      }
      await this.o.cluster.admin({ op: "create-partitions", name, count });
      return this.describe(this.require(name));
    }
    return this.withAdminLock(async () => {
      const state = this.require(name);
      const current = state.partitions.length;
      if (!Number.isInteger(count) || count <= current || count > MAX_PARTITIONS) {
        throw new EddyError(
          ErrorCode.INVALID_PARTITIONS,
          `topic '${name}' has ${current} partitions: the new count must be an integer above ${current} (at most ${MAX_PARTITIONS})`,
        );
      }
      const logConfig = toLogConfig(state.configs);
      const ids = Array.from({ length: count - current }, (_, i) => current + i);
      const logs = await Promise.all(ids.map((id) => this.o.logStore.open(name, id, logConfig)));
      this.o.metadata.setPartitionCount(name, count);
      state.partitions.push(...logs.map((log) => this.newPartition(log)));
      state.record = { ...state.record, partitions: count };
      return this.describe(state);
    });
  }

  /**
   * Cluster mode: make the open topics match the metadata store (which the
   * metadata log drives): open new topics and partitions, apply configs, and
   * delete the data of topics that are gone (or were re-created: other id).
   */
  reconcile(): Promise<void> {
    return this.withAdminLock(async () => {
      const records = new Map(this.o.metadata.listTopics().map((r) => [r.name, r]));
      for (const state of this.all()) {
        const r = records.get(state.record.name);
        if (r && r.id === state.record.id) continue;
        const name = state.record.name;
        this.o.cluster?.forget(name);
        this.topics.delete(name);
        this.o.onTopicGone(name);
        await Promise.allSettled(state.partitions.map((p) => p.destroy()));
        this.o.observer.onTopicDeleted(name);
        this.o.logger.info("topic deleted", { topic: name });
      }
      for (const r of records.values()) {
        const state = this.topics.get(r.name);
        if (!state) {
          await this.removeLeftoverData(r.name);
          await this.openTopic(r, this.lenientConfigs(r));
          this.o.observer.onTopicCreated(r.name, r.partitions);
          this.o.logger.info("topic created", { topic: r.name, partitions: r.partitions });
          continue;
        }
        if (JSON.stringify(state.record.configs) !== JSON.stringify(r.configs)) {
          state.configs = this.lenientConfigs(r);
          const logConfig = toLogConfig(state.configs);
          for (const p of state.partitions) p.reconfigure(logConfig);
        }
        if (r.partitions > state.partitions.length) {
          const logConfig = toLogConfig(state.configs);
          const ids = Array.from(
            { length: r.partitions - state.partitions.length },
            (_, i) => state.partitions.length + i,
          );
          const logs = await Promise.all(ids.map((id) => this.openLog(r.name, id, logConfig)));
          state.partitions.push(...logs.map((log) => this.newPartition(log)));
        }
        state.record = r;
        await this.reconcileReplicas(state);
      }
    });
  }

  /**
   * Cluster mode: open logs for the partitions of `state` this node now
   * replicates, and close and remove those it no longer does (reassignment).
   */
  private async reconcileReplicas(state: TopicState): Promise<void> {
    const name = state.record.name;
    const logConfig = toLogConfig(state.configs);
    for (let i = 0; i < state.partitions.length; i++) {
      const old = state.partitions[i]!;
      const want = this.hostsReplica(name, i);
      if (want !== isAbsentLog(old.log)) continue;
      this.o.cluster?.forgetPartition?.(name, i);
      if (want) {
        await this.removePartitionData(name, i);
        state.partitions[i] = this.newPartition(await this.o.logStore.open(name, i, logConfig));
        await old.destroy();
        this.o.logger.info("replicating partition", { topic: name, partition: i });
      } else {
        state.partitions[i] = this.newPartition(new AbsentLog(name, i, logConfig));
        this.o.onTopicGone(name);
        await old.destroy();
        this.o.logger.info("no longer replicating partition: data removed", { topic: name, partition: i });
      }
    }
  }

  /** Single node: always. Cluster mode: the metadata log assigns a replica of this partition to this node. */
  private hostsReplica(topic: string, partition: number): boolean {
    if (!this.o.cluster) return true;
    const a = this.o.metadata.listPartitionAssignments(topic).find((x) => x.partition === partition);
    return a?.replicas.includes(this.o.nodeId) === true;
  }

  private openLog(topic: string, partition: number, config: LogConfig): Promise<PartitionLog> {
    if (this.hostsReplica(topic, partition)) return this.o.logStore.open(topic, partition, config);
    return Promise.resolve(new AbsentLog(topic, partition, config));
  }

  private async removePartitionData(topic: string, partition: number): Promise<void> {
    const found = (await this.o.logStore.list()).some(
      (tp) => tp.topic === topic && tp.partition === partition,
    );
    if (!found) return;
    await (await this.o.logStore.open(topic, partition, toLogConfig(this.o.defaultConfigs))).destroy();
  }

  private applyConfigChanges(
    current: Record<string, string>,
    changes: Record<string, string | number | null>,
  ): Record<string, string> {
    const overrides = { ...current };
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) {
        if (!Object.hasOwn(TOPIC_CONFIG_SCHEMAS, key)) parseTopicConfig(key, value);
        delete overrides[key];
      } else {
        overrides[key] = String(parseTopicConfig(key, value));
      }
    }
    return overrides;
  }

  async closeAll(): Promise<void> {
    const partitions = this.allPartitions();
    this.topics.clear();
    const results = await Promise.allSettled(partitions.map((p) => p.close()));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  private async openTopic(record: TopicRecord, configs: TopicConfigs): Promise<TopicState> {
    const logConfig = toLogConfig(configs);
    const ids = Array.from({ length: record.partitions }, (_, i) => i);
    const opened = await Promise.allSettled(ids.map((id) => this.openLog(record.name, id, logConfig)));
    const failed = opened.find((r) => r.status === "rejected");
    if (failed) {
      await Promise.allSettled(opened.map((r) => (r.status === "fulfilled" ? r.value.close() : undefined)));
      throw failed.reason;
    }
    const partitions = opened.map((r) =>
      this.newPartition((r as PromiseFulfilledResult<Partition["log"]>).value),
    );
    // A tail recovered after a crash becomes visible once it is fsynced again:
    // wait for that here so the broker is ready with every recovered record.
    // (Cluster mode: durable here is enough; the high watermark follows replication.)
    await Promise.all(
      partitions.map((p) =>
        this.o.cluster
          ? p.log.waitDurable(p.tracker.logEndOffset).then(() => p.refresh())
          : p.waitCommitted(p.tracker.logEndOffset),
      ),
    );
    const state: TopicState = { record, configs, partitions, keylessCursor: 0 };
    this.topics.set(record.name, state);
    return state;
  }

  private newPartition(log: Partition["log"]): Partition {
    const p = new Partition({ log, logger: this.o.logger, onAdvance: this.o.onAdvance });
    if (this.o.cluster) {
      // Cluster mode: no role until the metadata log says so (src/cluster/replica-manager.ts).
      p.leads = false;
      // The local log may end with records never committed: start from the
      // last checkpointed high watermark (never above; none = log start).
      const t = p.tracker;
      const checkpoint = this.o.metadata.getHighWatermark(p.topic, p.id);
      const hw = Math.max(t.logStartOffset, Math.min(t.highWatermark, checkpoint));
      if (hw < t.highWatermark) {
        t.highWatermark = hw;
        t.lastStableOffset = Math.min(t.lastStableOffset, hw);
      }
      p.replicationLimit = t.highWatermark;
    }
    return p;
  }

  private checkNameFree(name: string): void {
    if (this.topics.has(name)) {
      throw new EddyError(ErrorCode.TOPIC_EXISTS, `topic '${name}' already exists`, { topic: name });
    }
    const key = collisionKey(name);
    for (const other of this.topics.keys()) {
      if (collisionKey(other) === key) {
        throw new EddyError(
          ErrorCode.INVALID_TOPIC,
          `topic '${name}' collides with existing topic '${other}' ('.' and '_' are interchangeable): choose another name`,
          { topic: name, existing: other },
        );
      }
    }
  }

  /** Data left on disk by a topic of the same name (e.g. a crash mid-delete) must not reappear. */
  private async removeLeftoverData(name: string): Promise<void> {
    const leftovers = (await this.o.logStore.list()).filter((tp) => tp.topic === name);
    if (leftovers.length === 0) return;
    this.o.logger.warn("removing leftover partition data before creating topic", {
      topic: name,
      partitions: leftovers.map((tp) => tp.partition),
    });
    const config = toLogConfig(this.o.defaultConfigs);
    for (const tp of leftovers) await (await this.o.logStore.open(name, tp.partition, config)).destroy();
  }

  /** Resolve stored overrides, skipping (and reporting) any the current schema refuses. */
  private lenientConfigs(record: TopicRecord): TopicConfigs {
    const valid: Record<string, string> = {};
    for (const [key, value] of Object.entries(record.configs)) {
      try {
        parseTopicConfig(key, value);
        valid[key] = value;
      } catch (err) {
        this.o.logger.warn("ignoring invalid stored topic config", { topic: record.name, key, value, err });
      }
    }
    return resolveTopicConfigs(this.o.defaultConfigs, valid);
  }

  private withAdminLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.adminTail.then(fn);
    this.adminTail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
