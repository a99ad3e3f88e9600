/**
 * Topics: list, create, describe, delete, configs, partitions; plus list
 * offsets and delete-records on one partition.
 */
import { z } from "zod";
import type { OffsetSpec, TopicDescription } from "../../broker/index.ts";
import type { HttpDeps } from "../deps.ts";
import { invalidRequest } from "../errors.ts";
import type { ApiRouter } from "../openapi.ts";
import {
  configValue,
  partitionParams,
  queryInt,
  topicConfigsSchema,
  topicDescriptionSchema,
  topicParams,
  topicSummarySchema,
} from "../schemas.ts";

const createTopicBody = z.strictObject({
  name: z.string().describe("Topic name: 1-249 of [a-zA-Z0-9._-]"),
  partitions: z.number().int().min(1).optional().describe("Default: the broker's num.partitions"),
  replicationFactor: z.number().int().min(1).optional(),
  configs: z.record(z.string(), configValue).optional().describe("Kafka-style keys, e.g. retention.ms"),
  validateOnly: z.boolean().optional().describe("Check the request; create nothing"),
});

const alterConfigsBody = z
  .strictObject({
    set: z.record(z.string(), configValue).optional().describe("Configs to set"),
    reset: z.array(z.string()).optional().describe("Configs to return to their defaults"),
  })
  .refine((b) => Object.keys(b.set ?? {}).length + (b.reset?.length ?? 0) > 0, {
    error: "give at least one config to set or reset",
  });

const createPartitionsBody = z.strictObject({
  count: z.number().int().min(1).describe("The new total number of partitions (never shrinks)"),
});

const offsetsQuery = z.object({
  at: z
    .union([z.enum(["earliest", "latest", "max-timestamp"]), queryInt("at")], {
      error: "at must be earliest, latest, max-timestamp or a timestamp in ms",
    })
    .default("latest")
    .describe("earliest | latest | max-timestamp | a timestamp in ms"),
});

const deleteRecordsBody = z.strictObject({
  beforeOffset: z.number().int().min(0).describe("Records below this offset become unreadable"),
});

export function registerTopicRoutes(router: ApiRouter, deps: HttpDeps): void {
  const { broker } = deps;

  router.add(
    {
      method: "get",
      path: "/v1/topics",
      tag: "topics",
      summary: "List topics",
      responses: {
        200: { description: "Topics", schema: z.object({ topics: z.array(topicSummarySchema) }) },
      },
    },
    async (c) => c.json({ topics: await broker.listTopics() }),
  );

  router.add(
    {
      method: "post",
      path: "/v1/topics",
      tag: "topics",
      summary: "Create a topic",
      body: createTopicBody,
      responses: {
        201: { description: "Created", schema: topicDescriptionSchema },
        200: { description: "Valid (validateOnly)", schema: topicDescriptionSchema },
      },
    },
    async (c, { body }) => {
      const described = await broker.createTopic(body);
      return c.json(described, body.validateOnly ? 200 : 201);
    },
  );

  router.add(
    {
      method: "get",
      path: "/v1/topics/{topic}",
      tag: "topics",
      summary: "Describe a topic: partitions with offsets and sizes, configs",
      params: topicParams,
      responses: { 200: { description: "The topic", schema: topicDescriptionSchema } },
    },
    async (c, { params }) => c.json(await broker.describeTopic(params.topic)),
  );

  router.add(
    {
      method: "delete",
      path: "/v1/topics/{topic}",
      tag: "topics",
      summary: "Delete a topic and all its records",
      params: topicParams,
      responses: { 204: { description: "Deleted" } },
    },
    async (c, { params }) => {
      await broker.deleteTopic(params.topic);
      return c.body(null, 204);
    },
  );

  router.add(
    {
      method: "get",
      path: "/v1/topics/{topic}/configs",
      tag: "topics",
      summary: "Effective configs and explicit overrides of a topic",
      params: topicParams,
      responses: { 200: { description: "Configs", schema: topicConfigsSchema } },
    },
    async (c, { params }) => c.json(configsOf(await broker.describeTopic(params.topic))),
  );

  router.add(
    {
      method: "patch",
      path: "/v1/topics/{topic}/configs",
      tag: "topics",
      summary: "Set or reset topic configs",
      params: topicParams,
      body: alterConfigsBody,
      responses: { 200: { description: "Configs after the change", schema: topicConfigsSchema } },
    },
    async (c, { params, body }) => {
      const changes: Record<string, string | number | null> = { ...body.set };
      for (const key of body.reset ?? []) {
        if (key in changes) throw invalidRequest(`config '${key}' is both set and reset: choose one`);
        changes[key] = null;
      }
      return c.json(configsOf(await broker.alterTopicConfigs(params.topic, changes)));
    },
  );

  router.add(
    {
      method: "post",
      path: "/v1/topics/{topic}/partitions",
      tag: "topics",
      summary: "Grow a topic to `count` partitions",
      params: topicParams,
      body: createPartitionsBody,
      responses: { 200: { description: "The topic after growing", schema: topicDescriptionSchema } },
    },
    async (c, { params, body }) => c.json(await broker.createPartitions(params.topic, body.count)),
  );

  router.add(
    {
      method: "get",
      path: "/v1/topics/{topic}/partitions/{partition}/offsets",
      tag: "records",
      summary: "Look up an offset: earliest, latest, max-timestamp, or the first at/after a timestamp",
      params: partitionParams,
      query: offsetsQuery,
      responses: {
        200: {
          description: "The offset (-1 when no record is at or after the timestamp)",
          schema: z.object({
            topic: z.string(),
            partition: z.number().int(),
            offset: z.number().int(),
            timestamp: z.number().int(),
            leaderEpoch: z.number().int(),
          }),
        },
      },
    },
    async (c, { params, query }) => {
      const spec: OffsetSpec = typeof query.at === "number" ? { timestamp: query.at } : query.at;
      const r = await broker.listOffsets(params.topic, params.partition, spec);
      return c.json({ topic: params.topic, partition: params.partition, ...r });
    },
  );

  router.add(
    {
      method: "post",
      path: "/v1/topics/{topic}/partitions/{partition}/delete-records",
      tag: "records",
      summary: "Delete records below an offset (advance the log start offset)",
      params: partitionParams,
      body: deleteRecordsBody,
      responses: {
        200: {
          description: "The new log start offset",
          schema: z.object({
            topic: z.string(),
            partition: z.number().int(),
            lowWatermark: z.number().int(),
          }),
        },
      },
    },
    async (c, { params, body }) => {
      const low = await broker.deleteRecords(params.topic, params.partition, body.beforeOffset);
      return c.json({ topic: params.topic, partition: params.partition, lowWatermark: low });
    },
  );
}

function configsOf(d: TopicDescription) {
  return { topic: d.name, configs: d.configs, overrides: d.overrides };
}
