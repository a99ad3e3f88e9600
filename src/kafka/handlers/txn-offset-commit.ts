/**
 * TxnOffsetCommit (key 28), versions 0-3.
 *
 * Stages consumer-group offsets in the producer's transaction; they become
 * the group's committed offsets only when the transaction commits (and are
 * dropped on abort). The group must have been added with AddOffsetsToTxn
 * (INVALID_TXN_STATE otherwise). Per-partition errors: UNKNOWN_TOPIC_OR_PARTITION,
 * INVALID_REQUEST (negative offset, metadata over 4 KiB); request-wide ones
 * (INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED (v2+; INVALID_PRODUCER_EPOCH
 * below)) are repeated on every partition.
 * Deviation: v3's generation id / member id (KIP-447) are not checked against
 * the group's membership; UNSTABLE_OFFSET_COMMIT is never returned by OffsetFetch.
 * Spec: Kafka protocol guide "TxnOffsetCommit API", KIP-98, KIP-447.
 */
import { TxnOffsetCommit } from "../generated/index.ts";
import type { TxnOffsetCommitRequest } from "../generated/txn-offset-commit-request.ts";
import type {
  TxnOffsetCommitResponse,
  TxnOffsetCommitResponseTopic,
} from "../generated/txn-offset-commit-response.ts";
import type { Handler } from "./context.ts";
import { txnErrorCode } from "./txn-errors.ts";

export const handler: Handler<TxnOffsetCommitRequest, TxnOffsetCommitResponse> = {
  api: TxnOffsetCommit,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, header, body) {
    const v = header.apiVersion;
    const { partitions } = await ctx.broker.txnOffsetCommit({
      transactionalId: body.transactionalId,
      producerId: body.producerId,
      producerEpoch: body.producerEpoch,
      groupId: body.groupId,
      offsets: body.topics.flatMap((t) =>
        t.partitions.map((p) => ({
          topic: t.name,
          partition: p.partitionIndex,
          offset: p.committedOffset,
          leaderEpoch: v >= 2 ? p.committedLeaderEpoch : -1,
          metadata: p.committedMetadata ?? "",
        })),
      ),
    });
    const byTopic = new Map<string, TxnOffsetCommitResponseTopic>();
    for (const p of partitions) {
      let t = byTopic.get(p.topic);
      if (!t) {
        t = { name: p.topic, partitions: [] };
        byTopic.set(p.topic, t);
      }
      t.partitions.push({ partitionIndex: p.partition, errorCode: txnErrorCode(p.error, v, 2) });
    }
    return { throttleTimeMs: 0, topics: [...byTopic.values()] };
  },
  errorResponse(body, errorCode) {
    return {
      throttleTimeMs: 0,
      topics: body.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
      })),
    };
  },
};
