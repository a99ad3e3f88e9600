/**
 * Topic properties of draft-ietf-core-coap-pubsub-21 §2.2.1 / §6 (CBOR keys
 * 0..8), their CBOR encoding, and the bridge's store of them. Every stream
 * topic is a pub/sub topic; the properties a client set over CoAP are kept
 * by TopicPropsStore (topic-props-store.ts).
 */
import { type CborValue, decodeCbor, encodeCbor } from "../codec/cbor.ts";
import { badRequest } from "../request.ts";

export const TopicProperty = {
  TOPIC_NAME: 0,
  TOPIC_DATA: 1,
  RESOURCE_TYPE: 2,
  TOPIC_CONTENT_FORMAT: 3,
  TOPIC_TYPE: 4,
  EXPIRATION_DATE: 5,
  MAX_SUBSCRIBERS: 6,
  OBSERVER_CHECK: 7,
  INITIALIZE: 8,
} as const;

export const RT_COLLECTION = "core.ps.coll";
export const RT_TOPIC = "core.ps.conf";
export const RT_DATA = "core.ps.data";

export interface TopicProps {
  contentFormat?: number;
  topicType?: string;
  /** Seconds since the epoch. */
  expirationDate?: number;
  maxSubscribers?: number;
  /** Seconds between CON notifications to each subscriber. */
  observerCheck?: number;
}

export interface ParsedTopicConfig {
  name?: string;
  topicData?: string;
  resourceType?: string;
  initialize?: Uint8Array;
  props: TopicProps;
}

const uint = (v: CborValue, what: string): number => {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    throw badRequest(`${what} must be an unsigned integer`);
  return v;
};
const text = (v: CborValue, what: string): string => {
  if (typeof v !== "string") throw badRequest(`${what} must be a text string`);
  return v;
};

/** Parse an application/core-pubsub+cbor topic representation; unknown keys are rejected (§2.4.3). */
export function parseTopicConfig(payload: Uint8Array): ParsedTopicConfig {
  const map = decodeCbor(payload);
  if (!(map instanceof Map)) throw badRequest("the topic representation must be a CBOR map");
  const out: ParsedTopicConfig = { props: {} };
  for (const [k, v] of map) {
    switch (k) {
      case TopicProperty.TOPIC_NAME:
        out.name = text(v, "topic-name");
        break;
      case TopicProperty.TOPIC_DATA:
        out.topicData = text(v, "topic-data");
        break;
      case TopicProperty.RESOURCE_TYPE:
        out.resourceType = text(v, "resource-type");
        break;
      case TopicProperty.TOPIC_CONTENT_FORMAT:
        out.props.contentFormat = uint(v, "topic-content-format");
        if (out.props.contentFormat > 0xffff) throw badRequest("topic-content-format must be below 65536");
        break;
      case TopicProperty.TOPIC_TYPE:
        out.props.topicType = text(v, "topic-type");
        break;
      case TopicProperty.EXPIRATION_DATE:
        if (typeof v !== "object" || v === null || !("tag" in v) || v.tag !== 1) {
          throw badRequest("expiration-date must be CBOR tag 1 (epoch seconds)");
        }
        out.props.expirationDate = uint(v.value, "expiration-date");
        break;
      case TopicProperty.MAX_SUBSCRIBERS:
        out.props.maxSubscribers = uint(v, "max-subscribers");
        break;
      case TopicProperty.OBSERVER_CHECK:
        out.props.observerCheck = uint(v, "observer-check");
        if (out.props.observerCheck === 0) throw badRequest("observer-check must be greater than 0");
        break;
      case TopicProperty.INITIALIZE:
        if (!(v instanceof Uint8Array)) throw badRequest("initialize must be a byte string");
        out.initialize = v;
        break;
      default:
        throw badRequest(`unknown topic property ${String(k)}`);
    }
  }
  if (out.initialize && out.props.contentFormat === undefined) {
    throw badRequest("initialize needs topic-content-format");
  }
  return out;
}

export function encodeTopicConfig(name: string, dataPath: string, props: TopicProps): Uint8Array {
  const m = new Map<number, CborValue>([
    [TopicProperty.TOPIC_NAME, name],
    [TopicProperty.TOPIC_DATA, dataPath],
    [TopicProperty.RESOURCE_TYPE, RT_DATA],
  ]);
  if (props.contentFormat !== undefined) m.set(TopicProperty.TOPIC_CONTENT_FORMAT, props.contentFormat);
  if (props.topicType !== undefined) m.set(TopicProperty.TOPIC_TYPE, props.topicType);
  if (props.expirationDate !== undefined)
    m.set(TopicProperty.EXPIRATION_DATE, { tag: 1, value: props.expirationDate });
  if (props.maxSubscribers !== undefined) m.set(TopicProperty.MAX_SUBSCRIBERS, props.maxSubscribers);
  if (props.observerCheck !== undefined) m.set(TopicProperty.OBSERVER_CHECK, props.observerCheck);
  return encodeCbor(m);
}

/** The optional properties alone (keys 3..7), as stored in the internal topic. */
export function encodeTopicProps(props: TopicProps): Uint8Array {
  const m = new Map<number, CborValue>();
  if (props.contentFormat !== undefined) m.set(TopicProperty.TOPIC_CONTENT_FORMAT, props.contentFormat);
  if (props.topicType !== undefined) m.set(TopicProperty.TOPIC_TYPE, props.topicType);
  if (props.expirationDate !== undefined)
    m.set(TopicProperty.EXPIRATION_DATE, { tag: 1, value: props.expirationDate });
  if (props.maxSubscribers !== undefined) m.set(TopicProperty.MAX_SUBSCRIBERS, props.maxSubscribers);
  if (props.observerCheck !== undefined) m.set(TopicProperty.OBSERVER_CHECK, props.observerCheck);
  return encodeCbor(m);
}
