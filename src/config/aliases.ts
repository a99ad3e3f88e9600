/**
 * Kafka-style keys, accepted where Kafka users would type them: in eddy.toml
 * (`log.retention.ms = 3600000` or `"num.partitions" = 3`), as environment
 * (`EDDY_LOG_RETENTION_MS`), and with `--set log.retention.ms=3600000`.
 * Each maps onto one key of the schema, optionally converting the value.
 *
 * Lookups go through `normalizeKey`: lower case, with ".", "-" and "_" all
 * equal, so `topic_defaults.retention.ms`, `TOPIC_DEFAULTS_RETENTION_MS` and
 * `topic-defaults.retention_ms` name the same key.
 */
import { schemaKeyPaths } from "./schema.ts";

export interface KeyTarget {
  /** Schema key path, e.g. "topic_defaults.retention_ms". */
  path: string;
  /** The key as the user may have typed it (for messages). */
  alias?: string;
  convert?: (value: unknown) => unknown;
}

const scale = (factor: number) => (value: unknown) => {
  const n = typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  return typeof n === "number" && n >= 0 ? n * factor : n;
};

const singleDir = (value: unknown): unknown => {
  if (typeof value !== "string") return value;
  const dirs = value
    .split(",")
    .map((d) => d.trim())
    .filter(Boolean);
  return dirs.length === 1 ? dirs[0] : value;
};

/** Kafka broker keys → schema keys. Topic-level names (retention.ms ...) map onto topic defaults too. */
export const KAFKA_ALIASES: Record<string, Omit<KeyTarget, "alias">> = {
  // The logging table used to be [log]; keep its keys (EDDY_LOG_LEVEL, [log] level = ...).
  "log.level": { path: "logging.level" },
  "log.format": { path: "logging.format" },
  "log.dir": { path: "data_dir" },
  "log.dirs": { path: "data_dir", convert: singleDir },
  "broker.id": { path: "node_id" },
  "node.id": { path: "node_id" },
  "num.partitions": { path: "broker.num_partitions" },
  "default.replication.factor": { path: "broker.default_replication_factor" },
  "auto.create.topics.enable": { path: "broker.auto_create_topics" },
  "log.retention.check.interval.ms": { path: "broker.housekeeping_interval_ms" },
  "log.flush.interval.ms": { path: "broker.flush_interval_ms" },
  "log.retention.ms": { path: "topic_defaults.retention_ms" },
  "log.retention.minutes": { path: "topic_defaults.retention_ms", convert: scale(60_000) },
  "log.retention.hours": { path: "topic_defaults.retention_ms", convert: scale(3_600_000) },
  "log.retention.bytes": { path: "topic_defaults.retention_bytes" },
  "log.segment.bytes": { path: "topic_defaults.segment_bytes" },
  "log.roll.ms": { path: "topic_defaults.segment_ms" },
  "log.roll.hours": { path: "topic_defaults.segment_ms", convert: scale(3_600_000) },
  "log.cleanup.policy": { path: "topic_defaults.cleanup_policy" },
  "log.cleaner.delete.retention.ms": { path: "topic_defaults.delete_retention_ms" },
  "log.cleaner.min.compaction.lag.ms": { path: "topic_defaults.min_compaction_lag_ms" },
  "message.max.bytes": { path: "topic_defaults.max_message_bytes" },
  "log.message.timestamp.type": { path: "topic_defaults.message_timestamp_type" },
  "min.insync.replicas": { path: "topic_defaults.min_insync_replicas" },
  "replica.lag.time.max.ms": { path: "cluster.replica_lag_time_max_ms" },
  "replica.fetch.wait.max.ms": { path: "cluster.replica_fetch_wait_max_ms" },
  "group.initial.rebalance.delay.ms": { path: "groups.initial_rebalance_delay_ms" },
  "group.min.session.timeout.ms": { path: "groups.min_session_timeout_ms" },
  "group.max.session.timeout.ms": { path: "groups.max_session_timeout_ms" },
  "group.max.size": { path: "groups.max_size" },
  "transaction.max.timeout.ms": { path: "transactions.max_timeout_ms" },
  "retention.ms": { path: "topic_defaults.retention_ms" },
  "retention.bytes": { path: "topic_defaults.retention_bytes" },
  "segment.bytes": { path: "topic_defaults.segment_bytes" },
  "segment.ms": { path: "topic_defaults.segment_ms" },
  "cleanup.policy": { path: "topic_defaults.cleanup_policy" },
  "delete.retention.ms": { path: "topic_defaults.delete_retention_ms" },
  "min.compaction.lag.ms": { path: "topic_defaults.min_compaction_lag_ms" },
  "max.message.bytes": { path: "topic_defaults.max_message_bytes" },
  "message.timestamp.type": { path: "topic_defaults.message_timestamp_type" },
  durability: { path: "topic_defaults.durability" },
};

export function normalizeKey(key: string): string {
  return key
    .trim()
    .toLowerCase()
    .replace(/[.\-_]+/g, "_");
}

function buildIndex(): Map<string, KeyTarget> {
  const index = new Map<string, KeyTarget>();
  const add = (name: string, target: KeyTarget): void => {
    const key = normalizeKey(name);
    const prior = index.get(key);
    if (prior && prior.path !== target.path) {
      throw new Error(
        `config key '${name}' is ambiguous: ${prior.alias ?? prior.path} and ${target.alias ?? target.path}`,
      );
    }
    if (!prior) index.set(key, target);
  };
  for (const path of schemaKeyPaths()) add(path, { path });
  for (const [alias, target] of Object.entries(KAFKA_ALIASES)) add(alias, { ...target, alias });
  return index;
}

const INDEX = buildIndex();

/** Resolve a key as typed (schema path, Kafka key, env suffix) to its schema key, or null if unknown. */
export function resolveKey(key: string): KeyTarget | null {
  return INDEX.get(normalizeKey(key)) ?? null;
}

/** The environment variable that sets a schema path ("broker.num_partitions" → "EDDY_BROKER_NUM_PARTITIONS"). */
export function envName(key: string): string {
  return `EDDY_${normalizeKey(key).toUpperCase()}`;
}

/** Known keys closest to an unknown one, for "did you mean" hints. */
export function suggestKeys(key: string): string[] {
  const k = normalizeKey(key);
  const all = [...schemaKeyPaths(), ...Object.keys(KAFKA_ALIASES)];
  return all
    .map((name) => ({ name, d: distance(k, normalizeKey(name)) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(k.length / 5)))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map((x) => x.name);
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
