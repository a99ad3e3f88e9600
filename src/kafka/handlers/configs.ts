/**
 * Shared by DescribeConfigs, CreateTopics (v5+ returns the new topic's
 * configs), AlterConfigs and IncrementalAlterConfigs: how Eddy's topic and
 * broker settings look in Kafka's config model (KIP-226 config sources,
 * KIP-226 synonyms, KIP-339 incremental operations).
 */
import { TOPIC_CONFIG_DEFAULTS, type TopicDescription } from "../../broker/index.ts";

export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;

/** Kafka's DescribeConfigsResponse ConfigSource. */
export const ConfigSource = {
  UNKNOWN: 0,
  TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

/** Kafka's ConfigType (DescribeConfigs v3+). */
export const ConfigType = { BOOLEAN: 1, STRING: 2, INT: 3, LONG: 5, LIST: 7 } as const;

interface TopicKeyInfo {
  type: number;
  /** The broker-level synonym (Kafka's name), if any. */
  broker: string | null;
  doc: string;
}

export const TOPIC_KEY_INFO: Readonly<Record<string, TopicKeyInfo>> = {
  "retention.ms": {
    type: ConfigType.LONG,
    broker: "log.retention.ms",
    doc: "Delete whole segments older than this many milliseconds; -1 keeps records forever.",
  },
  "retention.bytes": {
    type: ConfigType.LONG,
    broker: "log.retention.bytes",
    doc: "Delete the oldest segments while a partition is larger than this; -1 means no limit.",
  },
  "segment.bytes": {
    type: ConfigType.INT,
    broker: "log.segment.bytes",
    doc: "Roll to a new segment file at this size.",
  },
  "segment.ms": {
    type: ConfigType.LONG,
    broker: "log.roll.ms",
    doc: "Roll to a new segment file when the active one is this old.",
  },
  "cleanup.policy": {
    type: ConfigType.LIST,
    broker: "log.cleanup.policy",
    doc: "delete (retention), compact (keep the latest value per key) or both.",
  },
  "delete.retention.ms": {
    type: ConfigType.LONG,
    broker: "log.cleaner.delete.retention.ms",
    doc: "How long compaction keeps tombstones.",
  },
  "min.compaction.lag.ms": {
    type: ConfigType.LONG,
    broker: "log.cleaner.min.compaction.lag.ms",
    doc: "Records younger than this are not compacted.",
  },
  "max.message.bytes": {
    type: ConfigType.INT,
    broker: "message.max.bytes",
    doc: "Largest record batch accepted.",
  },
  "message.timestamp.type": {
    type: ConfigType.STRING,
    broker: "log.message.timestamp.type",
    doc: "CreateTime keeps producer timestamps; LogAppendTime stamps the broker's clock.",
  },
  durability: {
    type: ConfigType.STRING,
    broker: null,
    doc: "Eddy: when a write is acknowledged: fsync (on disk), write (page cache) or memory.",
  },
  "min.insync.replicas": {
    type: ConfigType.INT,
    broker: "min.insync.replicas",
    doc: "Replicas that must have a record before acks=all succeeds.",
  },
};

export interface ConfigEntry {
  name: string;
  value: string;
  source: number;
  readOnly: boolean;
  type: number;
  doc: string | null;
  synonyms: Array<{ name: string; value: string; source: number }>;
}

/** The effective configs of a topic, with their sources and synonyms. */
export function topicConfigEntries(
  t: TopicDescription,
  brokerConfigs: Readonly<Record<string, string>>,
): ConfigEntry[] {
  const out: ConfigEntry[] = [];
  for (const [name, info] of Object.entries(TOPIC_KEY_INFO)) {
    const value = String(t.configs[name as keyof typeof t.configs]);
    const override = t.overrides[name];
    const synonyms: ConfigEntry["synonyms"] = [];
    if (override !== undefined) synonyms.push({ name, value: override, source: ConfigSource.TOPIC_CONFIG });
    const brokerValue = info.broker !== null ? brokerConfigs[info.broker] : undefined;
    if (info.broker !== null && brokerValue !== undefined) {
      synonyms.push({ name: info.broker, value: brokerValue, source: ConfigSource.STATIC_BROKER_CONFIG });
    }
    const builtIn = String(TOPIC_CONFIG_DEFAULTS[name as keyof typeof TOPIC_CONFIG_DEFAULTS]);
    synonyms.push({ name: info.broker ?? name, value: builtIn, source: ConfigSource.DEFAULT_CONFIG });
    const source =
      override !== undefined
        ? ConfigSource.TOPIC_CONFIG
        : value !== builtIn
          ? ConfigSource.STATIC_BROKER_CONFIG
          : ConfigSource.DEFAULT_CONFIG;
    out.push({ name, value, source, readOnly: false, type: info.type, doc: info.doc, synonyms });
  }
  return out;
}

/** The broker's static settings (from eddy.toml / flags; read-only over Kafka). */
export function brokerConfigEntries(brokerConfigs: Readonly<Record<string, string>>): ConfigEntry[] {
  return Object.entries(brokerConfigs).map(([name, value]) => ({
    name,
    value,
    source: ConfigSource.STATIC_BROKER_CONFIG,
    readOnly: true,
    type: /^(true|false)$/.test(value)
      ? ConfigType.BOOLEAN
      : /^-?\d+$/.test(value)
        ? ConfigType.LONG
        : ConfigType.STRING,
    doc: "Set in eddy.toml (or EDDY_… / flags); restart to change.",
    synonyms: [{ name, value, source: ConfigSource.STATIC_BROKER_CONFIG }],
  }));
}
