/** What the broker's operation modules (produce, fetch, group offsets...) share. */
import type { MetadataStore } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { TransactionCoordinator } from "../txn/coordinator.ts";
import type { ClusterCoordinators } from "../cluster/coordinator-service.ts";
import type { Clock } from "../util/clock.ts";
import type { SafeObserver } from "./observer.ts";
import type { TopicManager } from "./topics.ts";
import type { BrokerStats } from "./types.ts";
import type { PartitionWaiters } from "./waiters.ts";

export interface BrokerContext {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly observer: SafeObserver;
  readonly topics: TopicManager;
  readonly metadata: MetadataStore;
  readonly waiters: PartitionWaiters;
  readonly stats: BrokerStats;
  readonly diskFull: (() => boolean) | undefined;
  /** True once close() has begun: long-polls stop waiting. */
  closing(): boolean;
  /** The transaction coordinator (transactional batches are verified against it). */
  readonly txn: TransactionCoordinator;
  /** Cluster mode: coordinator placement and state (__consumer_offsets, __transaction_state); null on a single node. */
  readonly coordinators: ClusterCoordinators | null;
}
