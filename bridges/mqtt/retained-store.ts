/**
 * Retained messages (MQTT 5.0 section 3.3.1.3): the latest per topic, kept in
 * the compacted topic __mqtt_retained (key = MQTT topic, value = payload,
 * headers = message headers). A zero-byte payload removes it
 * [MQTT-3.3.1-6][MQTT-3.3.1-7] and is stored as a tombstone. The current set
 * is also held in memory for matching on SUBSCRIBE.
 */
import type { BrokerApi, RecordInput } from "../../src/broker/index.ts";
import { loadLatest, RETAINED_TOPIC } from "./internal-topics.ts";
import type { TopicMapping } from "./mapping.ts";
import { type MqttMessage, messageHeaders, recordToMessage } from "./message.ts";
import { topicMatches } from "./topic-filter.ts";

const enc = new TextEncoder();

export class RetainedStore {
  private readonly messages = new Map<string, MqttMessage>();

  constructor(private readonly broker: BrokerApi) {}

  get size(): number {
    return this.messages.size;
  }

  async load(mapping: TopicMapping): Promise<void> {
    for (const record of (await loadLatest(this.broker, RETAINED_TOPIC)).values()) {
      const msg = recordToMessage(record, RETAINED_TOPIC, mapping);
      if (msg) this.messages.set(msg.topic, { ...msg, retain: true });
    }
  }

  /** The record that stores (or clears) `msg` as the retained message of its topic. */
  record(msg: MqttMessage): RecordInput {
    if (msg.payload.length === 0)
      return { key: enc.encode(msg.topic), value: null, timestamp: msg.timestamp };
    return {
      key: enc.encode(msg.topic),
      value: msg.payload,
      headers: messageHeaders(msg),
      timestamp: msg.timestamp,
    };
  }

  /** Apply after the record is durable. */
  apply(msg: MqttMessage): void {
    if (msg.payload.length === 0) this.messages.delete(msg.topic);
    // Copied: an inbound payload is a view into the connection's read buffer (framing.ts).
    else this.messages.set(msg.topic, { ...msg, payload: msg.payload.slice(), retain: true });
  }

  /** Retained messages matching a filter, oldest topic first; expired ones are dropped. */
  match(filter: string, now: number): MqttMessage[] {
    const out: MqttMessage[] = [];
    for (const [topic, msg] of this.messages) {
      if (msg.messageExpiry !== undefined && msg.timestamp + msg.messageExpiry * 1000 <= now) {
        this.messages.delete(topic);
        continue;
      }
      if (topicMatches(filter, topic)) out.push(msg);
    }
    return out;
  }
}
