/**
 * Topic configs with Kafka's key names ("retention.ms", "cleanup.policy", ...):
 * one zod schema per key, the broker-wide defaults, resolution of a topic's
 * overrides against them, and conversion to the storage engine's LogConfig.
 *
 * Overrides are stored as normalised strings (as Kafka stores them); unknown
 * keys and bad values are refused with INVALID_CONFIG naming the key.
 */
import { z } from "zod";
import { EddyError, ErrorCode } from "../errors.ts";
import { CleanupPolicy, DEFAULT_LOG_CONFIG, Durability, type LogConfig } from "../log/types.ts";
import type { TopicConfigKey, TopicConfigs } from "./types.ts";

const MAX_INT32 = 2 ** 31 - 1;

/** An integer given as a number or a decimal string. */
function intConfig(min: number, max = Number.MAX_SAFE_INTEGER) {
  return z
    .union([
      z.number(),
      z
        .string()
        .trim()
        .regex(/^-?\d+$/, "must be an integer")
        .transform(Number),
    ])
    .pipe(z.number().int("must be an integer").min(min).max(max));
}

const cleanupPolicy = z
  .string()
  .transform((s) => [...new Set(s.split(",").map((p) => p.trim().toLowerCase()))].sort().join(","))
  .pipe(
    z.enum(["delete", "compact", "compact,delete"], {
      error: "must be 'delete', 'compact' or 'compact,delete'",
    }),
  );

/** One schema per supported key; the source of truth for what a topic accepts. */
export const TOPIC_CONFIG_SCHEMAS = {
  "retention.ms": intConfig(-1),
  "retention.bytes": intConfig(-1),
  "segment.bytes": intConfig(14, MAX_INT32),
  "segment.ms": intConfig(1),
  "cleanup.policy": cleanupPolicy,
  "delete.retention.ms": intConfig(0),
  "min.compaction.lag.ms": intConfig(0),
  "max.message.bytes": intConfig(0, MAX_INT32),
  "message.timestamp.type": z.enum(["CreateTime", "LogAppendTime"], {
    error: "must be 'CreateTime' or 'LogAppendTime'",
  }),
  durability: z.enum([Durability.FSYNC, Durability.WRITE, Durability.MEMORY], {
    error: "must be 'fsync', 'write' or 'memory'",
  }),
  "min.insync.replicas": intConfig(1, MAX_INT32),
} as const satisfies Record<TopicConfigKey, z.ZodType>;

export const TOPIC_CONFIG_KEYS = Object.keys(TOPIC_CONFIG_SCHEMAS) as TopicConfigKey[];

/** Eddy's built-in defaults, aligned with the storage engine's. */
export const TOPIC_CONFIG_DEFAULTS: Readonly<TopicConfigs> = {
  "retention.ms": DEFAULT_LOG_CONFIG.retentionMs,
  "retention.bytes": DEFAULT_LOG_CONFIG.retentionBytes,
  "segment.bytes": DEFAULT_LOG_CONFIG.segmentBytes,
  "segment.ms": DEFAULT_LOG_CONFIG.segmentMs,
  "cleanup.policy": DEFAULT_LOG_CONFIG.cleanupPolicy,
  "delete.retention.ms": DEFAULT_LOG_CONFIG.deleteRetentionMs,
  "min.compaction.lag.ms": DEFAULT_LOG_CONFIG.minCompactionLagMs,
  "max.message.bytes": DEFAULT_LOG_CONFIG.maxMessageBytes,
  "message.timestamp.type": DEFAULT_LOG_CONFIG.timestampType,
  durability: DEFAULT_LOG_CONFIG.durability,
  "min.insync.replicas": 1,
};

function isKey(key: string): key is TopicConfigKey {
  return Object.hasOwn(TOPIC_CONFIG_SCHEMAS, key);
}

/** Parse one value; throws INVALID_CONFIG naming the key and the bad value. */
export function parseTopicConfig<K extends TopicConfigKey>(key: K, value: unknown): TopicConfigs[K];
export function parseTopicConfig(key: string, value: unknown): TopicConfigs[TopicConfigKey];
export function parseTopicConfig(key: string, value: unknown): TopicConfigs[TopicConfigKey] {
  if (!isKey(key)) {
    throw new EddyError(
      ErrorCode.INVALID_CONFIG,
      `unknown topic config '${key}': supported keys are ${TOPIC_CONFIG_KEYS.join(", ")}`,
      { key },
    );
  }
  const result = TOPIC_CONFIG_SCHEMAS[key].safeParse(value);
  if (!result.success) {
    const reason = result.error.issues[0]?.message ?? "invalid value";
    throw new EddyError(
      ErrorCode.INVALID_CONFIG,
      `topic config '${key}' has a bad value ${JSON.stringify(value)}: ${reason}`,
      { key, value },
    );
  }
  return result.data as TopicConfigs[TopicConfigKey];
}

/** Validate user-supplied overrides and normalise them to strings (the stored form). */
export function normaliseOverrides(input: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(input)) out[key] = String(parseTopicConfig(key, value));
  return out;
}

/** Effective configs: defaults, then the topic's overrides. */
export function resolveTopicConfigs(defaults: TopicConfigs, overrides: Record<string, string>): TopicConfigs {
  const configs: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(overrides)) configs[key] = parseTopicConfig(key, value);
  return configs as unknown as TopicConfigs;
}

/** Broker-wide defaults: Eddy's built-ins overlaid with the operator's (validated). */
export function resolveDefaultConfigs(partial?: Partial<Record<string, string | number>>): TopicConfigs {
  const overrides: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(partial ?? {})) if (value !== undefined) overrides[key] = value;
  return resolveTopicConfigs({ ...TOPIC_CONFIG_DEFAULTS }, normaliseOverrides(overrides));
}

export function isCompacted(configs: TopicConfigs): boolean {
  return configs["cleanup.policy"] !== CleanupPolicy.DELETE;
}

/** The storage engine's view of a topic's configs. */
export function toLogConfig(configs: TopicConfigs): LogConfig {
  return {
    segmentBytes: configs["segment.bytes"],
    segmentMs: configs["segment.ms"],
    retentionMs: configs["retention.ms"],
    retentionBytes: configs["retention.bytes"],
    cleanupPolicy: configs["cleanup.policy"],
    deleteRetentionMs: configs["delete.retention.ms"],
    minCompactionLagMs: configs["min.compaction.lag.ms"],
    durability: configs.durability,
    maxMessageBytes: configs["max.message.bytes"],
    indexIntervalBytes: DEFAULT_LOG_CONFIG.indexIntervalBytes,
    timestampType: configs["message.timestamp.type"],
  };
}
