/**
 * What the transaction coordinator (coordinator.ts) is built with: its
 * options and injected effects (marker writer, partition check, group offset
 * commits, KIP-360 fencing), the cluster-mode hooks, the marker request, and
 * the defaults and limits it applies. Shared by coordinator.ts and the
 * modules it is split into (txn-table.ts, txn-completion.ts, txn-timeouts.ts).
 */
import type { ErrorCode } from "../errors.ts";
import type { MetadataStore, TransactionRecord } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import type { TopicPartitionRef } from "./types.ts";

/** Kafka's transaction.max.timeout.ms default (15 minutes). */
export const DEFAULT_MAX_TRANSACTION_TIMEOUT_MS = 15 * 60 * 1000;
/** Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms default. */
export const DEFAULT_TXN_CHECK_INTERVAL_MS = 10_000;
/** Past this epoch a transactional id gets a new producer id (epoch 0). */
export const MAX_EPOCH_BEFORE_NEW_ID = 32766;

export interface CoordinatorOptions {
  metadata: MetadataStore;
  clock: Clock;
  logger: Logger;
  maxTimeoutMs?: number;
  /** 0 = no background timer (tests call runTimeouts()). */
  checkIntervalMs?: number;
  /**
   * Append a marker to the partition and wait until it is committed. Throws
   * TOPIC_NOT_FOUND/PARTITION_NOT_FOUND when gone. The writer stamps it with
   * this coordinator's epoch for `transactionalId` (cluster mode: the leader
   * epoch of its __transaction_state partition; 0 on a single node), and the
   * partition refuses it (TRANSACTION_COORDINATOR_FENCED) when a newer
   * coordinator already wrote one for the producer.
   */
  writeMarker(tp: TopicPartitionRef, m: MarkerRequest): Promise<void>;
  /** Throws TOPIC_NOT_FOUND / PARTITION_NOT_FOUND. */
  requirePartition(tp: TopicPartitionRef): void;
  /** Commit offsets to a group (on transaction commit). */
  commitOffsets(group: string, offsets: TransactionRecord["pendingOffsets"]): void | Promise<void>;
  /** KIP-360 bump of an idempotent producer: move every partition that knows it to `epoch`. */
  fenceProducer?(producerId: number, epoch: number): Promise<void>;
  /** Cluster mode: placement (ownership per transactional id) and replicated persistence. */
  cluster?: TxnClusterHooks;
}

export interface TxnClusterHooks {
  /** Null when this node coordinates the transactional id now, else the error to answer. */
  check(transactionalId: string): ErrorCode | null;
  /** Replicate the new state (acks=all); throws NOT_COORDINATOR etc. */
  persist(txn: TransactionRecord): Promise<void>;
}

/** What a coordinator asks a partition to write. */
export interface MarkerRequest {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  commit: boolean;
}
