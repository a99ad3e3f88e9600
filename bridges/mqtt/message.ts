/**
 * An application message as the bridge handles it, and its record form.
 *
 * Record headers (the contract with Kafka/HTTP consumers of MQTT data):
 *   mqtt.topic            the MQTT topic name (UTF-8)
 *   mqtt.qos              "0" | "1" | "2" — the QoS it was published with
 *   mqtt.retain           "1" | "0"
 *   mqtt.client-id        the publishing client (used for no-local)
 *   mqtt.content-type     v5 Content Type
 *   mqtt.payload-format   "1" when the payload is declared UTF-8
 *   mqtt.response-topic   v5 Response Topic
 *   mqtt.correlation-data v5 Correlation Data (bytes)
 *   mqtt.message-expiry   v5 Message Expiry Interval in seconds, counted from the record timestamp
 *   <name>                each v5 User Property, verbatim; names starting with
 *                         "mqtt." are stored as "mqtt.user.<name>"
 * Every other header on a record (e.g. one set by a Kafka producer) becomes a
 * User Property when the record is delivered over MQTT 5.
 */
import {
  MAPPING_HEADERS,
  type RecordHeader,
  type RecordInput,
  type StoredRecord,
} from "../../src/broker/index.ts";
import type { TopicMapping } from "./mapping.ts";
import type { WireCache } from "./publish-encoder.ts";

export type QoS = 0 | 1 | 2;

export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  /** Publishing client id; null for records from other frontends. */
  clientId: string | null;
  /** Milliseconds since the epoch (the record timestamp). */
  timestamp: number;
  contentType?: string;
  payloadFormatUtf8?: boolean;
  responseTopic?: string;
  correlationData?: Uint8Array;
  /** Seconds from `timestamp`. */
  messageExpiry?: number;
  userProperties: Array<[string, string]>;
  /** Encoded forms for delivery, filled in by publish-encoder.ts (messages are shared between sessions). */
  wire?: WireCache;
}

/** The header names (shared with the CoAP bridge through the broker's topic mapping). */
export const H = MAPPING_HEADERS;

const USER_PREFIX = "mqtt.user.";
const enc = new TextEncoder();
const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);

const str = (key: string, value: string): RecordHeader => ({ key, value: enc.encode(value) });

/** Header values that repeat on every record, encoded once. */
const QOS_VALUES = [enc.encode("0"), enc.encode("1"), enc.encode("2")] as const;
const RETAIN_VALUES = [enc.encode("0"), enc.encode("1")] as const;
let lastClientId = "";
let lastClientIdBytes = enc.encode("");

export function messageHeaders(msg: MqttMessage): RecordHeader[] {
  const headers: RecordHeader[] = [
    str(H.TOPIC, msg.topic),
    { key: H.QOS, value: QOS_VALUES[msg.qos] },
    { key: H.RETAIN, value: RETAIN_VALUES[msg.retain ? 1 : 0] },
  ];
  if (msg.clientId !== null) {
    if (msg.clientId !== lastClientId) {
      lastClientId = msg.clientId;
      lastClientIdBytes = enc.encode(msg.clientId);
    }
    headers.push({ key: H.CLIENT_ID, value: lastClientIdBytes });
  }
  if (msg.contentType !== undefined) headers.push(str(H.CONTENT_TYPE, msg.contentType));
  if (msg.payloadFormatUtf8) headers.push(str(H.PAYLOAD_FORMAT, "1"));
  if (msg.responseTopic !== undefined) headers.push(str(H.RESPONSE_TOPIC, msg.responseTopic));
  if (msg.correlationData !== undefined)
    headers.push({ key: H.CORRELATION_DATA, value: msg.correlationData });
  if (msg.messageExpiry !== undefined) headers.push(str(H.MESSAGE_EXPIRY, String(msg.messageExpiry)));
  for (const [name, value] of msg.userProperties) {
    headers.push(str(name.startsWith("mqtt.") ? USER_PREFIX + name : name, value));
  }
  return headers;
}

/** The record for a message: key from the mapping, value = payload, headers as above. */
export function messageToRecord(msg: MqttMessage, key: Uint8Array | null): RecordInput {
  return { key, value: msg.payload, headers: messageHeaders(msg), timestamp: msg.timestamp };
}

/**
 * The MQTT view of a record on `streamTopic`, or null when it is not
 * MQTT-visible (no `mqtt.topic` header and no reverse rule for it).
 */
export function recordToMessage(
  record: StoredRecord,
  streamTopic: string,
  mapping: TopicMapping,
): MqttMessage | null {
  let topic: string | null = null;
  let qos: QoS | null = null;
  const msg: MqttMessage = {
    topic: "",
    payload: record.value ?? EMPTY,
    qos: 0,
    retain: false,
    clientId: null,
    timestamp: record.timestamp,
    userProperties: [],
  };
  for (const h of record.headers) {
    const v = h.value ?? EMPTY;
    switch (h.key) {
      case H.TOPIC:
        topic = dec.decode(v);
        break;
      case H.QOS: {
        const q = v.length === 1 ? v[0]! - 0x30 : -1; // "0" | "1" | "2"
        qos = q === 0 || q === 1 || q === 2 ? q : 0;
        break;
      }
      case H.RETAIN:
        msg.retain = v.length === 1 && v[0] === 0x31; // "1"
        break;
      case H.CLIENT_ID:
        msg.clientId = dec.decode(v);
        break;
      case H.CONTENT_TYPE:
        msg.contentType = dec.decode(v);
        break;
      case H.PAYLOAD_FORMAT:
        msg.payloadFormatUtf8 = dec.decode(v) === "1";
        break;
      case H.RESPONSE_TOPIC:
        msg.responseTopic = dec.decode(v);
        break;
      case H.CORRELATION_DATA:
        msg.correlationData = v;
        break;
      case H.MESSAGE_EXPIRY: {
        const s = Number(dec.decode(v));
        if (Number.isSafeInteger(s) && s >= 0) msg.messageExpiry = s;
        break;
      }
      default: {
        const name = h.key.startsWith(USER_PREFIX) ? h.key.slice(USER_PREFIX.length) : h.key;
        msg.userProperties.push([name, dec.decode(v)]);
      }
    }
  }
  if (topic === null) {
    const target = mapping.reverse(streamTopic, record.key);
    if (!target) return null;
    topic = target.mqttTopic;
    qos ??= target.qos;
  }
  msg.topic = topic;
  msg.qos = qos ?? 0;
  return msg;
}

/** mqtt-packet's user-property object ↔ ordered pairs. */
export function fromUserProperties(
  props: Record<string, string | string[]> | undefined,
): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!props) return out;
  for (const [k, v] of Object.entries(props)) {
    if (Array.isArray(v)) for (const x of v) out.push([k, x]);
    else out.push([k, v]);
  }
  return out;
}

export function toUserProperties(
  pairs: Array<[string, string]>,
): Record<string, string | string[]> | undefined {
  if (pairs.length === 0) return undefined;
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}
