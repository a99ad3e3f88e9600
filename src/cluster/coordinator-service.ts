/**
 * Cluster mode: the coordinators' placement and state, one object per broker.
 *
 * - Group coordinator: `offsets` (coordinator-offsets.ts) over
 *   `__consumer_offsets`; group membership stays in memory in
 *   src/groups (members join again after a failover, as in Kafka).
 * - Transaction coordinator: `txnLog` (coordinator-txn-log.ts) over
 *   `__transaction_state`.
 * - `findCoordinator`: the leader of the key's coordinator partition and its
 *   Kafka address (FindCoordinator); COORDINATOR_NOT_AVAILABLE while the
 *   partition has no leader (or the topic is being created).
 * - `refresh()`: called after every metadata change applied on this node, so
 *   a new leader starts loading at once (clients are told
 *   COORDINATOR_LOAD_IN_PROGRESS meanwhile), and the offsets of deleted
 *   topics are tombstoned.
 */
import type { MetadataStore } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import type { TopicManager } from "../broker/topics.ts";
import type { ClusterView, CoordinatorLocation } from "../broker/types.ts";
import { ClusterGroupOffsets } from "./coordinator-offsets.ts";
import { ClusterTxnLog } from "./coordinator-txn-log.ts";

export interface ClusterCoordinatorsOptions {
  nodeId: number;
  topics: TopicManager;
  metadata: MetadataStore;
  clock: Clock;
  logger: Logger;
  dataNodes: () => number[];
  view: () => ClusterView | null;
  /** Drop the live groups `inPartition` selects (their partition moved away). */
  unloadGroups: (inPartition: (groupId: string) => boolean) => void;
  appendTimeoutMs?: number;
}

export class ClusterCoordinators {
  readonly offsets: ClusterGroupOffsets;
  readonly txnLog: ClusterTxnLog;

  constructor(private readonly o: ClusterCoordinatorsOptions) {
    this.offsets = new ClusterGroupOffsets({
      topics: o.topics,
      metadata: o.metadata,
      dataNodes: o.dataNodes,
      clock: o.clock,
      logger: o.logger,
      onUnload: o.unloadGroups,
      appendTimeoutMs: o.appendTimeoutMs,
    });
    this.txnLog = new ClusterTxnLog({
      topics: o.topics,
      dataNodes: o.dataNodes,
      clock: o.clock,
      logger: o.logger,
      appendTimeoutMs: o.appendTimeoutMs,
    });
  }

  /** Start loading newly led coordinator partitions; unload lost ones. */
  refresh(): void {
    this.offsets.partitions.refresh();
    this.txnLog.partitions.refresh();
    this.offsets.topicsChanged();
  }

  async findCoordinator(keyType: "group" | "transaction", key: string): Promise<CoordinatorLocation> {
    const parts = keyType === "group" ? this.offsets.partitions : this.txnLog.partitions;
    const { error, leader } = await parts.locate(key);
    if (error !== null) return { error, nodeId: -1, host: null, port: null };
    const node = this.o.view()?.nodes.find((n) => n.id === leader);
    return { error: null, nodeId: leader, host: node?.kafkaHost ?? null, port: node?.kafkaPort ?? null };
  }

  close(): void {
    this.offsets.partitions.close();
    this.txnLog.partitions.close();
  }
}
