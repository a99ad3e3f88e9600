/**
 * FETCH on the topic collection (draft-ietf-core-coap-pubsub-21 §2.4.2, RFC 8132):
 * the payload is an application/core-pubsub+cbor map of topic properties; the
 * answer lists, in link format, the topic resources whose properties equal every
 * property given (topic-name, topic-data, resource-type, topic-content-format,
 * topic-type, expiration-date, max-subscribers, observer-check). An empty map
 * matches every topic; unknown keys and `initialize` are refused with 4.00.
 */
import { Code } from "../codec/constants.ts";
import type { ResponseSpec } from "../message-layer.ts";
import { badRequest, type CoapRequest } from "../request.ts";
import { linkResponse, topicLinks } from "./discovery.ts";
import { type ParsedTopicConfig, parseTopicConfig, RT_DATA, type TopicProps } from "./topic-config.ts";
import { dataPath, requirePubsubCbor, type TopicsContext } from "./topics.ts";

const PROP_KEYS = [
  "contentFormat",
  "topicType",
  "expirationDate",
  "maxSubscribers",
  "observerCheck",
] as const satisfies ReadonlyArray<keyof TopicProps>;

/** Does a topic with this name and these properties match the filter? */
export function topicMatches(
  ctx: Pick<TopicsContext, "prefix">,
  name: string,
  props: TopicProps,
  filter: ParsedTopicConfig,
): boolean {
  if (filter.name !== undefined && filter.name !== name) return false;
  if (filter.topicData !== undefined && filter.topicData !== dataPath(ctx as TopicsContext, name))
    return false;
  if (filter.resourceType !== undefined && filter.resourceType !== RT_DATA) return false;
  return PROP_KEYS.every((k) => filter.props[k] === undefined || filter.props[k] === props[k]);
}

export async function fetchTopics(ctx: TopicsContext, req: CoapRequest): Promise<ResponseSpec> {
  if (req.method !== Code.FETCH) throw badRequest("fetchTopics serves FETCH only");
  requirePubsubCbor(req);
  const filter = req.payload.length === 0 ? { props: {} } : parseFilter(req.payload);
  const { topics } = await topicLinks(ctx.broker, ctx.props, ctx.prefix, ctx.mapping);
  const head = `/${ctx.prefix}/`;
  return linkResponse(
    topics.filter((l) => {
      const name = decodeURIComponent(l.href.slice(head.length));
      return topicMatches(ctx, name, ctx.props.get(name), filter);
    }),
  );
}

function parseFilter(payload: Uint8Array): ParsedTopicConfig {
  const f = parseTopicConfig(payload);
  if (f.initialize) throw badRequest("initialize cannot be used in a FETCH filter");
  return f;
}
