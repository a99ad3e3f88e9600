/**
 * DeleteRecords (key 21), versions 0-2.
 *
 * Per partition: advance the log start offset to `offset` (-1 = the high
 * watermark) and answer the new low watermark. An offset above the high
 * watermark is OFFSET_OUT_OF_RANGE; unknown partitions
 * UNKNOWN_TOPIC_OR_PARTITION.
 * Spec: Kafka protocol guide "DeleteRecords API", KIP-107.
 */
import { DeleteRecords } from "../generated/index.ts";
import type { DeleteRecordsRequest } from "../generated/delete-records-request.ts";
import type {
  DeleteRecordsPartitionResult,
  DeleteRecordsResponse,
} from "../generated/delete-records-response.ts";
import { type Handler, type HandlerContext, KafkaError, kafkaErrorCode } from "./context.ts";

async function deleteOne(
  ctx: HandlerContext,
  topic: string,
  p: { partitionIndex: number; offset: number },
): Promise<DeleteRecordsPartitionResult> {
  try {
    const state = ctx.broker.partitionState(topic, p.partitionIndex);
    const before = p.offset === -1 ? state.highWatermark : p.offset;
    if (before < 0 || before > state.highWatermark) {
      return {
        partitionIndex: p.partitionIndex,
        lowWatermark: -1,
        errorCode: KafkaError.OFFSET_OUT_OF_RANGE,
      };
    }
    const low = await ctx.broker.deleteRecords(topic, p.partitionIndex, before);
    return { partitionIndex: p.partitionIndex, lowWatermark: low, errorCode: KafkaError.NONE };
  } catch (err) {
    return { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: kafkaErrorCode(err) };
  }
}

export const handler: Handler<DeleteRecordsRequest, DeleteRecordsResponse> = {
  api: DeleteRecords,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, _header, body) {
    const topics = [];
    for (const t of body.topics) {
      const partitions: DeleteRecordsPartitionResult[] = [];
      for (const p of t.partitions) partitions.push(await deleteOne(ctx, t.name, p));
      topics.push({ name: t.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse: (body, errorCode) => ({
    throttleTimeMs: 0,
    topics: body.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        lowWatermark: -1,
        errorCode,
      })),
    })),
  }),
};
