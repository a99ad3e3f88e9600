/**
 * Topic mapping: where an MQTT PUBLISH lands in the log, and which stream
 * records reach MQTT subscribers.
 *
 * Forward rules (first match wins) map an MQTT topic filter onto a stream
 * topic and a record key template:
 *   { filter: "sensors/+/temp", topic: "telemetry", key: "{1}" }
 * Key templates: `{topic}` = the whole MQTT topic, `{1}`, `{2}`… = the value of
 * the first, second… `+` level, `{#}` = the levels matched by `#`; other text is
 * literal; an empty template means no key (round-robin partitioning).
 *
 * Default (zero-config): every MQTT topic not matched by a rule goes to stream
 * topic `mqtt`, keyed by the MQTT topic — so one MQTT topic stays in one
 * partition and keeps its order. `defaultTopic: null` refuses unmatched topics.
 *
 * Reverse rules map records that did not come from MQTT (no `mqtt.topic`
 * header; produced over HTTP, Kafka, the CLI) onto an MQTT topic:
 *   { topic: "commands", mqttTopic: "devices/{key}/commands", qos: 1 }
 * The default topic is reversible by construction: a record on `mqtt` with key
 * K is MQTT topic K. Records that came from MQTT carry their topic in the
 * `mqtt.topic` header and are delivered under it whichever stream topic holds them.
 */
import { EddyError, ErrorCode, validateTopicName } from "../../src/broker/index.ts";
import { isValidTopicFilter, isValidTopicName } from "./topic-filter.ts";

export interface MappingRule {
  /** MQTT topic filter (`+`, `#` allowed). */
  filter: string;
  /** Stream topic the records go to. */
  topic: string;
  /** Record key template; default `{topic}`. */
  key?: string;
}

export interface ReverseRule {
  /** Stream topic whose records are delivered to MQTT subscribers. */
  topic: string;
  /** MQTT topic template; `{key}` is replaced by the record key (UTF-8). */
  mqttTopic: string;
  /** QoS the records are offered at (capped by each subscription). Default 1. */
  qos?: 0 | 1 | 2;
}

export interface MqttMappingConfig {
  rules?: MappingRule[];
  reverse?: ReverseRule[];
  /** Stream topic for MQTT topics no rule matches; null refuses them. Default "mqtt". */
  defaultTopic?: string | null;
}

export const DEFAULT_STREAM_TOPIC = "mqtt";

export interface ForwardTarget {
  topic: string;
  key: Uint8Array | null;
}

export interface ReverseTarget {
  mqttTopic: string;
  qos: 0 | 1 | 2;
}

export interface TopicMapping {
  /** Where a PUBLISH to `mqttTopic` is stored; null when no rule takes it. */
  forward(mqttTopic: string): ForwardTarget | null;
  /** The MQTT topic of a record without an `mqtt.topic` header; null when not delivered. */
  reverse(streamTopic: string, key: Uint8Array | null): ReverseTarget | null;
  /** Every stream topic MQTT subscribers can receive from. */
  readonly visibleTopics: readonly string[];
}

interface CompiledRule {
  levels: string[];
  topic: string;
  key: Array<{ literal: string } | { plus: number } | { hash: true } | { whole: true }>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function compileMapping(config: MqttMappingConfig = {}): TopicMapping {
  const defaultTopic = config.defaultTopic === undefined ? DEFAULT_STREAM_TOPIC : config.defaultTopic;
  if (defaultTopic !== null) validateTopicName(defaultTopic);
  const rules = (config.rules ?? []).map(compileRule);
  const reverseRules = new Map<string, ReverseRule>();
  for (const r of config.reverse ?? []) {
    validateTopicName(r.topic);
    if (!r.mqttTopic || !isValidTopicName(r.mqttTopic.replaceAll("{key}", "k"))) {
      throw invalid(`reverse rule for '${r.topic}': mqttTopic '${r.mqttTopic}' is not a valid MQTT topic`);
    }
    if (reverseRules.has(r.topic)) throw invalid(`reverse rule for '${r.topic}' is given twice: keep one`);
    reverseRules.set(r.topic, r);
  }
  const visible = new Set<string>();
  if (defaultTopic !== null) visible.add(defaultTopic);
  for (const r of rules) visible.add(r.topic);
  for (const t of reverseRules.keys()) visible.add(t);

  return {
    visibleTopics: [...visible],
    forward(mqttTopic) {
      const levels = mqttTopic.split("/");
      for (const rule of rules) {
        const captured = matchLevels(rule.levels, levels, mqttTopic);
        if (captured) return { topic: rule.topic, key: renderKey(rule, captured, mqttTopic) };
      }
      return defaultTopic === null ? null : { topic: defaultTopic, key: encoder.encode(mqttTopic) };
    },
    reverse(streamTopic, key) {
      const rule = reverseRules.get(streamTopic);
      if (rule) {
        const k = key ? decoder.decode(key) : "";
        const mqttTopic = rule.mqttTopic.replaceAll("{key}", k);
        return isValidTopicName(mqttTopic) ? { mqttTopic, qos: rule.qos ?? 1 } : null;
      }
      if (streamTopic === defaultTopic && key && key.length > 0) {
        const mqttTopic = decoder.decode(key);
        return isValidTopicName(mqttTopic) ? { mqttTopic, qos: 1 } : null;
      }
      return null;
    },
  };
}

function invalid(message: string): EddyError {
  return new EddyError(ErrorCode.INVALID_CONFIG, `mqtt mapping: ${message}`);
}

function compileRule(rule: MappingRule): CompiledRule {
  if (!isValidTopicFilter(rule.filter) || rule.filter.startsWith("$share/")) {
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
  return { levels, topic: rule.topic, key };
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

function renderKey(rule: CompiledRule, captured: Captured, mqttTopic: string): Uint8Array | null {
  if (rule.key.length === 0) return null;
  let out = "";
  for (const part of rule.key) {
    if ("literal" in part) out += part.literal;
    else if ("whole" in part) out += mqttTopic;
    else if ("hash" in part) out += captured.hash;
    else out += captured.plus[part.plus] ?? "";
  }
  return encoder.encode(out);
}
