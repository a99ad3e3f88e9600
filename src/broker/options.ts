/**
 * What createBroker needs: the storage engine, the metadata store, the clock
 * and logger, broker-wide topic defaults, and observer hooks for metrics.
 */
import type { LogStore, CompactionResult, RetentionResult } from "../log/types.ts";
import type { MetadataStore } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import type { GroupCoordinatorOptions } from "../groups/types.ts";
import type { Timers } from "../util/timers.ts";
import type { ClusterOptions } from "../cluster/cluster-node.ts";
import type { TopicConfigs } from "./types.ts";

export type { ClusterOptions };

export interface BrokerDefaults {
  /** Partitions of a topic created without a count (Kafka num.partitions). Default 1. */
  numPartitions?: number;
  /** Default: 1 on a single node, min(3, data nodes) in a cluster. */
  replicationFactor?: number;
  /** Create unknown topics on first produce/ensureTopic (Kafka auto.create.topics.enable). Default true. */
  autoCreateTopics?: boolean;
  /** Broker-wide topic config defaults, Kafka-style keys. Validated like topic overrides. */
  topicConfigs?: Partial<Record<keyof TopicConfigs, string | number>>;
}

/** Hooks for metrics; every hook is optional and must not throw (errors are logged and ignored). */
export interface BrokerObserver {
  /** Records appended to a partition (after the write, before the ack). */
  onProduce?(topic: string, partition: number, records: number, bytes: number): void;
  /** Bytes returned by a fetch or readRecords call. */
  onFetch?(bytes: number): void;
  /** A partition's high watermark moved. */
  onHighWatermark?(topic: string, partition: number, highWatermark: number): void;
  onRetention?(topic: string, partition: number, result: RetentionResult): void;
  onCompaction?(topic: string, partition: number, result: CompactionResult): void;
  onTopicCreated?(topic: string, partitions: number): void;
  onTopicDeleted?(topic: string): void;
}

export interface BrokerOptions {
  logStore: LogStore;
  metadata: MetadataStore;
  clock?: Clock;
  logger?: Logger;
  /** This node's id (Kafka broker.id / node.id). Default 1. */
  nodeId?: number;
  defaults?: BrokerDefaults;
  /** Period of the retention + compaction loop. Default 60 s; 0 disables the loop (tests drive it). */
  housekeepingIntervalMs?: number;
  observer?: BrokerObserver;
  /**
   * Optional disk-space guard checked before each append: return true to refuse
   * produce with STORAGE_FULL before anything is written.
   */
  diskFull?: () => boolean;
  /** Group coordinator settings (group.initial.rebalance.delay.ms, session timeout bounds, max size); `timers` for tests. */
  groups?: GroupCoordinatorOptions & { timers?: Timers };
  /**
   * Transaction coordinator: transaction.max.timeout.ms (default 15 min) and
   * how often timed-out transactions are looked for (default 10 s; 0 = never
   * on its own, tests call runTransactionTimeouts()).
   */
  transactions?: { maxTimeoutMs?: number; checkIntervalMs?: number };
  /**
   * Cluster mode (src/cluster): metadata agreed by Raft among the peers,
   * partitions replicated with leaders, followers and ISR. Without it the
   * broker is a single node, exactly as before.
   */
  cluster?: ClusterOptions;
}
