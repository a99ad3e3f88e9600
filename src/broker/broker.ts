/**
 * The broker core: wires topics, partitions, produce, fetch, group offsets,
 * transactions and housekeeping behind BrokerApi, and owns the lifecycle.
 * createBroker opens every known topic's logs (in parallel) before it
 * resolves; close() stops housekeeping, wakes long-polls, waits for in-flight
 * appends, closes the logs (fsync) and the metadata store. After close every
 * call throws SHUTTING_DOWN. Cluster wiring (node, coordinators, forwarders,
 * peer routes) lives in broker-cluster.ts; per-partition admin operations
 * (DeleteRecords, DescribeProducers, OffsetForLeaderEpoch, retention floors)
 * in partition-admin.ts.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { TransactionCoordinator } from "../txn/coordinator.ts";
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
import type { ClusterNode, ClusterStatus } from "../cluster/cluster-node.ts";
import type { ClusterCoordinators } from "../cluster/coordinator-service.ts";
import type { GroupCall } from "../cluster/coordinator-rpc.ts";
import type { PeerRouteHandler } from "../cluster/peer-protocol.ts";
import type { GroupCoordinator } from "../groups/index.ts";
import { silentLogger } from "../observability/logger.ts";
import { systemClock } from "../util/clock.ts";
import { appendBatch } from "./append-batch.ts";
import { BrokerCluster, nodeScopedProducerIds, topicClusterHooks } from "./broker-cluster.ts";
import type { BrokerContext } from "./context.ts";
import { fetch } from "./fetch.ts";
import { GroupAdmin } from "./group-offsets.ts";
import { createGroupCoordinator } from "./groups.ts";
import { Housekeeping, type HousekeepingReport } from "./housekeeping.ts";
import { listOffsets } from "./list-offsets.ts";
import { safeObserver } from "./observer.ts";
import type { BrokerOptions } from "./options.ts";
import type { Partition } from "./partition.ts";
import * as admin from "./partition-admin.ts";
import { kafkaPartition } from "./partitioner.ts";
import { produce } from "./produce.ts";
import { readRecords, waitForData } from "./read-records.ts";
import { resolveDefaultConfigs } from "./topic-configs.ts";
import { TopicManager } from "./topics.ts";
import * as txns from "./transactions.ts";
import type {
  ActiveProducer,
  AppendBatchRequest,
  AppendBatchResult,
  AppendEvent,
  BrokerApi,
  BrokerStats,
  ClusterView,
  CoordinatorLocation,
  CreateTopicRequest,
  EpochEndOffset,
  FetchRequest,
  FetchResult,
  GroupCallOptions,
  GroupLag,
  GroupOffset,
  ListOffsetsResult,
  OffsetCommit,
  OffsetSpec,
  PartitionReassignment,
  PartitionReassignmentRequest,
  PartitionState,
  ProduceRequest,
  ProduceResult,
  TopicDescription,
  TopicSummary,
} from "./types.ts";
import { PartitionWaiters, partitionKey } from "./waiters.ts";

export const DEFAULT_HOUSEKEEPING_INTERVAL_MS = 60_000;
const CLUSTER_ID_SETTING = "cluster.id";

/** BrokerApi plus operations for the composition root and tests. */
export interface Broker extends BrokerApi {
  /** Run one retention + compaction pass now. */
  runHousekeeping(): Promise<HousekeepingReport>;
  /** Abort transactions past their timeout now; returns how many were ended. */
  runTransactionTimeouts(): Promise<number>;
  /** The transaction coordinator's state, per transactional.id. */
  describeTransactions(): TransactionDescription[];
  /** Cluster mode: the peer RPC routes to serve over the peer transport (empty on a single node). */
  peerRoutes(): Map<string, PeerRouteHandler>;
  /** Cluster mode: Raft role, controller and nodes; null on a single node. */
  clusterStatus(): ClusterStatus | null;
}

/**
 * Build a broker and open every known topic. The broker owns `logStore` and
 * `metadata` from here on: close() closes them, and so does a failed start.
 */
export async function createBroker(options: BrokerOptions): Promise<Broker> {
  let broker: EddyBroker;
  try {
    broker = new EddyBroker(options);
  } catch (err) {
    await Promise.allSettled([
      options.logStore.close(),
      Promise.resolve().then(() => options.metadata.close()),
    ]);
    throw err;
  }
  try {
    await broker.start();
  } catch (err) {
    await broker.close().catch(() => {});
    throw err;
  }
  return broker;
}

class EddyBroker implements Broker {
  readonly nodeId: number;
  /** This node's stored cluster id; in cluster mode the id agreed through the metadata log wins. */
  private readonly localClusterId: string;
  private readonly ctx: BrokerContext;
  private readonly topics: TopicManager;
  private readonly housekeeping: Housekeeping;
  private readonly txn: TransactionCoordinator;
  /** Cluster mode: node, coordinators and forwarders; null on a single node. */
  private readonly cluster: BrokerCluster | null = null;
  /** Cluster mode: group and transaction coordinator placement and state (this.cluster's; tests reach it here). */
  private readonly coordinators: ClusterCoordinators | null = null;
  readonly groups: GroupCoordinator;
  /** BrokerApi's group calls (cluster mode: carried to the group's coordinator). */
  private readonly groupAdmin: GroupAdmin;
  private readonly listeners = new Set<(event: AppendEvent) => void>();
  private readonly retentionFloors = new admin.RetentionFloors();
  private closing = false;
  private closed: Promise<void> | undefined;

  constructor(private readonly options: BrokerOptions) {
    const clock = options.clock ?? systemClock;
    const logger = options.logger ?? silentLogger;
    const observer = safeObserver(options.observer, logger);
    const defaults = options.defaults ?? {};
    this.nodeId = options.nodeId ?? 1;
    this.localClusterId = loadClusterId(options);
    const waiters = new PartitionWaiters();
    this.topics = new TopicManager({
      logStore: options.logStore,
      metadata: options.metadata,
      logger,
      clock,
      nodeId: this.nodeId,
      numPartitions: defaults.numPartitions ?? 1,
      replicationFactor: defaults.replicationFactor,
      autoCreateTopics: defaults.autoCreateTopics ?? true,
      defaultConfigs: resolveDefaultConfigs(defaults.topicConfigs),
      observer,
      onAdvance: (p) => this.onAdvance(p),
      onTopicGone: (topic) => waiters.notifyAll(topic),
      cluster: options.cluster ? topicClusterHooks(() => this.cluster) : undefined,
    });
    if (options.cluster) {
      this.cluster = new BrokerCluster({
        nodeId: this.nodeId,
        cluster: options.cluster,
        metadata: options.metadata,
        clock,
        logger,
        topics: this.topics,
        ctx: () => this.ctx,
        groups: () => this.groups,
        emitAppend: (event) => this.emitAppend(event),
        hasListeners: () => this.listeners.size > 0,
      });
      this.coordinators = this.cluster.coordinators;
    }
    this.txn = txns.createCoordinator({
      metadata: options.cluster ? nodeScopedProducerIds(options.metadata, this.nodeId) : options.metadata,
      clock,
      logger,
      topics: this.topics,
      ctx: () => this.ctx,
      checkIntervalMs: options.transactions?.checkIntervalMs,
      maxTimeoutMs: options.transactions?.maxTimeoutMs,
      cluster:
        this.cluster && this.coordinators
          ? { coordinators: this.coordinators, rpc: this.cluster.rpc }
          : undefined,
    });
    this.ctx = {
      clock,
      logger,
      observer,
      topics: this.topics,
      metadata: options.metadata,
      waiters,
      stats: { appendedRecords: 0, appendedBytes: 0, fetchedBytes: 0 },
      diskFull: options.diskFull,
      closing: () => this.closing,
      txn: this.txn,
      coordinators: this.coordinators,
    };
    this.groups = createGroupCoordinator(this.ctx, options.groups);
    this.groupAdmin = new GroupAdmin({
      ctx: this.ctx,
      groups: this.groups,
      nodeId: this.nodeId,
      rpc: options.cluster?.rpc ?? null,
    });
    this.housekeeping = new Housekeeping({
      clock,
      logger,
      observer,
      intervalMs: options.housekeepingIntervalMs ?? DEFAULT_HOUSEKEEPING_INTERVAL_MS,
      partitions: () => this.topics.allPartitions(),
    });
  }

  async start(): Promise<void> {
    await this.topics.openAll();
    await this.cluster?.node.start();
    await txns.openTransactions(this.ctx, this.txn);
    this.txn.start();
    this.housekeeping.start();
    this.ctx.logger.info("broker started", {
      nodeId: this.nodeId,
      clusterId: this.clusterId,
      topics: this.topics.all().length,
    });
  }

  // Topics

  async createTopic(req: CreateTopicRequest): Promise<TopicDescription> {
    this.guard();
    return this.topics.create(req);
  }

  async deleteTopic(name: string): Promise<void> {
    this.guard();
    await this.topics.delete(name);
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    this.guard();
    const state = this.topics.require(name);
    // Cluster mode: partitions without a replica here report their leader's offsets.
    if (this.cluster) await this.cluster.remote.prime(state.record.name);
    const d = this.topics.describe(state);
    return this.cluster ? this.cluster.describe(d) : d;
  }

  async listTopics(): Promise<TopicSummary[]> {
    this.guard();
    return this.topics
      .all()
      .map((t) => this.topics.summary(t))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async alterTopicConfigs(
    name: string,
    changes: Record<string, string | number | null>,
  ): Promise<TopicDescription> {
    this.guard();
    return this.topics.alterConfigs(name, changes);
  }

  async createPartitions(name: string, count: number): Promise<TopicDescription> {
    this.guard();
    return this.topics.createPartitions(name, count);
  }

  async ensureTopic(name: string): Promise<TopicSummary> {
    this.guard();
    return this.topics.summary(await this.topics.ensure(name));
  }

  // Produce

  async produce(req: ProduceRequest): Promise<ProduceResult> {
    this.guard();
    return produce(this.ctx, req, this.cluster?.forwarder);
  }

  async appendBatch(req: AppendBatchRequest): Promise<AppendBatchResult> {
    this.guard();
    const f = this.cluster?.forwarder;
    if (f && req.requireLeader !== true) {
      const name = (await this.topics.ensure(req.topic)).record.name;
      if (f.shouldForward(this.topics.partition(name, req.partition), req.requireLeader))
        return f.appendBatch(req);
    }
    return appendBatch(this.ctx, req);
  }

  async partitionForKey(topic: string, key: Uint8Array): Promise<number> {
    this.guard();
    const state = await this.topics.ensure(topic);
    return kafkaPartition(key, state.partitions.length);
  }

  // Fetch

  async fetch(req: FetchRequest): Promise<FetchResult> {
    this.guard();
    return fetch(this.ctx, req);
  }

  async readRecords(req: Parameters<BrokerApi["readRecords"]>[0]): ReturnType<BrokerApi["readRecords"]> {
    this.guard();
    return readRecords(this.ctx, req, this.cluster?.reads);
  }

  async listOffsets(
    topic: string,
    partition: number,
    spec: OffsetSpec,
    opts?: { requireLeader?: boolean },
  ): Promise<ListOffsetsResult> {
    this.guard();
    return listOffsets(this.topics.partition(topic, partition), spec, opts);
  }

  partitionState(topic: string, partition: number): PartitionState {
    this.guard();
    const p = this.topics.partition(topic, partition);
    return this.cluster?.remoteState(p) ?? { ...p.state(), leads: p.leads };
  }

  async deleteRecords(topic: string, partition: number, beforeOffset: number): Promise<number> {
    this.guard();
    return admin.deleteRecords(this.topics.partition(topic, partition), beforeOffset);
  }

  async waitForData(
    topic: string,
    partition: number,
    offset: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    this.guard();
    return waitForData(this.ctx, { topic, partition, offset, timeoutMs, signal }, this.cluster?.reads);
  }

  onAppend(listener: (event: AppendEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setRetentionFloor(topic: string, partition: number, owner: string, offset: number | null): void {
    this.guard();
    this.retentionFloors.set(this.topics.partition(topic, partition), owner, offset);
  }

  // Consumer-group offsets

  async commitOffsets(group: string, offsets: OffsetCommit[], opts?: GroupCallOptions): Promise<void> {
    this.guard();
    await this.groupAdmin.commit(group, offsets, opts);
  }

  async fetchOffsets(group: string, topic?: string, opts?: GroupCallOptions): Promise<GroupOffset[]> {
    this.guard();
    return this.groupAdmin.fetch(group, topic, opts);
  }

  async listGroups(opts?: GroupCallOptions): Promise<string[]> {
    this.guard();
    return this.groupAdmin.list(opts);
  }

  async groupLag(group: string, opts?: GroupCallOptions): Promise<GroupLag[]> {
    this.guard();
    return this.groupAdmin.lag(group, opts);
  }

  async deleteGroup(group: string, opts?: GroupCallOptions): Promise<void> {
    this.guard();
    await this.groupAdmin.delete(group, opts);
  }

  // Idempotent producers and transactions

  async initProducerId(req: InitProducerIdOptions): Promise<InitProducerIdResult> {
    this.guard();
    return txns.initProducerId(this.txn, req);
  }

  async addPartitionsToTxn(req: AddPartitionsToTxnOptions): Promise<AddPartitionsToTxnResult> {
    this.guard();
    return txns.addPartitionsToTxn(this.txn, req);
  }

  async addOffsetsToTxn(req: AddOffsetsToTxnOptions): Promise<TxnError> {
    this.guard();
    return txns.txnResult(() => this.txn.addOffsets(req));
  }

  async endTxn(req: EndTxnOptions): Promise<TxnError> {
    this.guard();
    return txns.txnResult(() => this.txn.endTxn(req));
  }

  async txnOffsetCommit(req: TxnOffsetCommitOptions): Promise<TxnOffsetCommitResult> {
    this.guard();
    return txns.txnOffsetCommitAnywhere(this.ctx, this.txn, this.options.cluster?.rpc ?? null, req);
  }

  async runTransactionTimeouts(): Promise<number> {
    this.guard();
    return this.txn.runTimeouts();
  }

  describeTransactions(): TransactionDescription[] {
    this.guard();
    return this.txn.describe();
  }

  describeProducers(topic: string, partition: number): ActiveProducer[] {
    this.guard();
    return admin.describeProducers(this.topics.partition(topic, partition));
  }

  endOffsetForLeaderEpoch(topic: string, partition: number, leaderEpoch: number): EpochEndOffset {
    this.guard();
    return admin.endOffsetForLeaderEpoch(
      this.options.metadata,
      this.topics.partition(topic, partition),
      leaderEpoch,
    );
  }

  // Housekeeping

  async runHousekeeping(): Promise<HousekeepingReport> {
    this.guard();
    return this.housekeeping.runOnce();
  }

  peerRoutes(): Map<string, PeerRouteHandler> {
    if (!this.cluster) return new Map<string, PeerRouteHandler>();
    return this.cluster.routes({
      ...txns.peerHandlers(this.ctx, this.txn),
      group: (call: GroupCall) => this.groupAdmin.serve(call),
    });
  }

  clusterStatus(): ClusterStatus | null {
    return this.cluster?.node.status() ?? null;
  }

  clusterView(): ClusterView | null {
    return this.cluster?.node.view() ?? null;
  }

  async findCoordinator(keyType: "group" | "transaction", key: string): Promise<CoordinatorLocation | null> {
    this.guard();
    return this.coordinators ? this.coordinators.findCoordinator(keyType, key) : null;
  }

  get clusterId(): string {
    return this.cluster?.node.agreedClusterId() ?? this.localClusterId;
  }

  async alterPartitionReassignments(list: PartitionReassignmentRequest[]): Promise<void> {
    this.guard();
    await this.requireCluster().reassign(list);
  }

  listPartitionReassignments(): PartitionReassignment[] {
    return this.requireCluster().reassignments();
  }

  private requireCluster(): ClusterNode {
    if (!this.cluster) throw new EddyError(ErrorCode.INVALID_REQUEST, "this broker is not in a cluster");
    return this.cluster.node;
  }

  stats(): BrokerStats {
    return { ...this.ctx.stats };
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    const errors: unknown[] = [];
    const attempt = async (step: () => unknown): Promise<void> => {
      try {
        await step();
      } catch (err) {
        errors.push(err);
        this.ctx.logger.error("error while closing the broker", { err });
      }
    };
    this.cluster?.remote.close();
    await attempt(() => this.cluster?.node.stop());
    await attempt(() => this.housekeeping.stop());
    await attempt(() => txns.closeTransactions(this.ctx, this.txn));
    this.coordinators?.close();
    await attempt(() => this.groups.close());
    this.ctx.waiters.notifyAll();
    await attempt(() => this.topics.closeAll());
    await attempt(() => this.options.logStore.close());
    await attempt(() => this.options.metadata.close());
    this.listeners.clear();
    this.ctx.logger.info("broker closed", { nodeId: this.nodeId });
    if (errors.length > 0) throw errors[0];
  }

  private guard(): void {
    if (this.closing) {
      throw new EddyError(
        ErrorCode.SHUTTING_DOWN,
        "the broker is shutting down: retry against a running broker",
      );
    }
  }

  private onAdvance(p: Partition): void {
    if (p.snapshotDue() && !this.closing) txns.scheduleSnapshot(this.ctx, p);
    const highWatermark = p.tracker.highWatermark;
    this.ctx.waiters.notify(partitionKey(p.topic, p.id));
    this.ctx.observer.onHighWatermark(p.topic, p.id, highWatermark);
    this.emitAppend({ topic: p.topic, partition: p.id, highWatermark }, false);
  }

  /** Tell onAppend listeners (and, for a partition without a replica here, waiters). */
  private emitAppend(event: AppendEvent, wake = true): void {
    if (wake) this.ctx.waiters.notify(partitionKey(event.topic, event.partition));
    if (this.listeners.size === 0) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.ctx.logger.warn("onAppend listener threw; ignored", { err });
      }
    }
  }
}

/** The cluster id is created once (22 characters, like Kafka's) and kept in the metadata store. */
function loadClusterId(options: BrokerOptions): string {
  const stored = options.metadata.getSetting(CLUSTER_ID_SETTING);
  if (stored) return stored;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const id = Buffer.from(bytes).toString("base64url");
  options.metadata.setSetting(CLUSTER_ID_SETTING, id);
  return id;
}
