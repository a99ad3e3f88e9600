/**
 * Topic names and topic filters (MQTT 5.0 section 4.7, 3.1.1 section 4.7):
 * validation, matching with `+` and `#`, the `$`-topic rule, and shared
 * subscriptions `$share/{ShareName}/{filter}` (5.0 section 4.8.2).
 */
import { isValidMqttTopicFilter, isValidMqttTopicName } from "../../src/broker/index.ts";

/** A topic name in PUBLISH: non-empty, no wildcards [MQTT-3.3.2-2], no NUL [MQTT-1.5.4-2]. */
export const isValidTopicName: (topic: string) => boolean = isValidMqttTopicName;

/**
 * A topic filter: `#` only as the last level and alone in it [MQTT-4.7.1-2];
 * `+` alone in its level [MQTT-4.7.1-3]; non-empty [MQTT-4.7.3-1].
 */
export const isValidTopicFilter: (filter: string) => boolean = isValidMqttTopicFilter;

/**
 * Does `topic` match `filter`? Filters starting with a wildcard do not match
 * topics starting with `$` [MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === "#") return true; // "sport/#" also matches "sport" [MQTT-4.7.1-2]
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}

export interface ParsedFilter {
  /** The filter that topics are matched against (without the $share prefix). */
  filter: string;
  /** Share name for `$share/{group}/{filter}`, else null. */
  group: string | null;
}

/** Split a subscription's filter into group and filter; null when invalid. */
export function parseSubscriptionFilter(raw: string): ParsedFilter | null {
  if (!raw.startsWith("$share/")) return isValidTopicFilter(raw) ? { filter: raw, group: null } : null;
  const rest = raw.slice("$share/".length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return null;
  const group = rest.slice(0, slash);
  const filter = rest.slice(slash + 1);
  // ShareName must not contain "/", "+" or "#" [MQTT-4.8.2-2]; the filter must be valid [MQTT-4.8.2-1].
  if (group.includes("+") || group.includes("#")) return null;
  if (!isValidTopicFilter(filter)) return null;
  return { filter, group };
}
