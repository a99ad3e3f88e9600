/**
 * Metadata (key 3), versions 0-12.
 *
 * Single node: this node is the only broker (at its advertised host and
 * port), the controller (controller id = node id) and the leader of every
 * partition. Cluster mode (BrokerApi.clusterView): every data node with a
 * configured Kafka address is listed (this one at its advertised address),
 * the controller is the metadata leader (-1 while there is none), and
 * leader, leader epoch, replicas and ISR come from the metadata log through
 * describeTopic. Topics:
 * - v0 with an empty list, and v1+ with a null list: every topic;
 * - named topics: described; when missing and allow_auto_topic_creation is
 *   set (always, before v4) the broker's ensureTopic creates it if the
 *   broker's auto_create_topics allows, else UNKNOWN_TOPIC_OR_PARTITION (3);
 *   an invalid name gets INVALID_TOPIC_EXCEPTION (17);
 * - v12+: topics may be asked for by id (UNKNOWN_TOPIC_ID when unknown; a
 *   null name before v12 gets INVALID_REQUEST, as in Kafka); v10+: ids are
 *   returned for every topic.
 * Deviations: authorized operations are not computed (INT32_MIN, "not
 * requested", even when asked); no racks; no offline replicas.
 * Spec: Kafka protocol guide "Metadata API", KIP-516 (topic ids).
 */
import { type TopicDescription, validateTopicName } from "../../broker/index.ts";
import { Metadata } from "../generated/index.ts";
import type { MetadataRequest } from "../generated/metadata-request.ts";
import type { MetadataResponse, MetadataResponseTopic } from "../generated/metadata-response.ts";
import { type Handler, type HandlerContext, KafkaError, kafkaErrorCode } from "./context.ts";
import { fromKafkaTopicId, toKafkaTopicId, ZERO_UUID } from "./topic-id.ts";

const NO_OPERATIONS = -2147483648;

export function describedTopic(t: TopicDescription): MetadataResponseTopic {
  return {
    errorCode: KafkaError.NONE,
    name: t.name,
    topicId: toKafkaTopicId(t.id),
    isInternal: t.internal,
    partitions: t.partitions.map((p) => ({
      errorCode: KafkaError.NONE,
      partitionIndex: p.partition,
      leaderId: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: p.replicas,
      isrNodes: p.isr,
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: NO_OPERATIONS,
  };
}

function failedTopic(name: string | null, topicId: string, errorCode: number): MetadataResponseTopic {
  return {
    errorCode,
    name,
    topicId,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: NO_OPERATIONS,
  };
}

async function namedTopic(
  ctx: HandlerContext,
  name: string,
  autoCreate: boolean,
): Promise<MetadataResponseTopic> {
  try {
    validateTopicName(name);
    if (autoCreate) await ctx.broker.ensureTopic(name);
    return describedTopic(await ctx.broker.describeTopic(name));
  } catch (err) {
    return failedTopic(name, ZERO_UUID, kafkaErrorCode(err));
  }
}

async function allTopics(ctx: HandlerContext): Promise<MetadataResponseTopic[]> {
  const out: MetadataResponseTopic[] = [];
  for (const s of await ctx.broker.listTopics()) {
    try {
      out.push(describedTopic(await ctx.broker.describeTopic(s.name)));
    } catch {
      // deleted meanwhile
    }
  }
  return out;
}

export const handler: Handler<MetadataRequest, MetadataResponse> = {
  api: Metadata,
  minVersion: 0,
  maxVersion: 12,
  async handle(ctx, header, body) {
    const v = header.apiVersion;
    const autoCreate = v < 4 || body.allowAutoTopicCreation;
    let topics: MetadataResponseTopic[];
    if (body.topics === null || (v === 0 && body.topics.length === 0)) {
      topics = await allTopics(ctx);
    } else {
      let byId: Map<string, string> | null = null;
      topics = [];
      for (const t of body.topics) {
        if (t.name !== null) {
          topics.push(await namedTopic(ctx, t.name, autoCreate));
          continue;
        }
        if (v < 12) {
          // Topic ids are not served before v12 (Kafka: INVALID_REQUEST); the response's name cannot be null.
          topics.push(failedTopic("", t.topicId, KafkaError.INVALID_REQUEST));
          continue;
        }
        if (byId === null) {
          byId = new Map((await ctx.broker.listTopics()).map((s) => [s.id, s.name]));
        }
        const name = byId.get(fromKafkaTopicId(t.topicId) ?? "");
        topics.push(
          name === undefined
            ? failedTopic(null, t.topicId, KafkaError.UNKNOWN_TOPIC_ID)
            : await namedTopic(ctx, name, false),
        );
      }
    }
    const self = { nodeId: ctx.nodeId, host: ctx.advertisedHost, port: ctx.advertisedPort, rack: null };
    const view = ctx.broker.clusterView?.() ?? null;
    const brokers = view
      ? view.nodes.flatMap((n) =>
          n.id === ctx.nodeId
            ? [self]
            : n.kafkaHost !== null && n.kafkaPort !== null
              ? [{ nodeId: n.id, host: n.kafkaHost, port: n.kafkaPort, rack: null }]
              : [],
        )
      : [self];
    return {
      throttleTimeMs: 0,
      brokers,
      clusterId: ctx.clusterId,
      controllerId: view ? (view.controllerId ?? -1) : ctx.nodeId,
      topics,
      clusterAuthorizedOperations: NO_OPERATIONS,
    };
  },
};
