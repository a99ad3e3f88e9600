/**
 * The topic collection `/<prefix>` (rt="core.ps.coll") and topic resources
 * `/<prefix>/<topic>` (rt="core.ps.conf"), draft-ietf-core-coap-pubsub-21 §2.4, §2.5.
 * Stream topics are the pub/sub topics; a topic's URI is `/<prefix>/<name>`
 * and its topic-data URI `/<prefix>/data/<name>`.
 *
 * - GET collection: links to topic resources (link-format); `?rt=core.ps.data`
 *   lists the topic-data resources instead (§2.3.4, MUST).
 * - POST collection: create a topic from a core-pubsub+cbor map; topic-name
 *   and resource-type ("core.ps.data") required; a name in use → 4.09;
 *   `initialize` publishes the initial representation. 2.01 with Location-Path.
 * - GET topic: its representation; PUT replaces, iPATCH merges the optional
 *   properties (name, topic-data and resource-type cannot change); DELETE
 *   deletes the stream topic and ends its observations with 4.04.
 * A topic-name containing "/" is a mapped topic (`sensors/dev1/temp`, see
 * mapped-topics.ts and the README): its topic resource is `/<prefix>/<name>`
 * with the name in one Uri-Path segment (`/ps/sensors%2Fdev1%2Ftemp`), its
 * topic data `/<prefix>/data/sensors/dev1/temp`.
 * - FETCH collection: the topics whose properties match a CBOR filter (topic-filter.ts).
 * - expiration-date: an expired topic is removed as by DELETE (topic-expiry.ts).
 * Not yet: FETCH on a topic resource.
 */
import {
  type BrokerApi,
  EddyError,
  ErrorCode,
  isEddyError,
  type TopicMapping,
  validateTopicName,
} from "../../../src/broker/index.ts";
import { Code, ContentFormat, OptionNumber } from "../codec/constants.ts";
import { stringOption, uintOption } from "../codec/options.ts";
import type { ResponseSpec } from "../message-layer.ts";
import type { ObserveManager } from "../observe.ts";
import type { PublishBatcher } from "../publish-batcher.ts";
import { badRequest, type CoapRequest, diagnostic } from "../request.ts";
import { filterLinks, linkResponse, topicLinks } from "./discovery.ts";
import { createMappedTopic, handleMappedTopic } from "./mapped-topics.ts";
import { publishHeaders } from "./records.ts";
import { encodeTopicConfig, parseTopicConfig, RT_DATA } from "./topic-config.ts";
import { fetchTopics } from "./topic-filter.ts";
import type { TopicPropsStore } from "./topic-props-store.ts";

export interface TopicsContext {
  broker: BrokerApi;
  props: TopicPropsStore;
  observe: ObserveManager;
  publisher: PublishBatcher;
  prefix: string;
  mapping: TopicMapping;
  fullyCreated: Set<string>;
  /** Stream topics known to exist (mapped topics create theirs on first use). */
  ensured: Set<string>;
}

export const dataPath = (ctx: TopicsContext, name: string) => `/${ctx.prefix}/data/${name}`;

export function requirePubsubCbor(req: CoapRequest): void {
  if (
    req.contentFormat !== undefined &&
    req.contentFormat !== ContentFormat.CORE_PUBSUB_CBOR &&
    req.contentFormat !== ContentFormat.CBOR
  ) {
    throw new EddyError(
      ErrorCode.UNSUPPORTED_FORMAT,
      `send application/core-pubsub+cbor (${ContentFormat.CORE_PUBSUB_CBOR})`,
    );
  }
}

export async function handleCollection(ctx: TopicsContext, req: CoapRequest): Promise<ResponseSpec> {
  if (req.method === Code.GET) {
    const { topics, data } = await topicLinks(ctx.broker, ctx.props, ctx.prefix, ctx.mapping);
    if (req.query.get("rt") === RT_DATA) return linkResponse(data);
    return linkResponse(filterLinks(topics, req.query));
  }
  if (req.method === Code.FETCH) return fetchTopics(ctx, req);
  if (req.method !== Code.POST)
    return diagnostic(Code.METHOD_NOT_ALLOWED, "the topic collection supports GET, FETCH and POST");
  requirePubsubCbor(req);
  const cfg = parseTopicConfig(req.payload);
  if (cfg.name === undefined || cfg.resourceType === undefined)
    throw badRequest("topic-name (0) and resource-type (2) are required");
  if (cfg.resourceType !== RT_DATA) throw badRequest(`resource-type must be "${RT_DATA}"`);
  if (cfg.name.includes("/")) return createMappedTopic(ctx, req, { ...cfg, name: cfg.name });
  validateTopicName(cfg.name);
  if (cfg.topicData !== undefined && cfg.topicData !== dataPath(ctx, cfg.name)) {
    throw badRequest(`this broker hosts topic data at ${dataPath(ctx, cfg.name)}`);
  }
  await ctx.broker.createTopic({ name: cfg.name });
  await ctx.props.set(cfg.name, cfg.props);
  if (cfg.initialize) {
    await ctx.broker.produce({
      topic: cfg.name,
      records: [{ value: cfg.initialize, headers: publishHeaders(cfg.props.contentFormat) }],
      acks: -1,
    });
    ctx.fullyCreated.add(cfg.name);
  }
  return topicResponse(ctx, cfg.name, Code.CREATED, [
    stringOption(OptionNumber.LOCATION_PATH, ctx.prefix),
    stringOption(OptionNumber.LOCATION_PATH, cfg.name),
  ]);
}

export function topicResponse(
  ctx: TopicsContext,
  name: string,
  code: number,
  extra: ResponseSpec["options"] = [],
): ResponseSpec {
  return {
    code,
    options: [...(extra ?? []), uintOption(OptionNumber.CONTENT_FORMAT, ContentFormat.CORE_PUBSUB_CBOR)],
    payload: encodeTopicConfig(name, dataPath(ctx, name), ctx.props.get(name)),
  };
}

/**
 * PUT (replace) or iPATCH (merge) the optional properties of topic `name`;
 * its name, topic-data and resource-type cannot change. 2.04 with the new
 * representation.
 */
export async function updateTopicConfig(
  ctx: TopicsContext,
  req: CoapRequest,
  name: string,
): Promise<ResponseSpec> {
  requirePubsubCbor(req);
  const cfg = parseTopicConfig(req.payload);
  if (cfg.name !== undefined && cfg.name !== name) throw badRequest("topic-name cannot change");
  if (cfg.topicData !== undefined && cfg.topicData !== dataPath(ctx, name))
    throw badRequest("topic-data cannot change");
  if (cfg.resourceType !== undefined && cfg.resourceType !== RT_DATA)
    throw badRequest(`resource-type must be "${RT_DATA}"`);
  if (cfg.initialize) throw badRequest("initialize is only accepted at creation");
  await ctx.props.set(name, req.method === Code.PUT ? cfg.props : { ...ctx.props.get(name), ...cfg.props });
  return topicResponse(ctx, name, Code.CHANGED);
}

export async function handleTopic(ctx: TopicsContext, req: CoapRequest, name: string): Promise<ResponseSpec> {
  if (name.includes("/")) return handleMappedTopic(ctx, req, name);
  await ctx.broker.describeTopic(name); // TOPIC_NOT_FOUND → 4.04
  switch (req.method) {
    case Code.GET:
      return topicResponse(ctx, name, Code.CONTENT);
    case Code.PUT:
    case Code.IPATCH:
      return updateTopicConfig(ctx, req, name);
    case Code.DELETE:
      await removeTopic(ctx, name, "the topic was deleted");
      return { code: Code.DELETED };
    default:
      return diagnostic(Code.METHOD_NOT_ALLOWED, "a topic supports GET, PUT, iPATCH and DELETE");
  }
}

/**
 * Remove a topic as DELETE does (also on expiry): a stream topic is deleted with
 * its records; a mapped topic (name with "/") only forgets its properties. Its
 * observers get a final 4.04 with `reason`.
 */
export async function removeTopic(ctx: TopicsContext, name: string, reason: string): Promise<void> {
  if (!name.includes("/")) {
    try {
      await ctx.broker.deleteTopic(name);
    } catch (err) {
      if (!isEddyError(err) || err.code !== ErrorCode.TOPIC_NOT_FOUND) throw err;
    }
  }
  await ctx.props.delete(name);
  ctx.fullyCreated.delete(name);
  if (name.includes("/")) {
    ctx.observe.cancelName(name, reason);
    return;
  }
  ctx.ensured.delete(name);
  ctx.publisher.forget(name);
  ctx.observe.cancelTopic(name, reason);
}
