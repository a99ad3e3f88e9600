/**
 * Protocol-neutral request and result types of the transaction API
 * (BrokerApi.initProducerId, addPartitionsToTxn, addOffsetsToTxn, endTxn,
 * txnOffsetCommit). Results carry an ErrorCode (null = success) instead of
 * throwing; each protocol maps it through ERROR_TABLE.
 */
import type { ErrorCode } from "../errors.ts";

export interface TopicPartitionRef {
  topic: string;
  partition: number;
}

export interface InitProducerIdOptions {
  /** null: an idempotent producer (gets a fresh producer id, epoch 0). */
  transactionalId: string | null;
  /** transaction.timeout.ms (transactional producers); 1..maxTransactionTimeoutMs. */
  transactionTimeoutMs: number;
  /** KIP-360 (InitProducerId v3+): the id and epoch the producer holds, or -1. */
  producerId?: number;
  producerEpoch?: number;
}

export interface TxnError {
  /** null on success. */
  error: ErrorCode | null;
  errorMessage?: string;
}

export interface InitProducerIdResult extends TxnError {
  /** -1 on error. */
  producerId: number;
  producerEpoch: number;
}

/** Who is asking: every transactional call after InitProducerId names the transaction and the producer. */
export interface TxnProducerRef {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
}

export interface AddPartitionsToTxnOptions extends TxnProducerRef {
  partitions: TopicPartitionRef[];
}

export interface TxnPartitionResult extends TopicPartitionRef, TxnError {}

export interface AddPartitionsToTxnResult {
  /** One per requested partition; when any fails, none is added (the others get OPERATION_NOT_ATTEMPTED). */
  partitions: TxnPartitionResult[];
}

export interface AddOffsetsToTxnOptions extends TxnProducerRef {
  groupId: string;
}

export interface EndTxnOptions extends TxnProducerRef {
  /** true: commit, false: abort. */
  commit: boolean;
}

export interface TxnOffset {
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch?: number;
  metadata?: string;
}

export interface TxnOffsetCommitOptions extends TxnProducerRef {
  groupId: string;
  offsets: TxnOffset[];
}

export interface TxnOffsetCommitResult {
  partitions: TxnPartitionResult[];
}

/** Transaction states (Kafka's TransactionState, without Dead/PrepareEpochFence). */
export const TxnState = {
  EMPTY: "Empty",
  ONGOING: "Ongoing",
  PREPARE_COMMIT: "PrepareCommit",
  PREPARE_ABORT: "PrepareAbort",
  COMPLETE_COMMIT: "CompleteCommit",
  COMPLETE_ABORT: "CompleteAbort",
} as const;
export type TxnState = (typeof TxnState)[keyof typeof TxnState];

/** One transactional.id as describeTransactions shows it. */
export interface TransactionDescription {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  state: TxnState;
  timeoutMs: number;
  startedAt: number;
  partitions: TopicPartitionRef[];
  groups: string[];
}
