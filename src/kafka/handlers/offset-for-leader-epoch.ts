/**
 * OffsetForLeaderEpoch (key 23), versions 0-4.
 *
 * Per partition: the largest leader epoch <= the requested one that the
 * partition's log knows, and the offset where that epoch ends (the next
 * epoch's start offset, or the log end offset for the current epoch), from
 * BrokerApi.endOffsetForLeaderEpoch. A requested epoch newer than every known
 * epoch gets -1/-1 with no error, as in Kafka. With current_leader_epoch
 * (v2+) the client is fenced first: older than ours = FENCED_LEADER_EPOCH,
 * newer = UNKNOWN_LEADER_EPOCH. librdkafka and the Java consumer send it
 * after a leader change or when resuming from a committed offset with an
 * epoch (KIP-320) to find out whether their position was truncated away.
 * Deviations: replica_id (v3+) is accepted but not checked (followers use
 * Eddy's own peer protocol, not this API); a single node has one epoch.
 * Spec: KIP-101, KIP-279, KIP-320; Kafka protocol guide "OffsetForLeaderEpoch API".
 */
import { OffsetForLeaderEpoch } from "../generated/index.ts";
import type { OffsetForLeaderEpochRequest } from "../generated/offset-for-leader-epoch-request.ts";
import type {
  EpochEndOffset,
  OffsetForLeaderEpochResponse,
} from "../generated/offset-for-leader-epoch-response.ts";
import { type Handler, type HandlerContext, KafkaError, kafkaErrorCode } from "./context.ts";

function answer(partition: number, errorCode: number): EpochEndOffset {
  return { errorCode, partition, leaderEpoch: -1, endOffset: -1 };
}

function endOffsetFor(
  ctx: HandlerContext,
  topic: string,
  p: { partition: number; currentLeaderEpoch: number; leaderEpoch: number },
): EpochEndOffset {
  try {
    const state = ctx.broker.partitionState(topic, p.partition);
    if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== state.leaderEpoch) {
      return answer(
        p.partition,
        p.currentLeaderEpoch < state.leaderEpoch
          ? KafkaError.FENCED_LEADER_EPOCH
          : KafkaError.UNKNOWN_LEADER_EPOCH,
      );
    }
    const r = ctx.broker.endOffsetForLeaderEpoch(topic, p.partition, p.leaderEpoch);
    return {
      errorCode: KafkaError.NONE,
      partition: p.partition,
      leaderEpoch: r.leaderEpoch,
      endOffset: r.endOffset,
    };
  } catch (err) {
    return answer(p.partition, kafkaErrorCode(err));
  }
}

export const handler: Handler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> = {
  api: OffsetForLeaderEpoch,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, _header, body) {
    return {
      throttleTimeMs: 0,
      topics: body.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => endOffsetFor(ctx, t.topic, p)),
      })),
    };
  },
  errorResponse: (body, errorCode) => ({
    throttleTimeMs: 0,
    topics: body.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => answer(p.partition, errorCode)),
    })),
  }),
};
