/**
 * Kafka error codes for the transaction APIs. PRODUCER_FENCED (90) exists
 * since Kafka 2.7 (KIP-588); older request versions get
 * INVALID_PRODUCER_EPOCH (47) instead, as Kafka's KafkaApis does:
 * InitProducerId below v4, AddPartitionsToTxn / AddOffsetsToTxn / EndTxn /
 * TxnOffsetCommit below v2.
 */
import { ERROR_TABLE, ErrorCode } from "../../broker/index.ts";

export function txnErrorCode(error: ErrorCode | null, version: number, fencedSince: number): number {
  if (error === null) return 0;
  if (error === ErrorCode.PRODUCER_FENCED && version < fencedSince) {
    return ERROR_TABLE[ErrorCode.INVALID_PRODUCER_EPOCH].kafka;
  }
  return ERROR_TABLE[error].kafka;
}
