/**
 * DescribeProducers (key 61), version 0 (KIP-664).
 *
 * Per partition: the producers with idempotence/transaction state on it
 * (BrokerApi.describeProducers): producer id and epoch, the last sequence
 * number kept in the 5-batch window, the last batch's timestamp and the first
 * offset of an open transaction (-1 when none). Errors per partition:
 * UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER (cluster mode).
 * Used by kafka-transactions.sh `describe-producers` to find hanging
 * transactions.
 * coordinator_epoch is the epoch of the transaction coordinator that wrote
 * the producer's last marker on the partition (-1 before any marker; a
 * single node's coordinator has epoch 0; in a cluster, the epoch of the
 * __transaction_state partition leader that wrote it).
 * Spec: KIP-664; Kafka protocol guide "DescribeProducers API".
 */
import { DescribeProducers } from "../generated/index.ts";
import type { DescribeProducersRequest } from "../generated/describe-producers-request.ts";
import type {
  DescribeProducersResponse,
  PartitionResponse,
} from "../generated/describe-producers-response.ts";
import { errorMessage, type Handler, type HandlerContext, KafkaError, kafkaErrorCode } from "./context.ts";

function failed(partitionIndex: number, errorCode: number, message: string | null): PartitionResponse {
  return { partitionIndex, errorCode, errorMessage: message, activeProducers: [] };
}

function describeOne(ctx: HandlerContext, topic: string, partitionIndex: number): PartitionResponse {
  try {
    const producers = ctx.broker.describeProducers(topic, partitionIndex);
    return {
      partitionIndex,
      errorCode: KafkaError.NONE,
      errorMessage: null,
      activeProducers: producers.map((p) => ({
        producerId: p.producerId,
        producerEpoch: p.producerEpoch,
        lastSequence: p.lastSequence,
        lastTimestamp: p.lastTimestamp,
        coordinatorEpoch: p.coordinatorEpoch,
        currentTxnStartOffset: p.currentTxnStartOffset,
      })),
    };
  } catch (err) {
    return failed(partitionIndex, kafkaErrorCode(err), errorMessage(err));
  }
}

export const handler: Handler<DescribeProducersRequest, DescribeProducersResponse> = {
  api: DescribeProducers,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, _header, body) {
    return {
      throttleTimeMs: 0,
      topics: body.topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((p) => describeOne(ctx, t.name, p)),
      })),
    };
  },
  errorResponse: (body, errorCode) => ({
    throttleTimeMs: 0,
    topics: body.topics.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((p) => failed(p, errorCode, null)),
    })),
  }),
};
