/**
 * AddPartitionsToTxn (key 24), versions 0-3.
 *
 * Adds partitions to the producer's transaction (starting it). All or
 * nothing: when any partition is unknown (UNKNOWN_TOPIC_OR_PARTITION) the
 * others get OPERATION_NOT_ATTEMPTED and none is added. A transactional
 * produce to a partition not added first is refused with INVALID_TXN_STATE
 * (the goal of KIP-890's verification, enforced on every version).
 * Errors: INVALID_PRODUCER_ID_MAPPING (unknown transactional id / producer id),
 * PRODUCER_FENCED (v2+; INVALID_PRODUCER_EPOCH below), CONCURRENT_TRANSACTIONS
 * (the previous transaction is still completing).
 * Deviation: v4+ (batched, broker-to-broker verifyOnly) is not served.
 * Spec: Kafka protocol guide "AddPartitionsToTxn API", KIP-98, KIP-890.
 */
import { AddPartitionsToTxn } from "../generated/index.ts";
import type { AddPartitionsToTxnRequest } from "../generated/add-partitions-to-txn-request.ts";
import type {
  AddPartitionsToTxnResponse,
  AddPartitionsToTxnTopicResult,
} from "../generated/add-partitions-to-txn-response.ts";
import type { Handler } from "./context.ts";
import { txnErrorCode } from "./txn-errors.ts";

export const handler: Handler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse> = {
  api: AddPartitionsToTxn,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, header, body) {
    const v = header.apiVersion;
    const { partitions } = await ctx.broker.addPartitionsToTxn({
      transactionalId: body.v3AndBelowTransactionalId,
      producerId: body.v3AndBelowProducerId,
      producerEpoch: body.v3AndBelowProducerEpoch,
      partitions: body.v3AndBelowTopics.flatMap((t) =>
        t.partitions.map((partition) => ({ topic: t.name, partition })),
      ),
    });
    const byTopic = new Map<string, AddPartitionsToTxnTopicResult>();
    for (const p of partitions) {
      let t = byTopic.get(p.topic);
      if (!t) {
        t = { name: p.topic, resultsByPartition: [] };
        byTopic.set(p.topic, t);
      }
      t.resultsByPartition.push({
        partitionIndex: p.partition,
        partitionErrorCode: txnErrorCode(p.error, v, 2),
      });
    }
    return response([...byTopic.values()]);
  },
  errorResponse(body, errorCode) {
    return response(
      body.v3AndBelowTopics.map((t) => ({
        name: t.name,
        resultsByPartition: t.partitions.map((partitionIndex) => ({
          partitionIndex,
          partitionErrorCode: errorCode,
        })),
      })),
    );
  },
};

function response(topics: AddPartitionsToTxnTopicResult[]): AddPartitionsToTxnResponse {
  return { throttleTimeMs: 0, errorCode: 0, resultsByTransaction: [], resultsByTopicV3AndBelow: topics };
}
