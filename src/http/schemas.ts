/** zod schemas shared by several routes (path params and response bodies). */
import { z } from "zod";

export const topicParams = z.object({
  topic: z.string().min(1).describe("Topic name"),
});

export const partitionParams = z.object({
  topic: z.string().min(1).describe("Topic name"),
  partition: z.coerce
    .number({ error: "partition must be a non-negative integer" })
    .int({ error: "partition must be a non-negative integer" })
    .min(0, { error: "partition must be a non-negative integer" })
    .describe("Partition number"),
});

export const groupParams = z.object({
  group: z.string().min(1).describe("Consumer group id"),
});

export const configValue = z.union([z.string(), z.number()]);

export const topicSummarySchema = z.object({
  name: z.string(),
  id: z.string(),
  partitions: z.number().int(),
  replicationFactor: z.number().int(),
});

export const partitionInfoSchema = z.object({
  partition: z.number().int(),
  leader: z.number().int(),
  leaderEpoch: z.number().int(),
  replicas: z.array(z.number().int()),
  isr: z.array(z.number().int()),
  logStartOffset: z.number().int(),
  logEndOffset: z.number().int(),
  highWatermark: z.number().int(),
  lastStableOffset: z.number().int(),
  sizeBytes: z.number().int(),
  segments: z.number().int(),
});

export const topicDescriptionSchema = z.object({
  name: z.string(),
  id: z.string(),
  partitions: z.array(partitionInfoSchema),
  replicationFactor: z.number().int(),
  configs: z.record(z.string(), configValue).describe("Effective configs, defaults resolved"),
  overrides: z.record(z.string(), z.string()).describe("Configs set explicitly on the topic"),
  internal: z.boolean(),
});

export const topicConfigsSchema = z.object({
  topic: z.string(),
  configs: z.record(z.string(), configValue),
  overrides: z.record(z.string(), z.string()),
});

/** A non-negative safe integer from a query string. */
export function queryInt(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  const msg = `${name} must be an integer between ${min} and ${max}`;
  return z.coerce
    .number({ error: msg })
    .int({ error: msg })
    .min(min, { error: msg })
    .max(max, { error: msg });
}
