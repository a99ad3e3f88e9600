/**
 * CreatePartitions (key 37), versions 0-3.
 *
 * Grows each topic to `count` partitions (never shrinks: a count not above
 * the current one is INVALID_PARTITIONS). A manual assignment may only name
 * this node. validate_only checks and changes nothing. Errors per topic.
 * Spec: Kafka protocol guide "CreatePartitions API", KIP-195.
 */
import { CreatePartitions } from "../generated/index.ts";
import type {
  CreatePartitionsRequest,
  CreatePartitionsTopic,
} from "../generated/create-partitions-request.ts";
import type {
  CreatePartitionsResponse,
  CreatePartitionsTopicResult,
} from "../generated/create-partitions-response.ts";
import { errorMessage, type Handler, type HandlerContext, KafkaError, kafkaErrorCode } from "./context.ts";

async function growOne(
  ctx: HandlerContext,
  t: CreatePartitionsTopic,
  validateOnly: boolean,
): Promise<CreatePartitionsTopicResult> {
  const ok = { name: t.name, errorCode: KafkaError.NONE, errorMessage: null };
  const foreign = (t.assignments ?? []).flatMap((a) => a.brokerIds).find((id) => id !== ctx.nodeId);
  if (foreign !== undefined) {
    return {
      name: t.name,
      errorCode: KafkaError.INVALID_REPLICA_ASSIGNMENT,
      errorMessage: `assignment names broker ${foreign}, but this cluster has only broker ${ctx.nodeId}`,
    };
  }
  try {
    const current = (await ctx.broker.describeTopic(t.name)).partitions.length;
    if (t.count <= current) {
      return {
        name: t.name,
        errorCode: KafkaError.INVALID_PARTITIONS,
        errorMessage: `topic '${t.name}' has ${current} partitions; ask for more (partitions never shrink)`,
      };
    }
    if (!validateOnly) await ctx.broker.createPartitions(t.name, t.count);
    return ok;
  } catch (err) {
    return { name: t.name, errorCode: kafkaErrorCode(err), errorMessage: errorMessage(err) };
  }
}

export const handler: Handler<CreatePartitionsRequest, CreatePartitionsResponse> = {
  api: CreatePartitions,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, _header, body) {
    const results: CreatePartitionsTopicResult[] = [];
    for (const t of body.topics) results.push(await growOne(ctx, t, body.validateOnly));
    return { throttleTimeMs: 0, results };
  },
  errorResponse: (body, errorCode) => ({
    throttleTimeMs: 0,
    results: body.topics.map((t) => ({ name: t.name, errorCode, errorMessage: null })),
  }),
};
