/**
 * The topic mapping shared by the device bridges (MQTT, CoAP): where a
 * message published on an MQTT-style topic (`sensors/dev1/temp`) lands in
 * the log, and which stream records are delivered under which MQTT-style
 * topic. Pure: no I/O; both bridges compile the same config, so a CoAP
 * publish and an MQTT publish on the same topic become the same record.
 *
 * Forward rules (first match wins) map a topic filter onto a stream topic
 * and a record key template:
 *   { filter: "sensors/+/temp", topic: "telemetry", key: "{1}" }
 * Key templates: `{topic}` = the whole topic, `{1}`, `{2}`… = the value of
 * the first, second… `+` level, `{#}` = the levels matched by `#`; other text is
 * literal; an empty template means no key (round-robin partitioning).
 *
 * Default (zero-config): every topic not matched by a rule goes to stream
 * topic `mqtt`, keyed by the topic — so one topic stays in one partition and
 * keeps its order. `defaultTopic: null` refuses unmatched topics.
 *
 * Reverse rules map records that carry no topic header (produced over HTTP,
 * Kafka, the CLI, or CoAP on a stream topic) onto a topic:
 *   { topic: "commands", mqttTopic: "devices/{key}/commands", qos: 1 }
 * The default topic is reversible by construction: a record on `mqtt` with key
 * K is topic K. Records published through the mapping carry their topic in the
 * `mqtt.topic` header (MAPPING_HEADERS) and are delivered under it whichever
 * stream topic holds them. The header family keeps its `mqtt.` names (the
 * contract with Kafka/HTTP consumers); CoAP publishes set the same headers.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import { validateTopicName } from "./topic-names.ts";
import type { RecordHeader } from "./types.ts";

export interface MappingRule {
  /** Topic filter (`+`, `#` allowed). */
  filter: string;
  /** Stream topic the records go to. */
  topic: string;
  /** Record key template; default `{topic}`. */
  key?: string;
}

export interface ReverseRule {
  /** Stream topic whose records are delivered to subscribers and observers. */
  topic: string;
  /** Topic template; `{key}` is replaced by the record key (UTF-8). */
  mqttTopic: string;
  /** QoS the records are offered at over MQTT (capped by each subscription). Default 1. */
  qos?: 0 | 1 | 2;
}

export interface TopicMappingConfig {
  rules?: MappingRule[];
  reverse?: ReverseRule[];
  /** Stream topic for topics no rule matches; null refuses them. Default "mqtt". */
  defaultTopic?: string | null;
}

export const DEFAULT_STREAM_TOPIC = "mqtt";

/** Record headers written for a message published through the mapping (MQTT or CoAP). */
export const MAPPING_HEADERS = {
  TOPIC: "mqtt.topic",
  QOS: "mqtt.qos",
  RETAIN: "mqtt.retain",
  CLIENT_ID: "mqtt.client-id",
  CONTENT_TYPE: "mqtt.content-type",
  PAYLOAD_FORMAT: "mqtt.payload-format",
  RESPONSE_TOPIC: "mqtt.response-topic",
  CORRELATION_DATA: "mqtt.correlation-data",
  MESSAGE_EXPIRY: "mqtt.message-expiry",
} as const;

export interface ForwardTarget {
  topic: string;
  key: Uint8Array | null;
}

export interface ReverseTarget {
  mqttTopic: string;
  qos: 0 | 1 | 2;
}

export interface ForwardExplanation {
  /** The rule's filter, "(default)" for the default topic, null when refused. */
  rule: string | null;
  target: ForwardTarget | null;
}

export interface TopicMapping {
  /** Where a publish to `topic` is stored; null when no rule takes it. */
  forward(topic: string): ForwardTarget | null;
  /** Which rule takes `topic` (for `eddy mqtt explain` and the logs). */
  explainForward(topic: string): ForwardExplanation;
  /** The topic of a record without a topic header; null when not delivered. */
  reverse(streamTopic: string, key: Uint8Array | null): ReverseTarget | null;
  /**
   * The stream topic that holds the records delivered under `topic`, for a
   * reader that follows one topic (a CoAP observer): the stream topic of a
   * reverse rule whose template produces `topic`, else the forward target;
   * null when neither exists.
   */
  sourceTopic(topic: string): string | null;
  /** Every stream topic subscribers can receive from. */
  readonly visibleTopics: readonly string[];
}

interface CompiledRule {
  filter: string;
  levels: string[];
  topic: string;
  key: Array<{ literal: string } | { plus: number } | { hash: true } | { whole: true }>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A topic name to publish on: non-empty, no wildcards, no NUL (MQTT 5.0 §4.7). */
export function isValidMqttTopicName(topic: string): boolean {
  if (topic.length === 0 || topic.length > 65535) return false;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x2b || c === 0x23 || c === 0) return false;
  }
  return true;
}

/** A topic filter: `#` only as the last level and alone in it; `+` alone in its level; non-empty. */
export function isValidMqttTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.length > 65535 || filter.includes("\u0000")) return false;
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) return false;
    if (level.includes("+") && level !== "+") return false;
  }
  return true;
}

/** The topic a record is delivered under: its `mqtt.topic` header, else the reverse rules; null = none. */
export function recordTopic(
  mapping: TopicMapping,
  streamTopic: string,
  record: { key: Uint8Array | null; headers: readonly RecordHeader[] },
): string | null {
  for (const h of record.headers) {
    if (h.key === MAPPING_HEADERS.TOPIC) return h.value ? decoder.decode(h.value) : null;
  }
  return mapping.reverse(streamTopic, record.key)?.mqttTopic ?? null;
}

export function compileMapping(config: TopicMappingConfig = {}): TopicMapping {
  const defaultTopic = config.defaultTopic === undefined ? DEFAULT_STREAM_TOPIC : config.defaultTopic;
  if (defaultTopic !== null) validateTopicName(defaultTopic);
  const rules = (config.rules ?? []).map(compileRule);
  const reverseRules = new Map<string, ReverseRule>();
  const reversePatterns: Array<{ topic: string; re: RegExp }> = [];
  for (const r of config.reverse ?? []) {
    validateTopicName(r.topic);
    if (!r.mqttTopic || !isValidMqttTopicName(r.mqttTopic.replaceAll("{key}", "k"))) {
      throw invalid(`reverse rule for '${r.topic}': mqttTopic '${r.mqttTopic}' is not a valid MQTT topic`);
    }
    if (reverseRules.has(r.topic)) throw invalid(`reverse rule for '${r.topic}' is given twice: keep one`);
    reverseRules.set(r.topic, r);
    reversePatterns.push({ topic: r.topic, re: templatePattern(r.mqttTopic) });
  }
  const visible = new Set<string>();
  if (defaultTopic !== null) visible.add(defaultTopic);
  for (const r of rules) visible.add(r.topic);
  for (const t of reverseRules.keys()) visible.add(t);

  const explainForward = (topic: string): ForwardExplanation => {
    const levels = topic.split("/");
    for (const rule of rules) {
      const captured = matchLevels(rule.levels, levels, topic);
      if (captured) {
        return { rule: rule.filter, target: { topic: rule.topic, key: renderKey(rule, captured, topic) } };
      }
    }
    return defaultTopic === null
      ? { rule: null, target: null }
      : { rule: "(default)", target: { topic: defaultTopic, key: encoder.encode(topic) } };
  };

  return {
    visibleTopics: [...visible],
    forward: (topic) => explainForward(topic).target,
    explainForward,
    sourceTopic(topic) {
      for (const p of reversePatterns) if (p.re.test(topic)) return p.topic;
      return explainForward(topic).target?.topic ?? null;
    },
    reverse(streamTopic, key) {
      const rule = reverseRules.get(streamTopic);
      if (rule) {
        const k = key ? decoder.decode(key) : "";
        const mqttTopic = rule.mqttTopic.replaceAll("{key}", k);
        return isValidMqttTopicName(mqttTopic) ? { mqttTopic, qos: rule.qos ?? 1 } : null;
      }
      if (streamTopic === defaultTopic && key && key.length > 0) {
        const mqttTopic = decoder.decode(key);
        return isValidMqttTopicName(mqttTopic) ? { mqttTopic, qos: 1 } : null;
      }
      return null;
    },
  };
}

/** `devices/{key}/commands` → /^devices\/(.*)\/commands$/ (repeated {key}s must be equal). */
function templatePattern(template: string): RegExp {
  const parts = template.split("{key}").map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"));
  return new RegExp(
    `^${parts[0]}${parts
      .slice(1)
      .map((p, i) => (i === 0 ? `(.*)${p}` : `\\1${p}`))
      .join("")}$`,
    "s",
  );
}

function invalid(message: string): EddyError {
  return new EddyError(ErrorCode.INVALID_CONFIG, `topic mapping: ${message}`);
}

function compileRule(rule: MappingRule): CompiledRule {
  if (!isValidMqttTopicFilter(rule.filter) || rule.filter.startsWith("$share/")) {
    throw invalid(`rule filter '${rule.filter}' is not a valid MQTT topic filter`);
  }
  validateTopicName(rule.topic);
  const levels = rule.filter.split("/");
  const pluses = levels.filter((l) => l === "+").length;
  const hasHash = levels.at(-1) === "#";
  const template = rule.key ?? "{topic}";
  const key: CompiledRule["key"] = [];
  const re = /\{([^}]*)\}/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    if (m.index > last) key.push({ literal: template.slice(last, m.index) });
    const name = m[1]!;
    if (name === "topic") key.push({ whole: true });
    else if (name === "#") {
      if (!hasHash) throw invalid(`rule '${rule.filter}': key uses {#} but the filter has no '#'`);
      key.push({ hash: true });
    } else if (/^[1-9][0-9]*$/.test(name) && Number(name) <= pluses) key.push({ plus: Number(name) - 1 });
    else
      throw invalid(
        `rule '${rule.filter}': key placeholder {${name}} is unknown: use {topic}, {#} or {1}..{${pluses}}`,
      );
    last = m.index + m[0].length;
  }
  if (last < template.length) key.push({ literal: template.slice(last) });
  return { filter: rule.filter, levels, topic: rule.topic, key };
}

interface Captured {
  plus: string[];
  hash: string;
}

function matchLevels(filter: string[], topic: string[], raw: string): Captured | null {
  if (raw.startsWith("$") && (filter[0] === "+" || filter[0] === "#")) return null;
  const plus: string[] = [];
  for (let i = 0; i < filter.length; i++) {
    const f = filter[i]!;
    if (f === "#") return { plus, hash: topic.slice(i).join("/") };
    if (i >= topic.length) return null;
    if (f === "+") plus.push(topic[i]!);
    else if (f !== topic[i]) return null;
  }
  return filter.length === topic.length ? { plus, hash: "" } : null;
}

function renderKey(rule: CompiledRule, captured: Captured, topic: string): Uint8Array | null {
  if (rule.key.length === 0) return null;
  let out = "";
  for (const part of rule.key) {
    if ("literal" in part) out += part.literal;
    else if ("whole" in part) out += topic;
    else if ("hash" in part) out += captured.hash;
    else out += captured.plus[part.plus] ?? "";
  }
  return encoder.encode(out);
}
