/**
 * Topic resources of mapped topics: a CoAP topic whose name is an MQTT-style
 * topic (`sensors/dev1/temp`, it contains "/"). It is a view of the stream
 * topic the shared topic mapping names (see the README); its properties
 * (topic-content-format, max-subscribers, …) are kept under the mapped name.
 *
 * - POST to the collection with such a topic-name: the mapping must take it
 *   (4.04 otherwise); the stream topic is created if missing; a name with
 *   properties already → 4.09; `initialize` is published through the mapping.
 *   2.01 with Location-Path `<prefix>`, `<name>` (one segment).
 * - GET: its configuration (a topic the mapping takes exists implicitly).
 * - PUT / iPATCH: replace / merge its properties.
 * - DELETE: forget its properties and end its observations with 4.04; the
 *   stream topic and its records stay (other topics share them).
 */
import {
  type BrokerApi,
  EddyError,
  ErrorCode,
  isEddyError,
  isValidMqttTopicName,
} from "../../../src/broker/index.ts";
import { Code, OptionNumber } from "../codec/constants.ts";
import { stringOption } from "../codec/options.ts";
import type { ResponseSpec } from "../message-layer.ts";
import { badRequest, type CoapRequest, diagnostic } from "../request.ts";
import { mappedPublishHeaders } from "./records.ts";
import type { ParsedTopicConfig } from "./topic-config.ts";
import { dataPath, type TopicsContext, topicResponse, updateTopicConfig } from "./topics.ts";

/** Create a stream topic the mapping names, if it does not exist yet (remembered in `known`). */
export async function ensureStreamTopic(broker: BrokerApi, topic: string, known: Set<string>): Promise<void> {
  if (known.has(topic)) return;
  try {
    await broker.describeTopic(topic);
  } catch (err) {
    if (!isEddyError(err) || err.code !== ErrorCode.TOPIC_NOT_FOUND) throw err;
    try {
      await broker.createTopic({ name: topic });
    } catch (e) {
      if (!isEddyError(e) || e.code !== ErrorCode.TOPIC_EXISTS) throw e;
    }
  }
  known.add(topic);
}

function target(ctx: TopicsContext, name: string): { topic: string; key: Uint8Array | null } {
  if (!isValidMqttTopicName(name)) throw badRequest(`'${name}' is not a valid topic name (no +, # or NUL)`);
  const t = ctx.mapping.forward(name);
  if (!t) {
    throw new EddyError(
      ErrorCode.NOT_FOUND,
      `no topic mapping rule takes '${name}'; add a [[mqtt.rules]] entry for it`,
    );
  }
  if (t.topic.startsWith("__"))
    throw new EddyError(ErrorCode.FORBIDDEN, "internal topics (__*) are not reachable over CoAP");
  return t;
}

export async function createMappedTopic(
  ctx: TopicsContext & { ensured: Set<string> },
  _req: CoapRequest,
  cfg: ParsedTopicConfig & { name: string },
): Promise<ResponseSpec> {
  const name = cfg.name;
  const t = target(ctx, name);
  if (cfg.topicData !== undefined && cfg.topicData !== dataPath(ctx, name)) {
    throw badRequest(`this broker hosts topic data at ${dataPath(ctx, name)}`);
  }
  if (ctx.props.has(name)) throw new EddyError(ErrorCode.TOPIC_EXISTS, `topic '${name}' already exists`);
  await ensureStreamTopic(ctx.broker, t.topic, ctx.ensured);
  await ctx.props.set(name, cfg.props);
  if (cfg.initialize) {
    await ctx.publisher.publish(t.topic, {
      key: t.key,
      value: cfg.initialize,
      headers: mappedPublishHeaders(cfg.props.contentFormat, name, true),
    });
    ctx.fullyCreated.add(name);
  }
  return topicResponse(ctx, name, Code.CREATED, [
    stringOption(OptionNumber.LOCATION_PATH, ctx.prefix),
    stringOption(OptionNumber.LOCATION_PATH, name),
  ]);
}

export async function handleMappedTopic(
  ctx: TopicsContext,
  req: CoapRequest,
  name: string,
): Promise<ResponseSpec> {
  target(ctx, name);
  switch (req.method) {
    case Code.GET:
      return topicResponse(ctx, name, Code.CONTENT);
    case Code.PUT:
    case Code.IPATCH:
      return updateTopicConfig(ctx, req, name);
    case Code.DELETE:
      await ctx.props.delete(name);
      ctx.fullyCreated.delete(name);
      ctx.observe.cancelName(name, "the topic was deleted");
      return { code: Code.DELETED };
    default:
      return diagnostic(Code.METHOD_NOT_ALLOWED, "a topic supports GET, PUT, iPATCH and DELETE");
  }
}
