/**
 * DeleteTopics (key 20), versions 1-6.
 *
 * Deletes each named topic (v6+: by name or by topic id) with its data;
 * errors per topic (UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID). Deletion
 * is synchronous, so timeout_ms never expires.
 * Spec: Kafka protocol guide "DeleteTopics API", KIP-516 (ids, v6).
 */
import { DeleteTopics } from "../generated/index.ts";
import type { DeleteTopicsRequest } from "../generated/delete-topics-request.ts";
import type { DeletableTopicResult, DeleteTopicsResponse } from "../generated/delete-topics-response.ts";
import { errorMessage, type Handler, type HandlerContext, KafkaError, kafkaErrorCode } from "./context.ts";
import { fromKafkaTopicId, toKafkaTopicId, ZERO_UUID } from "./topic-id.ts";

function requested(body: DeleteTopicsRequest, v: number): Array<{ name: string | null; topicId: string }> {
  return v >= 6 ? body.topics : body.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
}

async function deleteOne(
  ctx: HandlerContext,
  t: { name: string | null; topicId: string },
): Promise<DeletableTopicResult> {
  let name = t.name;
  let topicId = t.topicId;
  if (name === null) {
    const uuid = fromKafkaTopicId(t.topicId);
    name = (await ctx.broker.listTopics()).find((s) => s.id === uuid)?.name ?? null;
    if (name === null) {
      return {
        name: null,
        topicId,
        errorCode: KafkaError.UNKNOWN_TOPIC_ID,
        errorMessage: `no topic has id ${topicId}`,
      };
    }
  }
  try {
    if (topicId === ZERO_UUID) topicId = toKafkaTopicId((await ctx.broker.describeTopic(name)).id);
    await ctx.broker.deleteTopic(name);
    return { name, topicId, errorCode: KafkaError.NONE, errorMessage: null };
  } catch (err) {
    return { name, topicId, errorCode: kafkaErrorCode(err), errorMessage: errorMessage(err) };
  }
}

export const handler: Handler<DeleteTopicsRequest, DeleteTopicsResponse> = {
  api: DeleteTopics,
  minVersion: 1,
  maxVersion: 6,
  async handle(ctx, header, body) {
    const responses: DeletableTopicResult[] = [];
    for (const t of requested(body, header.apiVersion)) {
      const r = await deleteOne(ctx, t);
      // before v6 the response has no topic id (ignorable) and a non-null name
      responses.push(header.apiVersion >= 6 ? r : { ...r, name: r.name ?? "" });
    }
    return { throttleTimeMs: 0, responses };
  },
  errorResponse: (body, errorCode, header) => ({
    throttleTimeMs: 0,
    responses: requested(body, header.apiVersion).map((t) => ({
      name: t.name ?? (header.apiVersion >= 6 ? null : ""),
      topicId: t.topicId,
      errorCode,
      errorMessage: null,
    })),
  }),
};
