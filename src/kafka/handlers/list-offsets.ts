/**
 * ListOffsets (key 2), versions 0-7.
 *
 * Per partition, by the requested timestamp: -2 earliest (log start offset),
 * -1 latest (high watermark; last stable offset with isolation level 1 =
 * read_committed), -3 the record with the largest timestamp (v7+, KIP-734),
 * t >= 0 the first offset whose timestamp is >= t (-1/-1 when none).
 * Errors per partition (UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH...).
 * v0 (old style, max_num_offsets): an array of offsets, newest first, at most
 * max_num_offsets long: -1 → [high watermark, log start offset], -2 → [log
 * start offset], t >= 0 → [first offset with timestamp >= t, or the high
 * watermark when none].
 * Deviations: v0 answers from record timestamps, not from segment file
 * modification times (Kafka's legacy fetchOffsetsBefore); the tiered-storage
 * specs -4 (earliest local) and -5 (earliest tiered) get INVALID_REQUEST.
 * Spec: Kafka protocol guide "ListOffsets API", KIP-79, KIP-734.
 */
import type { OffsetSpec } from "../../broker/index.ts";
import { ListOffsets } from "../generated/index.ts";
import type { ListOffsetsRequest } from "../generated/list-offsets-request.ts";
import type {
  ListOffsetsPartitionResponse,
  ListOffsetsResponse,
} from "../generated/list-offsets-response.ts";
import { type Handler, type HandlerContext, KafkaError, kafkaErrorCode } from "./context.ts";

function specOf(timestamp: number): OffsetSpec | null {
  if (timestamp === -2) return "earliest";
  if (timestamp === -1) return "latest";
  if (timestamp === -3) return "max-timestamp";
  if (timestamp >= 0) return { timestamp };
  return null;
}

function answer(partitionIndex: number, errorCode: number): ListOffsetsPartitionResponse {
  return { partitionIndex, errorCode, oldStyleOffsets: [], timestamp: -1, offset: -1, leaderEpoch: -1 };
}

async function listOne(
  ctx: HandlerContext,
  topic: string,
  p: { partitionIndex: number; currentLeaderEpoch: number; timestamp: number },
  readCommitted: boolean,
): Promise<ListOffsetsPartitionResponse> {
  const spec = specOf(p.timestamp);
  if (spec === null) return answer(p.partitionIndex, KafkaError.INVALID_REQUEST);
  try {
    const state = ctx.broker.partitionState(topic, p.partitionIndex);
    if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== state.leaderEpoch) {
      return answer(
        p.partitionIndex,
        p.currentLeaderEpoch < state.leaderEpoch
          ? KafkaError.FENCED_LEADER_EPOCH
          : KafkaError.UNKNOWN_LEADER_EPOCH,
      );
    }
    if (spec === "latest" && readCommitted) {
      return {
        ...answer(p.partitionIndex, KafkaError.NONE),
        offset: state.lastStableOffset,
        leaderEpoch: state.leaderEpoch,
      };
    }
    const r = await ctx.broker.listOffsets(topic, p.partitionIndex, spec, { requireLeader: true });
    return {
      ...answer(p.partitionIndex, KafkaError.NONE),
      offset: r.offset,
      timestamp: r.timestamp,
      leaderEpoch: r.leaderEpoch,
    };
  } catch (err) {
    return answer(p.partitionIndex, kafkaErrorCode(err));
  }
}

/** v0: the old-style offsets array (see header). */
async function listOldStyle(
  ctx: HandlerContext,
  topic: string,
  p: { partitionIndex: number; timestamp: number; maxNumOffsets: number },
): Promise<ListOffsetsPartitionResponse> {
  if (p.timestamp < -2) return answer(p.partitionIndex, KafkaError.INVALID_REQUEST);
  try {
    const state = ctx.broker.partitionState(topic, p.partitionIndex);
    let offsets: number[];
    if (p.timestamp === -2) offsets = [state.logStartOffset];
    else if (p.timestamp === -1) offsets = [state.highWatermark, state.logStartOffset];
    else {
      const r = await ctx.broker.listOffsets(
        topic,
        p.partitionIndex,
        { timestamp: p.timestamp },
        { requireLeader: true },
      );
      offsets = [r.offset >= 0 ? r.offset : state.highWatermark];
    }
    offsets = [...new Set(offsets)].slice(0, Math.max(0, p.maxNumOffsets));
    return { ...answer(p.partitionIndex, KafkaError.NONE), oldStyleOffsets: offsets };
  } catch (err) {
    return answer(p.partitionIndex, kafkaErrorCode(err));
  }
}

export const handler: Handler<ListOffsetsRequest, ListOffsetsResponse> = {
  api: ListOffsets,
  minVersion: 0,
  maxVersion: 7,
  async handle(ctx, header, body) {
    const readCommitted = body.isolationLevel === 1;
    const v = header.apiVersion;
    if (v === 0) {
      const topics = await Promise.all(
        body.topics.map(async (t) => ({
          name: t.name,
          partitions: await Promise.all(t.partitions.map((p) => listOldStyle(ctx, t.name, p))),
        })),
      );
      return { throttleTimeMs: 0, topics };
    }
    const topics = await Promise.all(
      body.topics.map(async (t) => ({
        name: t.name,
        partitions: (await Promise.all(t.partitions.map((p) => listOne(ctx, t.name, p, readCommitted)))).map(
          // leader_epoch exists from v4 (non-ignorable before: leave it at -1)
          (r) => (v >= 4 ? r : { ...r, leaderEpoch: -1 }),
        ),
      })),
    );
    return { throttleTimeMs: 0, topics };
  },
  errorResponse: (body, errorCode) => ({
    throttleTimeMs: 0,
    topics: body.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => answer(p.partitionIndex, errorCode)),
    })),
  }),
};
