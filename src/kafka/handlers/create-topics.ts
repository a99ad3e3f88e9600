/**
 * CreateTopics (key 19), versions 2-7.
 *
 * Per topic: num_partitions / replication_factor -1 take the broker defaults
 * (KIP-464); a manual replica assignment is accepted when it only names this
 * node (its size gives the partition count); configs are Kafka topic keys
 * (unknown keys or bad values: INVALID_CONFIG). validate_only checks
 * everything and creates nothing. Errors are per topic (TOPIC_ALREADY_EXISTS,
 * INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR...)
 * with a message; v5+ returns the partition count, replication factor and the
 * effective configs of each topic, v7+ its topic id. Topics are created
 * synchronously, so timeout_ms never expires.
 * Spec: Kafka protocol guide "CreateTopics API", KIP-464, KIP-525, KIP-516.
 */
import { CreateTopics } from "../generated/index.ts";
import type { CreatableTopic, CreateTopicsRequest } from "../generated/create-topics-request.ts";
import type { CreatableTopicResult, CreateTopicsResponse } from "../generated/create-topics-response.ts";
import { topicConfigEntries } from "./configs.ts";
import { errorMessage, type Handler, type HandlerContext, KafkaError, kafkaErrorCode } from "./context.ts";
import { toKafkaTopicId, ZERO_UUID } from "./topic-id.ts";

function result(name: string, errorCode: number, message: string | null): CreatableTopicResult {
  return {
    name,
    topicId: ZERO_UUID,
    errorCode,
    errorMessage: message,
    topicConfigErrorCode: 0,
    numPartitions: -1,
    replicationFactor: -1,
    configs: null,
  };
}

async function createOne(
  ctx: HandlerContext,
  t: CreatableTopic,
  validateOnly: boolean,
): Promise<CreatableTopicResult> {
  let partitions = t.numPartitions === -1 ? undefined : t.numPartitions;
  let replicationFactor = t.replicationFactor === -1 ? undefined : t.replicationFactor;
  if (t.assignments.length > 0) {
    if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
      return result(
        t.name,
        KafkaError.INVALID_REQUEST,
        "give either a replica assignment or num_partitions/replication_factor, not both",
      );
    }
    const foreign = t.assignments.flatMap((a) => a.brokerIds).filter((id) => id !== ctx.nodeId);
    if (foreign.length > 0) {
      return result(
        t.name,
        KafkaError.INVALID_REPLICATION_FACTOR,
        `replica assignment names broker ${foreign[0]}, but this cluster has only broker ${ctx.nodeId}`,
      );
    }
    partitions = t.assignments.length;
    replicationFactor = t.assignments[0]?.brokerIds.length;
  }
  const configs: Record<string, string> = {};
  for (const c of t.configs) if (c.value !== null) configs[c.name] = c.value;
  try {
    const d = await ctx.broker.createTopic({
      name: t.name,
      ...(partitions !== undefined ? { partitions } : {}),
      ...(replicationFactor !== undefined ? { replicationFactor } : {}),
      configs,
      validateOnly,
    });
    return {
      ...result(t.name, KafkaError.NONE, null),
      topicId: validateOnly ? ZERO_UUID : toKafkaTopicId(d.id),
      numPartitions: d.partitions.length,
      replicationFactor: d.replicationFactor,
      configs: topicConfigEntries(d, ctx.brokerConfigs).map((e) => ({
        name: e.name,
        value: e.value,
        readOnly: e.readOnly,
        configSource: e.source,
        isSensitive: false,
      })),
    };
  } catch (err) {
    return result(t.name, kafkaErrorCode(err), errorMessage(err));
  }
}

export const handler: Handler<CreateTopicsRequest, CreateTopicsResponse> = {
  api: CreateTopics,
  minVersion: 2,
  maxVersion: 7,
  async handle(ctx, _header, body) {
    const topics: CreatableTopicResult[] = [];
    const seen = new Set<string>();
    for (const t of body.topics) {
      if (seen.has(t.name)) {
        topics.push(
          result(t.name, KafkaError.INVALID_REQUEST, `topic '${t.name}' appears twice in the request`),
        );
        continue;
      }
      seen.add(t.name);
      topics.push(await createOne(ctx, t, body.validateOnly));
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse: (body, errorCode) => ({
    throttleTimeMs: 0,
    topics: body.topics.map((t) => result(t.name, errorCode, null)),
  }),
};
