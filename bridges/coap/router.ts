/**
 * The request pipeline between the message layer and the resources:
 * rate limit (4.29) → Echo bookkeeping → Block1 reassembly → route →
 * Block2 slicing → amplification guard (4.01 + Echo for unverified sources).
 *
 * Routes: `/.well-known/core`, `/<prefix>` (topic collection),
 * `/<prefix>/<topic>` (topic), `/<prefix>/data/<topic>` (topic data),
 * `/<prefix>/data/<level>/<level>/…` (the topic data of a mapped topic
 * `<level>/<level>/…`, through the shared topic mapping; a single Uri-Path
 * segment that contains "/" names a mapped topic too).
 * A topic whose expiration-date has passed is removed before the request is
 * served (and by a periodic sweep, resources/topic-expiry.ts).
 */
import type { BrokerApi, TopicMapping } from "../../src/broker/index.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { Clock } from "../../src/util/clock.ts";
import type { EchoVerifier, RateLimiter } from "./abuse.ts";
import { type Block1Assembler, block1Final, sliceBlock2 } from "./block.ts";
import { Code, OptionNumber } from "./codec/constants.ts";
import { encodedSize } from "./codec/encode.ts";
import type { InboundRequest, ResponseSpec } from "./message-layer.ts";
import type { ObserveManager } from "./observe.ts";
import type { PublishBatcher } from "./publish-batcher.ts";
import { type CoapRequest, diagnostic, errorResponse, toRequest } from "./request.ts";
import { wellKnownCore } from "./resources/discovery.ts";
import type { TopicPropsStore } from "./resources/topic-props-store.ts";
import { handleTopicData, mappedResource, streamResource } from "./resources/topic-data.ts";
import { EXPIRED_REASON, TopicExpiry } from "./resources/topic-expiry.ts";
import { handleCollection, handleTopic, removeTopic } from "./resources/topics.ts";
import type { Timers } from "../../src/util/timers.ts";

/** Critical options the router understands (elective ones need no listing). */
export const KNOWN_CRITICAL_OPTIONS: ReadonlySet<number> = new Set([
  OptionNumber.URI_HOST,
  OptionNumber.URI_PORT,
  OptionNumber.URI_PATH,
  OptionNumber.URI_QUERY,
  OptionNumber.ACCEPT,
  OptionNumber.BLOCK1,
  OptionNumber.BLOCK2,
]);

export interface RouterOptions {
  broker: BrokerApi;
  logger: Logger;
  prefix: string;
  props: TopicPropsStore;
  observe: ObserveManager;
  publisher: PublishBatcher;
  mapping: TopicMapping;
  maxMappedScan: number;
  blocks: Block1Assembler;
  rate: RateLimiter | undefined;
  echo: EchoVerifier | undefined;
  maxBlockSzx: number;
  maxHistoryRecords: number;
  maxHistoryBytes: number;
  onRateLimited?(): void;
  clock: Clock;
  timers: Timers;
  /** Period of the topic expiry sweep. Default 1000 ms. */
  expiryCheckMs?: number;
}

export interface Router {
  handle(req: InboundRequest): Promise<ResponseSpec>;
  readonly expiry: TopicExpiry;
  close(): void;
}

export function createRouter(o: RouterOptions): Router {
  const fullyCreated = new Set<string>();
  const ensured = new Set<string>();
  const data = { ...o, fullyCreated, ensured };
  const topics = { ...o, fullyCreated, ensured };
  const expiry = new TopicExpiry({
    props: o.props,
    clock: o.clock,
    timers: o.timers,
    logger: o.logger,
    intervalMs: o.expiryCheckMs,
    remove: (name, reason) => removeTopic(topics, name, reason),
  });
  expiry.start();

  /** The topic (or mapped topic) a path names, if any. */
  function topicOf([a, b, c, ...rest]: string[]): string | undefined {
    if (a !== o.prefix || b === undefined) return undefined;
    if (b !== "data") return b;
    return c === undefined ? undefined : [c, ...rest].join("/");
  }

  async function route(req: CoapRequest): Promise<ResponseSpec> {
    const name = topicOf(req.path);
    if (name !== undefined && expiry.expired(name)) {
      await expiry.expire(name);
      return diagnostic(Code.NOT_FOUND, EXPIRED_REASON);
    }
    const [a, b, c, ...rest] = req.path;
    if (a === ".well-known" && b === "core" && c === undefined)
      return wellKnownCore(o.broker, o.props, o.prefix, req, o.mapping);
    if (a === o.prefix && b === "data" && c !== undefined && (rest.length > 0 || c.includes("/"))) {
      const res = mappedResource(o.mapping, [c, ...rest].join("/"));
      if (res.topic.startsWith("__"))
        return diagnostic(Code.FORBIDDEN, "internal topics (__*) are not reachable over CoAP");
      return handleTopicData(data, req, res);
    }
    if (a !== o.prefix || rest.length > 0)
      return diagnostic(Code.NOT_FOUND, `no such resource; try GET /.well-known/core`);
    if (b?.startsWith("__") || (b === "data" && c?.startsWith("__")))
      return diagnostic(Code.FORBIDDEN, "internal topics (__*) are not reachable over CoAP");
    if (b === undefined) return handleCollection(topics, req);
    if (b === "data" && c !== undefined) return handleTopicData(data, req, streamResource(c));
    if (c === undefined) return handleTopic(topics, req, b);
    return diagnostic(Code.NOT_FOUND, "no such resource; try GET /.well-known/core");
  }

  const handle = async ({ peer, message }: InboundRequest): Promise<ResponseSpec> => {
    const wait = o.rate?.take(peer) ?? 0;
    if (wait > 0) {
      o.onRateLimited?.();
      return o.rate!.tooMany(wait);
    }
    o.echo?.observeRequest(peer, message.options);
    const body = o.blocks.accept(peer, message);
    if (!body.done) return body.response;
    const req = toRequest(peer, message, body.payload);
    let res: ResponseSpec;
    try {
      res = await route(req);
    } catch (err) {
      res = errorResponse(err);
    }
    if (body.option) res = { ...res, options: [...(res.options ?? []), block1Final(body.option)] };
    res = sliceBlock2(message, res, o.maxBlockSzx);
    const guard = o.echo?.guard(peer, encodedSize(message), res);
    if (guard) {
      if (req.observe === 0) o.observe.deregister(peer, message.token);
      return guard;
    }
    return res;
  };
  return { handle, expiry, close: () => expiry.close() };
}
